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
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
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
	maxStreamName     = 2 * maxIDLen
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
			return bundleHub(r, opts).exportReturn(ctx, w, e)
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
	return h.exportReturn(ctx, w, e)
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

func exportPush(ctx context.Context, r Replica, w io.Writer, info *HubInfo, opts BundleOptions) (BundleReport, error) {
	hub := info.Hub
	var after uint64
	switch cp, err := loadAcked(r, hub); {
	case err == nil && cp.Epoch == r.Epoch():
		after = cp.Pos
	case err != nil && !errors.Is(err, node.ErrNotFound):
		// From the start: the hub takes what it holds as duplicates.
		opts.Logger.Warn("acked position unreadable; the bundle starts from the beginning of the feed", "err", err)
	}
	var out bundleOut
	if err := out.drain(ctx, r, true, feedStream(r, hub, after)); err != nil {
		return BundleReport{}, err
	}
	var cps []streamCheckpoint
	for _, scope := range info.Scopes {
		cp, err := r.PeerCheckpoint(node.StreamName(hub, scope))
		if err != nil {
			return BundleReport{}, err
		}
		cps = append(cps, streamCheckpoint{Stream: scope, Epoch: cp.Epoch, Pos: cp.Pos})
	}
	hdr := BundleHeader{Kind: BundlePush, From: r.Origin().Node, To: hub, Created: opts.Now().UnixMilli(),
		Epoch: r.Epoch(), Ranges: out.ranges, Ops: uint64(out.ops)}
	return out.write(w, hdr, cps, info.Recipient, r.SessionSignature)
}

func (h *Hub) exportReturn(ctx context.Context, w io.Writer, e *Enrollment) (BundleReport, error) {
	if e.RevokedAt != 0 {
		return BundleReport{}, fmt.Errorf("%w: station %s was revoked / 该站点已被注销", ErrBundle, e.Station)
	}
	receipt, err := h.r.PeerCheckpoint(e.Station)
	if err != nil {
		return BundleReport{}, err
	}
	_, reported, err := loadBundlePos(h.r, e.Station)
	if err != nil {
		return BundleReport{}, err
	}
	var out bundleOut
	for _, scope := range e.Scopes() {
		var after uint64
		for _, c := range reported {
			if c.Stream == scope && c.Epoch == h.r.Epoch() {
				after = c.Pos
			}
		}
		if err := out.drain(ctx, h.r, false, h.scopeStream(scope, after, e)); err != nil {
			return BundleReport{}, err
		}
	}
	hdr := BundleHeader{Kind: BundleReturn, From: h.r.Origin().Node, To: e.Station, Created: h.now().UnixMilli(),
		Epoch: h.r.Epoch(), Ranges: out.ranges, Ops: uint64(out.ops)}
	cps := []streamCheckpoint{{Stream: "", Epoch: receipt.Epoch, Pos: receipt.Pos}}
	return out.write(w, hdr, cps, e.Recipient, h.r.SessionSignature)
}

// bundleOut collects a bundle's batch frames before the header, which names their ranges
// and count, is written ahead of them.
type bundleOut struct {
	frames  [][]byte
	seq     uint64
	ops     int
	ranges  []BundleRange
	batches int
}

// drain reads st to its end in batches, as a session's sender would.
func (o *bundleOut) drain(ctx context.Context, r Replica, signHeads bool, st *outStream) error {
	rng := BundleRange{Stream: st.name, From: st.sent}
	perEntry := 300
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		limit := max(16, min(bundleRawBatch/perEntry+1, MaxBatchEntries))
		got, next, err := st.readBatch(st.sent, limit)
		if err != nil {
			return fmt.Errorf("read stream %q after %d: %w", st.name, st.sent, err)
		}
		if len(got) == 0 && next == st.sent {
			break
		}
		b, n, rawLen, err := buildBatch(r, signHeads, st, got, bundleRawBatch)
		if err != nil {
			return fmt.Errorf("bundle batch of stream %q: %w", st.name, err)
		}
		if n < len(got) {
			next = got[n-1].pos
		}
		if n > 0 {
			perEntry = max(32, rawLen/n)
		}
		for _, oe := range got[:n] {
			if oe.e.Raw != nil {
				o.ops++
			}
		}
		o.seq++
		b.Seq, b.To = o.seq, next
		fb := encodeBatch(b)
		if len(fb) > MaxFrameBytes {
			return fmt.Errorf("bundle batch of stream %q after %d: %d bytes, over %d", st.name, st.sent, len(fb), MaxFrameBytes)
		}
		o.frames = append(o.frames, fb)
		o.batches++
		st.sent = next
	}
	rng.To = st.sent
	o.ranges = append(o.ranges, rng)
	return nil
}

