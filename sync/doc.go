// Package sync owns Fengqiao's wire protocol: the frames and their codec, the handshake
// that authenticates both ends, the batching, windowing and acknowledgement of the op
// streams in both directions, scope serving, resumption after a break, and bundles — the
// same streams in a signed, encrypted file carried by hand.
//
// It speaks to a replica through the small Replica interface (a node.Replica, or the Raft
// hub's wrapper around one) and never touches Pebble. A hub serves sessions through Hub
// (an http.Handler for GET /sync); a station dials its hub with Station, which reconnects
// with backoff over the hub's member list. A county hub syncs with its city hub through
// Uplink: enrolled there as a peer of kind "hub", it is one station to the city, forwarding
// its whole feed (its stations' ops and its own) and receiving its county's scope.
//
// # Invariants
//
//   - Nothing is applied before both keys are proven: an unenrolled, revoked or wrong key,
//     or an unsupported protocol version, is refused with an error frame during the
//     handshake.
//   - A receiver acknowledges a batch only after Replica.Apply returned, which is after
//     the batch (with the sender's checkpoint) is durable; a sender advances only on acks,
//     so a cut at any point costs at most the unacknowledged window, resent and
//     deduplicated.
//   - Every length a peer declares is checked against the bytes present and against a
//     limit before anything is allocated; decompressed size is capped. A violation is an
//     error frame and a close, and nothing of the frame is applied.
//   - Ops are never sent back to the peer they came from.
//
// See docs/protocol.md for what is on the wire.
package sync
