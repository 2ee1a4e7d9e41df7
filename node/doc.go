// Package node owns the replica: one Pebble database per station or hub member holding the
// op log, the changes feed, the scope indexes, the materialized cases and their secondary
// indexes, per-origin hash chains and peer checkpoints. It speaks no network protocol; sync/
// and server/ drive it through Apply, Write and the feed readers.
//
// # Invariants
//
//   - Apply is one atomic, synced Pebble batch: either every key an op touches (its record,
//     dot index, case history, case state, scope entries, indexes, chain tip, the sender's
//     checkpoint) is durable, or none is. An op acknowledged to a peer is never lost.
//   - The feed is dense: positions 1..Seq with no gaps, each holding one op. Every scope has
//     its own dense counter, so a peer resumes a scope at (epoch, position) and a catch-up
//     reads only that scope's entries, never the whole feed.
//   - An op is stored once per dot. The same dot with different content is an equivocation:
//     kept aside for review and never applied.
//   - Each origin's ops form a hash chain; a chain only grows over a contiguous prefix.
//   - Apply reads no clock when the batch carries its receipt time, and iterates no Go map
//     into the keyspace, so replicas fed the same batches hold the same bytes (the Raft hub
//     depends on this).
//
// # Keyspace
//
// Every key starts with one table byte; integers are 8-byte big-endian so that keys sort
// numerically. See keys.go.
package node