// write writes the whole file: magic, version, header, the encrypted frames and trailer,
// and the signature.
func (o *bundleOut) write(w io.Writer, hdr BundleHeader, trailer []streamCheckpoint, recipient string, sign func([]byte) []byte) (BundleReport, error) {
	rep := reportOf(&hdr)
	rep.Batches, rep.Ops = o.batches, o.ops
	if recipient == "" {
		return rep, fmt.Errorf("%w: %s has no bundle key on record (enroll it again) / 对端没有登记文件加密密钥", ErrBundle, hdr.To)
	}
	rec, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return rep, fmt.Errorf("bundle recipient of %s: %w", hdr.To, err)
	}
	hb := encodeBundleHeader(&hdr)
	if len(hb) > maxBundleHeader {
		return rep, fmt.Errorf("bundle header of %d bytes, over %d", len(hb), maxBundleHeader)
	}
	sum := sha256.New()
	cw := &countingWriter{w: w}
	mw := io.MultiWriter(cw, sum)
	prefix := append([]byte(bundleMagic), BundleVersion)
	prefix = binary.AppendUvarint(prefix, uint64(len(hb)))
	if _, err := mw.Write(append(prefix, hb...)); err != nil {
		return rep, err
	}
	aw, err := age.Encrypt(mw, rec)
	if err != nil {
		return rep, err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	for _, fb := range append(o.frames, encodeTrailer(trailer)) {
		if _, err := aw.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(fb)))); err != nil {
			return rep, err
		}
		if _, err := aw.Write(fb); err != nil {
			return rep, err
		}
	}
	if err := aw.Close(); err != nil {
		return rep, err
	}
	if _, err := cw.Write(sign(bundleMessage(sum.Sum(nil)))); err != nil {
		return rep, err
	}
	rep.Bytes = cw.n
	return rep, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// bundleMessage is what a bundle's signature covers (inside node.SessionMessage).
func bundleMessage(sum []byte) []byte {
	return append([]byte("bundle\x00"), sum...)
}

func encodeBundleHeader(h *BundleHeader) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(7)
		w.String(h.Kind)
		w.String(h.From)
		w.String(h.To)
		w.Int(h.Created)
		w.String(h.Epoch)
		w.ArrayLen(len(h.Ranges))
		for _, r := range h.Ranges {
			w.ArrayLen(3)
			w.String(r.Stream)
			w.Uint(r.From)
			w.Uint(r.To)
		}
		w.Uint(h.Ops)
	})
}

func decodeBundleHeader(b []byte) (BundleHeader, error) {
	var h BundleHeader
	rd := mp.NewReader(b)
	rd.ExpectArray(7, 7)
	h.Kind = rd.String(16)
	h.From = rd.String(maxIDLen)
	h.To = rd.String(maxIDLen)
	h.Created = rd.Int()
	h.Epoch = rd.String(maxIDLen)
	k := rd.ArrayLen(maxStreams)
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(3, 3)
		h.Ranges = append(h.Ranges, BundleRange{Stream: rd.String(maxStreamName), From: rd.Uint(), To: rd.Uint()})
	}
	h.Ops = rd.Uint()
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d trailing bytes", rd.Remaining())
	}
	if err := rd.Err(); err != nil {
		return BundleHeader{}, err
	}
	switch {
	case h.Kind != BundlePush && h.Kind != BundleReturn:
		return BundleHeader{}, fmt.Errorf("kind %q", h.Kind)
	case !cases.ValidID(h.From) || !cases.ValidID(h.To) || h.From == h.To:
		return BundleHeader{}, fmt.Errorf("sender %q, recipient %q", h.From, h.To)
	case h.Created < 0:
		return BundleHeader{}, fmt.Errorf("created at %d", h.Created)
	case h.Kind == BundlePush && (len(h.Ranges) != 1 || h.Ranges[0].Stream != ""):
		return BundleHeader{}, errors.New("a push carries exactly the sender's feed")
	}
	seen := map[string]bool{}
	for _, r := range h.Ranges {
		if r.From > r.To || seen[r.Stream] || (h.Kind == BundleReturn && r.Stream == "") {
			return BundleHeader{}, fmt.Errorf("stream range %q %d..%d", r.Stream, r.From, r.To)
		}
		seen[r.Stream] = true
	}
	return h, nil
}

