package sync

// Bundles (sneakernet): the op streams of a session, in one file carried by hand to a
// station that never gets a link, or back from it. A station's bundle ("push") carries its
// feed after what the hub is known to hold; the hub's answer ("return") carries a receipt
// (how far it has durably applied the station's feed) and the station's scope streams. Both
// are encrypted to the recipient (age, X25519: the station knows the hub's recipient from
// its enrollment, the hub the station's) and signed by the sender's Ed25519 node key.
//
// File layout (BundleVersion 1), every part in this order:
//
//	magic     "FQBUNDLE", 8 bytes
//	version   1 byte: BundleVersion
//	hlen      uvarint: the header's length in bytes, 1 .. 64 KiB
//	header    msgpack [kind, from, to, created, epoch, ranges, ops], in plain text and
//	          holding no personal data:
//	            kind     "push" (station → hub) or "return" (hub → station)
//	            from     the sender's node id
//	            to       the recipient's node id
//	            created  ms since 1970, the sender's clock
//	            epoch    the sender's feed epoch
//	            ranges   [[stream, from, to], ...]: each stream carried, the body holding
//	                     its entries after position from, up to position to. A push has
//	                     one, the station's whole feed (stream ""); a return one per scope.
//	            ops      how many ops the body holds
//	body      age (X25519) encryption, to the recipient, of a sequence of frames, each a
//	          uvarint length (1 .. MaxFrameBytes) and that many bytes:
//	            batch frames exactly as in a session (see encodeBatch), numbered 1, 2, ...
//	            across the bundle, signed heads and all; then
//	            one trailer frame, last: msgpack [32, [[stream, epoch, pos], ...]], where
//	            the sender stands in the recipient's streams. A push lists the station's
//	            checkpoints of the hub's scope streams (where a return bundle should start);
//	            a return lists the receipt: the hub's checkpoint of the station's feed
//	            (stream "").
//	sig       64 bytes: the sender's Ed25519 signature over
//	          node.SessionMessage("bundle\x00" + sha256(every byte before sig)), made with
//	          Replica.SessionSignature. The "bundle" prefix keeps it from ever being taken
//	          for a handshake transcript's signature, and the other way round.
//
// Every declared length is checked against its limit and the bytes present before anything
// is allocated for it: the header against 64 KiB and the file's size, each frame against
// MaxFrameBytes and the body's size, and inside a frame as a session checks it.
//
// An importer reads and checks the header, knows the sender (a hub: an enrollment, not
// revoked; a station: its enrolled hub), and verifies the signature over the whole file
// before it decrypts or applies anything. Then it decrypts and applies each batch in order
// through the receiver a session uses (writer rule, receipt stamp and head checks at a hub;
// scoped streams at a station), each with its checkpoint, and finally takes the trailer.
// Checkpoints only move forward, and ops already held are duplicates: importing a bundle
// twice changes nothing, and an import cut short (a failed batch, a cancelled context)
// leaves whole batches applied, which importing the bundle again completes. The body is
// read twice (signature, then decryption); the second read is hashed too, and the trailer
// is taken only if it matches the first. An exporter holds the bundle's encoded batches
// in memory until it has written the header, which counts them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// BundleVersion is the bundle file format this build writes and reads.
const BundleVersion = 1

// Bundle kinds, as named in the header.
const (
	BundlePush   = "push"   // a station's feed, for its hub
	BundleReturn = "return" // a hub's answer: receipt and the station's scope streams
)

const (
	bundleMagic       = "FQBUNDLE"
	maxBundleHeader   = 64 << 10
	bundleRawBatch    = 1 << 20 // raw bytes per batch in a bundle: well below MaxFrameBytes
	codeBundleTrailer = 32      // first element of the trailer frame; no session frame uses it
	docBundlePos      = "bundlepos"
)

// ErrBundle marks a bundle refused: damaged, cut short, not for this node, from a sender
// this node does not know, of the wrong kind or format. Nothing of a bundle is applied
// when it is refused before its batches (every check but a failure of a batch itself).
var ErrBundle = errors.New("bundle refused")

// BundleOptions tune ExportBundle and ImportBundle.
type BundleOptions struct {
	// Peer is the other end. Exporting at a station it defaults to the enrolled hub and
	// must be it; exporting at a hub it names the enrolled station the return bundle is
	// for. Importing, when set, the bundle must come from it.
	Peer string
	// Now is the clock (the header's created time; receipt stamps at a hub). Default
	// time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Progress, when set, is called after each batch an export read or an import applied,
	// with the ops done so far and the total (the header's count on import; 0 on export,
	// where it is known only at the end). It shows a long hand-carried bundle moving.
	Progress func(done, total int)
}

