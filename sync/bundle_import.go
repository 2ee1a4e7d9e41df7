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
	"slices"

	"filippo.io/age"

	"github.com/fengqiao/fengqiao/node"
)

// bundleFile is a bundle whose header has been read; verify checks its signature, and
// frames decrypts its body.
type bundleFile struct {
	f      io.ReaderAt
	size   int64
	prefix []byte // magic, version, header length and header: the bytes hdr was parsed from
	hdr    BundleHeader
	sum    []byte // sha256 of every byte before the signature, set by verify
	// progress, when set, hears the ops applied after each batch (BundleOptions.Progress).
	progress func(done, total int)
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
		if b.progress != nil {
			b.progress(rep.Ops, int(b.hdr.Ops))
		}
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
	in := map[string]bool{node.ScopeConfig: true} // also for stations enrolled before it was streamed
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