func encodeTrailer(cps []streamCheckpoint) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(2)
		w.Uint(codeBundleTrailer)
		w.ArrayLen(len(cps))
		for _, c := range cps {
			w.ArrayLen(3)
			w.String(c.Stream)
			w.String(c.Epoch)
			w.Uint(c.Pos)
		}
	})
}

func decodeTrailer(b []byte) ([]streamCheckpoint, error) {
	rd := mp.NewReader(b)
	rd.ExpectArray(2, 2)
	if code := rd.Uint(); rd.Err() == nil && code != codeBundleTrailer {
		rd.Failf("trailer code %d", code)
	}
	var cps []streamCheckpoint
	k := rd.ArrayLen(maxStreams)
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(3, 3)
		cps = append(cps, streamCheckpoint{Stream: rd.String(maxStreamName), Epoch: rd.String(maxIDLen), Pos: rd.Uint()})
	}
	if rd.Err() == nil && rd.Remaining() != 0 {
		rd.Failf("%d trailing bytes", rd.Remaining())
	}
	return cps, rd.Err()
}

// frameCode returns the code of an encoded frame (its first element), without decoding it.
func frameCode(b []byte) uint64 {
	rd := mp.NewReader(b)
	rd.ArrayLen(16)
	c := rd.Uint()
	if rd.Err() != nil {
		return 0
	}
	return c
}

// The hub keeps, per station, the positions in its scope streams that the station's
// newest push bundle reported: msgpack [created, [[stream, epoch, pos], ...]].
func encodeBundlePos(created int64, cps []streamCheckpoint) []byte {
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(2)
		w.Int(created)
		w.ArrayLen(len(cps))
		for _, c := range cps {
			w.ArrayLen(3)
			w.String(c.Stream)
			w.String(c.Epoch)
			w.Uint(c.Pos)
		}
	})
}

func loadBundlePos(r Replica, station string) (int64, []streamCheckpoint, error) {
	b, err := r.Doc(docBundlePos, station)
	if errors.Is(err, node.ErrNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	rd := mp.NewReader(b)
	rd.ExpectArray(2, 2)
	created := rd.Int()
	var cps []streamCheckpoint
	k := rd.ArrayLen(maxStreams)
	for i := 0; i < k && rd.Err() == nil; i++ {
		rd.ExpectArray(3, 3)
		cps = append(cps, streamCheckpoint{Stream: rd.String(maxStreamName), Epoch: rd.String(maxIDLen), Pos: rd.Uint()})
	}
	if err := rd.Err(); err != nil {
		return 0, nil, fmt.Errorf("bundle positions of %s: %w", station, err)
	}
	return created, cps, nil
}

// --- import ---

// bundleFile is a bundle whose header has been read; verify checks its signature, and
// frames decrypts its body.
type bundleFile struct {
	f      io.ReaderAt
	size   int64
	prefix []byte // magic, version, header length and header: the bytes hdr was parsed from
	hdr    BundleHeader
	sum    []byte // sha256 of every byte before the signature, set by verify
}

func (b *bundleFile) bodyLen() int64 {
	return b.size - int64(len(b.prefix)) - ed25519.SignatureSize
}

// readFull reads len(p) bytes at off, or fails.
func readFull(f io.ReaderAt, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func openBundle(f io.ReaderAt, size int64) (*bundleFile, error) {
	const fixed = len(bundleMagic) + 1
	truncated := func() (*bundleFile, error) {
		return nil, fmt.Errorf("%w: truncated: %d bytes, too short for the bundle its header describes / 文件不完整", ErrBundle, size)
	}
	if size < int64(fixed)+1+ed25519.SignatureSize {
		return truncated()
	}
	head := make([]byte, min(size, int64(fixed+binary.MaxVarintLen64)))
	if err := readFull(f, head, 0); err != nil {
		return nil, fmt.Errorf("%w: read: %v", ErrBundle, err)
	}
	if string(head[:len(bundleMagic)]) != bundleMagic {
		return nil, fmt.Errorf("%w: not a Fengqiao bundle (no %q at its start) / 不是数据包文件", ErrBundle, bundleMagic)
	}
	if v := head[len(bundleMagic)]; v != BundleVersion {
		return nil, fmt.Errorf("%w: bundle format version %d; this build reads version %d / 数据包版本不受支持", ErrBundle, v, BundleVersion)
	}
	hlen, n := binary.Uvarint(head[fixed:])
	if n <= 0 || hlen == 0 || hlen > maxBundleHeader {
		if n == 0 {
			return truncated()
		}
		return nil, fmt.Errorf("%w: header length (%d bytes) out of bounds, limit %d", ErrBundle, hlen, maxBundleHeader)
	}
	bodyOff := int64(fixed+n) + int64(hlen)
	if bodyOff+1+ed25519.SignatureSize > size {
		return truncated()
	}
	prefix := make([]byte, bodyOff)
	if err := readFull(f, prefix, 0); err != nil {
		return nil, fmt.Errorf("%w: read: %v", ErrBundle, err)
	}
	if !bytes.Equal(prefix[:fixed+n], head[:fixed+n]) {
		return nil, fmt.Errorf("%w: the file changed while it was read", ErrBundle)
	}
	hdr, err := decodeBundleHeader(prefix[fixed+n:])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBundle, err)
	}
	return &bundleFile{f: f, size: size, prefix: prefix, hdr: hdr}, nil
}

