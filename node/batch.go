package node

import (
	"github.com/fengqiao/fengqiao/cases"
)

// Incoming is an op arriving at the replica: decoded, with its canonical bytes (nil means
// encode Op; sync passes the bytes it received so nothing is encoded twice) and what the
// sender knew of it.
type Incoming struct {
	Op   cases.Op
	Raw  []byte
	Meta cases.Meta
}

// Checkpoint is a position in a peer's feed (or in one scope of it). A checkpoint whose
// epoch differs from the peer's current epoch is void: sync restarts from zero.
type Checkpoint struct {
	Epoch string
	Pos   uint64
}

// Batch is a group of ops applied atomically.
type Batch struct {
	// From is the peer the ops came from ("" for local writes). Ops are never sent back to
	// the peer they came from, and From's checkpoint advances with the batch.
	From string
	Ops  []Incoming
	// Heads are the signed chain heads sent with the ops. Each head whose prefix the replica
	// holds after the batch must match the recomputed chain, or the whole batch is refused.
	Heads []SignedHead
	// Checkpoint is the position in From's feed that this batch reaches; stored with the
	// batch when set, so that a resumed session continues after it.
	Checkpoint *Checkpoint
	// Stream names which of From's feeds Checkpoint is a position in: "" for its whole
	// feed, a scope name for one scope of it (a hub serves a station one stream per scope).
	// The checkpoint is read back with PeerCheckpoint(StreamName(From, Stream)).
	Stream string
	// Left names cases that left the stream's scope (a hub's markers), each after the
	// first After ops of Ops. The replica marks them as stubs (IsLeft) until an op of the
	// case arrives from a peer again.
	Left []LeftMarker
	// Docs are small documents written with the batch (a hub's enrollments go through its
	// Raft log this way), in order, after the ops.
	Docs []DocPut
	// RaftIndex, when set, is the index of the Raft log entry this batch is (a hub member's
	// FSM): it is stored in the same Pebble batch, and a batch at or below the stored index is
	// skipped, so an entry replayed after a restart is never applied twice.
	RaftIndex uint64
	// Writer, when set, is the rule the batch's sender writes under (a hub sets it for a
	// station's push): every op must be of the writer's own origin, or the batch is refused;
	// an op on a case the writer may not write is quarantined, not applied (see WriterRule).
	Writer *WriterRule
	// Partial marks a scoped stream (a hub's feed to a station): origins arrive with gaps by
	// design, so ops after a gap are applied, not held as pending.
	Partial bool
	// ReceivedAt is the receipt time in ms, stamped by whoever received the batch (the Raft
	// leader, in a hub). Zero means read the replica's clock now.
	ReceivedAt int64
	// StampReceipt makes this replica record ReceivedAt into ops that carry no receipt time
	// yet: hubs set it, so every replica downstream judges a stamp against the same instant.
	StampReceipt bool
	// RotateKey, when set, replaces the replica's key with a new one, adding the link from
	// the old (KeyChain). Only a hub's Raft entries carry it.
	RotateKey *KeyRotation
}

// Result says what a batch did.
type Result struct {
	Applied       int // new ops applied
	Duplicates    int // ops already held (same dot, same content)
	Pending       int // ops this batch held after a gap in their origin (applied when it fills)
	Equivocations int // same dot, different content: kept aside, not applied
	Quarantined   int // ops whose writer may not write their case: kept aside, not applied
	// ReceiptsLearnt counts ops held without a receipt time that arrived again with one (a
	// station's own ops its hub flagged: receipt.go).
	ReceiptsLearnt int
	// AlreadyApplied says the batch's Raft index was at or below the one stored: skipped.
	AlreadyApplied bool
	FeedSeq        uint64
}