func (o BundleOptions) withDefaults() BundleOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// BundleRange is one stream a bundle carries: its entries after From, up to To.
type BundleRange struct {
	Stream string `json:"stream"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
}

// BundleHeader is a bundle's plaintext header.
type BundleHeader struct {
	Kind    string
	From    string
	To      string
	Created int64 // ms
	Epoch   string
	Ranges  []BundleRange
	Ops     uint64
}

// BundleReport says what an export wrote or an import did.
type BundleReport struct {
	Kind        string        `json:"kind"`
	From        string        `json:"from"`
	To          string        `json:"to"`
	Created     time.Time     `json:"created"`
	Ranges      []BundleRange `json:"ranges"`
	Batches     int           `json:"batches"`
	Ops         int           `json:"ops"` // ops the bundle holds
	Applied     int           `json:"applied"`
	Duplicates  int           `json:"duplicates"`
	Pending     int           `json:"pending"`
	Quarantined int           `json:"quarantined"`
	// Receipt is, in a return bundle, how far the hub had durably applied the station's
	// feed; an import at the station advances its acked position to it.
	Receipt node.Checkpoint `json:"receipt,omitzero"`
	Bytes   int64           `json:"bytes"`
}

func reportOf(h *BundleHeader) BundleReport {
	return BundleReport{Kind: h.Kind, From: h.From, To: h.To, Created: time.UnixMilli(h.Created),
		Ranges: slices.Clone(h.Ranges)}
}

// ExportBundle writes a bundle for opts.Peer to w. When opts.Peer is a station enrolled at
// r (r is its hub) it is a return bundle, as Hub.ExportBundle writes; otherwise r must be
// an enrolled station and the bundle is a push for its hub: the station's feed after what
// the hub is known to hold (from the last session's acks or return bundle's receipt), with
// signed heads, and where the station stands in the hub's scope streams.
func ExportBundle(ctx context.Context, r Replica, w io.Writer, opts BundleOptions) (BundleReport, error) {
	opts = opts.withDefaults()
	if opts.Peer != "" {
		e, err := loadEnrollment(r, opts.Peer)
		if err == nil {
			return bundleHub(r, opts).exportReturn(ctx, w, e, opts.Progress)
		}
		if !errors.Is(err, node.ErrNotFound) {
			return BundleReport{}, err
		}
	}
	info, err := LoadHubInfo(r)
	if err != nil {
		if opts.Peer != "" {
			return BundleReport{}, fmt.Errorf("%w: %s is neither a station enrolled here nor this node's hub / 对端未登记", ErrBundle, opts.Peer)
		}
		return BundleReport{}, err
	}
	if opts.Peer != "" && opts.Peer != info.Hub {
		return BundleReport{}, fmt.Errorf("%w: this station's hub is %s, not %s / 对端不是本站的中心", ErrBundle, info.Hub, opts.Peer)
	}
	return exportPush(ctx, r, w, info, opts)
}

// ImportBundle imports the bundle in f (size bytes) into r: a push bundle when r is the
// hub of its sender (as Hub.ImportBundle), a return bundle when r is a station and the
// bundle comes from its hub. A refused bundle's error wraps ErrBundle.
func ImportBundle(ctx context.Context, r Replica, f io.ReaderAt, size int64, opts BundleOptions) (BundleReport, error) {
	opts = opts.withDefaults()
	b, err := openBundle(f, size)
	if err != nil {
		return BundleReport{}, err
	}
	b.progress = opts.Progress
	if opts.Peer != "" && b.hdr.From != opts.Peer {
		return reportOf(&b.hdr), fmt.Errorf("%w: the bundle comes from %s, not %s", ErrBundle, b.hdr.From, opts.Peer)
	}
	if b.hdr.Kind == BundlePush {
		return bundleHub(r, opts).importPush(ctx, b)
	}
	return importReturn(ctx, r, b, opts)
}

// ExportBundle writes a return bundle for station to w: the receipt (how far this hub has
// durably applied the station's feed) and each of the station's scope streams after the
// positions its last imported push bundle reported (from the start when none did).
func (h *Hub) ExportBundle(ctx context.Context, w io.Writer, station string) (BundleReport, error) {
	e, err := h.enrollment(station)
	if errors.Is(err, node.ErrNotFound) {
		return BundleReport{}, fmt.Errorf("%w: station %s is not enrolled at this hub / 该站点未登记", ErrBundle, station)
	}
	if err != nil {
		return BundleReport{}, err
	}
	return h.exportReturn(ctx, w, e, nil)
}

// ImportBundle imports a station's push bundle from f (size bytes): its batches through
// the checks of a session, then the positions it reports in its scope streams, which the
// next return bundle starts after. A refused bundle's error wraps ErrBundle.
func (h *Hub) ImportBundle(ctx context.Context, f io.ReaderAt, size int64) (BundleReport, error) {
	b, err := openBundle(f, size)
	if err != nil {
		return BundleReport{}, err
	}
	return h.importPush(ctx, b)
}

// ReadBundleHeader reads and checks the plaintext header of the bundle in f (size bytes):
// its magic, format version, structure and that the file is long enough to hold a body
// and a signature. It neither verifies the signature nor decrypts anything.
func ReadBundleHeader(f io.ReaderAt, size int64) (BundleHeader, error) {
	b, err := openBundle(f, size)
	if err != nil {
		return BundleHeader{}, err
	}
	return b.hdr, nil
}

// bundleHub is a hub view of r, for a hub replica without a running Hub.
func bundleHub(r Replica, opts BundleOptions) *Hub {
	return NewHub(HubConfig{Replica: r, Logger: opts.Logger, Now: opts.Now})
}

func loadEnrollment(r Replica, station string) (*Enrollment, error) {
	b, err := r.Doc(docEnrollment, station)
	if err != nil {
		return nil, err
	}
	return decodeEnrollment(b)
}

// --- export ---