// verify checks the signature over the whole file with the sender's key: one streaming
// pass, before anything is decrypted.
func (b *bundleFile) verify(key ed25519.PublicKey) error {
	h := sha256.New()
	h.Write(b.prefix)
	n, err := io.Copy(h, io.NewSectionReader(b.f, int64(len(b.prefix)), b.bodyLen()))
	if err != nil {
		return fmt.Errorf("%w: read: %v", ErrBundle, err)
	}
	if n != b.bodyLen() {
		return fmt.Errorf("%w: truncated: the body ends after %d of %d bytes / 文件不完整", ErrBundle, n, b.bodyLen())
	}
	sig := make([]byte, ed25519.SignatureSize)
	if err := readFull(b.f, sig, b.size-ed25519.SignatureSize); err != nil {
		return fmt.Errorf("%w: read signature: %v", ErrBundle, err)
	}
	sum := h.Sum(nil)
	if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, node.SessionMessage(bundleMessage(sum)), sig) {
		return fmt.Errorf("%w: the signature of %s does not verify: the file was changed or cut short / 签名验证失败，文件已被改动或不完整", ErrBundle, b.hdr.From)
	}
	b.sum = sum
	return nil
}

// frames decrypts the body and calls fn with each frame in order. The body is read again:
// it hashes what it reads and fails, after the last frame, if that is not what verify
// hashed (the file changed in between).
func (b *bundleFile) frames(id age.Identity, fn func(frame []byte) error) error {
	if b.sum == nil {
		return errors.New("bundle: frames before verify")
	}
	h := sha256.New()
	h.Write(b.prefix)
	bodyLen := b.bodyLen()
	body := io.TeeReader(io.NewSectionReader(b.f, int64(len(b.prefix)), bodyLen), h)
	pt, err := age.Decrypt(body, id)
	if err != nil {
		return fmt.Errorf("%w: cannot decrypt: not encrypted to this node's key / 无法解密，数据包不是发给本节点的: %v", ErrBundle, err)
	}
	br := bufio.NewReaderSize(pt, 64<<10)
	for {
		n, err := binary.ReadUvarint(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: body: %v", ErrBundle, err)
		}
		if n == 0 || n > MaxFrameBytes || n > uint64(bodyLen) {
			return fmt.Errorf("%w: body: frame of %d bytes declared, limit %d", ErrBundle, n, min(MaxFrameBytes, bodyLen))
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("%w: body: %v", ErrBundle, err)
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("%w: read: %v", ErrBundle, err)
	}
	if !bytes.Equal(h.Sum(nil), b.sum) {
		return fmt.Errorf("%w: the file changed while it was imported", ErrBundle)
	}
	return nil
}

// apply decrypts the verified bundle b and applies its batches through recv in order,
// checking them against the header. It returns the trailer's checkpoints, which the caller
// takes only now that every batch is applied and the whole file was read as verified.
func (b *bundleFile) apply(ctx context.Context, id age.Identity, recv *receiver, rep *BundleReport) ([]streamCheckpoint, error) {
	ranges := map[string]BundleRange{}
	reached := map[string]uint64{}
	for _, r := range b.hdr.Ranges {
		ranges[r.Stream] = r
		reached[r.Stream] = r.From
	}
	var (
		seq     uint64
		trailer []streamCheckpoint
		ended   bool
	)
	err := b.frames(id, func(fb []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ended {
			return fmt.Errorf("%w: a frame after the trailer", ErrBundle)
		}
		switch code := frameCode(fb); code {
		case codeBundleTrailer:
			cps, err := decodeTrailer(fb)
			if err != nil {
				return fmt.Errorf("%w: trailer: %v", ErrBundle, err)
			}
			trailer, ended = cps, true
			return nil
		case codeBatch:
		default:
			return fmt.Errorf("%w: frame of code %d in a bundle", ErrBundle, code)
		}
		f, err := decodeFrame(fb)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBundle, err)
		}
		bf := f.Batch
		rng, ok := ranges[bf.Stream]
		switch {
		case bf.Seq != seq+1:
			return fmt.Errorf("%w: batch %d after batch %d", ErrBundle, bf.Seq, seq)
		case !recv.streams[bf.Stream] || !ok:
			return fmt.Errorf("%w: batch %d of stream %q, which this bundle may not carry", ErrBundle, bf.Seq, bf.Stream)
		case bf.Epoch != b.hdr.Epoch:
			return fmt.Errorf("%w: batch %d of epoch %q in a bundle of epoch %q", ErrBundle, bf.Seq, bf.Epoch, b.hdr.Epoch)
		case bf.To < reached[bf.Stream] || bf.To > rng.To:
			return fmt.Errorf("%w: batch %d reaches %d, outside %d..%d", ErrBundle, bf.Seq, bf.To, reached[bf.Stream], rng.To)
		}
		seq = bf.Seq
		in, err := recv.decode(bf)
		if err != nil {
			return fmt.Errorf("%w: batch %d: %w", ErrBundle, bf.Seq, err)
		}
		res, err := recv.apply(ctx, in)
		if err != nil {
			var le *localError
			if errors.As(err, &le) && le.code == ErrCodeInternal {
				return err
			}
			return fmt.Errorf("%w: %w", ErrBundle, err)
		}
		reached[bf.Stream] = bf.To
		rep.Batches++
		rep.Ops += len(in.ops)
		rep.Applied += res.Applied
		rep.Duplicates += res.Duplicates
		rep.Pending += res.Pending
		rep.Quarantined += res.Quarantined
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !ended {
		return nil, fmt.Errorf("%w: no trailer: the bundle was cut short when written", ErrBundle)
	}
	if uint64(rep.Ops) != b.hdr.Ops {
		return nil, fmt.Errorf("%w: %d ops in the body, %d in the header", ErrBundle, rep.Ops, b.hdr.Ops)
	}
	for s, r := range ranges {
		if reached[s] != r.To {
			return nil, fmt.Errorf("%w: stream %q ends at %d, the header says %d", ErrBundle, s, reached[s], r.To)
		}
	}
	return trailer, nil
}

// importPush takes a station's push bundle at its hub.
func (h *Hub) importPush(ctx context.Context, b *bundleFile) (BundleReport, error) {
	hdr := &b.hdr
	rep := reportOf(hdr)
	me := h.r.Origin().Node
	if hdr.Kind != BundlePush {
		return rep, fmt.Errorf("%w: a %s bundle from %s is imported at a station, not at a hub / 这是中心发给站点的数据包", ErrBundle, hdr.Kind, hdr.From)
	}
	if hdr.To != me {
		if info, herr := LoadHubInfo(h.r); herr == nil && (hdr.From == me || hdr.To == info.Hub) {
			return rep, fmt.Errorf("%w: a push bundle for %s is imported at that hub, not at a station / 这是站点发给中心的数据包", ErrBundle, hdr.To)
		}
		return rep, fmt.Errorf("%w: addressed to %s, this is %s / 数据包不是发给本节点的", ErrBundle, hdr.To, me)
	}
	e, err := h.enrollment(hdr.From)
	switch {
	case errors.Is(err, node.ErrNotFound):
		return rep, fmt.Errorf("%w: station %s is not enrolled at this hub / 该站点未登记", ErrBundle, hdr.From)
	case err != nil:
		return rep, fmt.Errorf("enrollment of %s: %w", hdr.From, err)
	case e.RevokedAt != 0:
		return rep, fmt.Errorf("%w: station %s was revoked / 该站点已被注销", ErrBundle, hdr.From)
	}
	if err := b.verify(e.Key); err != nil {
		return rep, err
	}
	id, err := AgeIdentity(h.r)
	if err != nil {
		return rep, err
	}
	trailer, err := b.apply(ctx, id, h.receiverFor(e), &rep)
	if err != nil {
		return rep, err
	}
	// Keep where the station stands in its scope streams, for the next return bundle:
	// the newest bundle's word wins, so an old bundle imported again changes nothing.
	created, _, err := loadBundlePos(h.r, e.Station)
	if err != nil {
		h.log.Warn("bundle positions unreadable; replacing them", "station", e.Station, "err", err)
		created = -1
	}
	if hdr.Created > created {
		scopes := e.Scopes()
		cps := slices.DeleteFunc(trailer, func(c streamCheckpoint) bool { return !slices.Contains(scopes, c.Stream) })
		if err := h.r.PutDoc(ctx, docBundlePos, e.Station, encodeBundlePos(hdr.Created, cps)); err != nil {
			return rep, fmt.Errorf("record bundle positions of %s: %w", e.Station, err)
		}
	}
	h.log.Info("bundle imported", "station", e.Station, "batches", rep.Batches, "applied", rep.Applied,
		"duplicates", rep.Duplicates, "quarantined", rep.Quarantined)
	return rep, nil
}

// importReturn takes a hub's return bundle at a station.
func importReturn(ctx context.Context, r Replica, b *bundleFile, opts BundleOptions) (BundleReport, error) {
	hdr := &b.hdr
	rep := reportOf(hdr)
	me := r.Origin().Node
	if hdr.Kind != BundleReturn {
		return rep, fmt.Errorf("%w: a %s bundle from %s is imported at a hub, not at a station / 这是站点发给中心的数据包", ErrBundle, hdr.Kind, hdr.From)
	}
	info, err := LoadHubInfo(r)
	if err != nil {
		return rep, fmt.Errorf("%w: a return bundle is imported at a station, and this node is not enrolled with a hub: %v", ErrBundle, err)
	}
	if hdr.To != me {
		return rep, fmt.Errorf("%w: addressed to %s, this is %s / 数据包不是发给本节点的", ErrBundle, hdr.To, me)
	}
	if hdr.From != info.Hub {
		return rep, fmt.Errorf("%w: the bundle comes from %s, not from this station's hub %s / 数据包不是本站的中心发出的", ErrBundle, hdr.From, info.Hub)
	}
	if err := b.verify(info.Key); err != nil {
		return rep, err
	}
	id, err := AgeIdentity(r)
	if err != nil {
		return rep, err
	}
	in := map[string]bool{}
	for _, s := range info.Scopes {
		in[s] = true
	}
	log := opts.Logger.With("hub", info.Hub)
	recv := &receiver{r: r, log: log, now: opts.Now, peer: info.Hub, peerKey: info.Key, streams: in, partial: true}
	trailer, err := b.apply(ctx, id, recv, &rep)
	if err != nil {
		return rep, err
	}
	for _, c := range trailer {
		if c.Stream == "" {
			rep.Receipt = node.Checkpoint{Epoch: c.Epoch, Pos: c.Pos}
		}
	}
	// The receipt advances the acked position, only forward within this feed's epoch.
	rc := rep.Receipt
	switch cur, err := loadAcked(r, info.Hub); {
	case rc.Epoch != r.Epoch():
	case rc.Pos > r.Status().FeedSeq:
		log.Warn("bundle receipt beyond this station's feed; ignored", "receipt", rc.Pos, "feed", r.Status().FeedSeq)
	case err == nil && cur.Epoch == rc.Epoch && cur.Pos >= rc.Pos:
	default:
		if err := advanceAcked(r, info.Hub, rc); err != nil {
			return rep, fmt.Errorf("record acked position: %w", err)
		}
	}
	log.Info("bundle imported", "batches", rep.Batches, "applied", rep.Applied, "duplicates", rep.Duplicates,
		"receipt", rc.Pos)
	return rep, nil
}
