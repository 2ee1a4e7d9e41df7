// Package raftstore owns a hub member's Raft log and Raft stable state (current term, vote):
// a hashicorp/raft LogStore and StableStore on one Pebble v2 database of its own. It knows
// nothing of what the entries carry; the hub's FSM (a node.Replica) keeps its state
// elsewhere.
//
// # Durability contract
//
//   - Every write is synced before it returns: StoreLog and StoreLogs (one Pebble batch
//     committed with pebble.Sync), DeleteRange (one range deletion, synced), Set and
//     SetUint64. raft relies on it: a follower acknowledges entries, and a voter grants its
//     vote, as soon as these calls return.
//   - A StoreLogs call is all or nothing: after a crash the store holds every entry of
//     every call that returned, and of the call in flight either every entry or none.
//   - FirstIndex and LastIndex are kept in memory, read from the keyspace at Open and moved
//     only after a commit succeeded, so they never name an entry that is not durable.
//
// # raft's expectations, met exactly
//
//   - GetLog of a missing index returns raft.ErrLogNotFound itself, unwrapped (raft compares
//     with ==, and sends a lagging follower a snapshot when it sees it).
//   - Get and GetUint64 of a key never set return ErrKeyNotFound, whose message is exactly
//     "not found" (raft compares err.Error() with "not found" and then reads the zero
//     value), as raft-boltdb does.
//   - The log may have gaps: raft.LogStore says StoreLogs "may not be contiguous with
//     previous logs", and raft relies on a gap after installing a snapshot on a store that
//     does not declare itself raft.MonotonicLogStore (this one does not). First and last
//     index are then the first and last entries present; GetLog in a gap is ErrLogNotFound.
//
// # Keyspace
//
// One table byte, then: 'L' + 8-byte big-endian index → entry (format byte first, see
// codec.go); 'S' + raft's key → value; 'M' "format" → layout version. Upper-case tables
// keep clear of node's keyspace should the log and the replica share one DB one day.
package raftstore
