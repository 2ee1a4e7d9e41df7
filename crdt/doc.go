// Package crdt holds the convergent data types Fengqiao's case documents are built from:
// a hybrid logical clock, dots and origins, version vectors, a multi-value register whose
// writes name the dots they overwrote, an add-wins set and an append-only log.
//
// The package is pure: no I/O, no goroutines, no locks, no wall clock. Time comes in as an
// argument (milliseconds since the Unix epoch), the way etcd's raft takes ticks, so tests can
// skew it freely.
//
// # Invariants
//
//   - Causality travels in dots, never in timestamps. A write that names the dots it observed
//     replaces exactly those; two writes that did not see each other both stay visible
//     (a conflict) until a later write observes both.
//   - Every Apply is commutative and idempotent, and every Merge is commutative, associative
//     and idempotent: replicas that have seen the same set of writes hold the same state,
//     whatever the order or the duplicates.
//   - A timestamp beyond the receiver's now + MaxSkew is flagged, never absorbed into the
//     local clock and never favoured as a display winner.
package crdt
