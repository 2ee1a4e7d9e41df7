// Package hub owns the hub tier's replicated state machine: the Raft log entry that carries
// a batch a hub accepted (from a station's session, a bundle, or later the hub's own writes)
// and the FSM that applies it to the member's node.Replica.
//
// # Invariants
//
//   - Apply is deterministic: the leader stamps the receipt time into the entry, the FSM
//     reads no clock, and node.Replica.Apply iterates no Go map into the keyspace; members
//     fed the same entries hold the same bytes (TestFSM_MembersIdentical compares them).
//   - Every check made before proposing (the station's writer rule, chains, quarantine) is
//     made again inside Apply, by the replica: two members may propose the same batch.
//   - An entry is applied in one Pebble batch together with its log index; an entry at or
//     below the stored index is skipped, so a member that replays its log after a restart
//     applies nothing twice.
//   - Durability: the Raft log (server/raftstore) and the replica are separate Pebble stores,
//     each synced on every write; the log is appended before an entry is applied, so the FSM
//     is never ahead of the log, and what it lost to a power cut is replayed from the log
//     (TestFSM_PowerLoss, on Pebble's crash-simulating filesystem). Sharing one Pebble DB
//     would save the replica's fsync per entry; it is the next step to measure.
//   - Entries carry a format version; a member that meets one it cannot read refuses it and
//     says so, and never guesses.
//   - Snapshots are Pebble checkpoints of the replica streamed as a tar (snapshot.go): the
//     applied index travels inside them, and a member restoring one swaps its replica for
//     it and continues from the entries after.
//
// Member (member.go) is a hub member as sync sees it (sync.Replica): reads from its own
// replica, every write (a station's batch, an enrollment, a hub secret) proposed through the
// log — by the leader, or handed to it by a follower (MemberOptions.Forward) — and
// acknowledged once committed and applied locally (read your writes). The proposing member
// stamps the receipt time into the entry. Between processes a follower forwards over HTTP
// (forward.go: POST /raft/propose to the leader, signed with the hub's key, which every
// member holds and nobody else does).
//
// Cluster (cluster*.go) is a member over its whole life: empty until it bootstraps a new hub
// (only when every listed peer reports, authenticated by the cluster token, that it is empty)
// or joins one (receiving the hub identity encrypted to a one-time key; a new member only
// through the leader, which adds it as a voter); then running, with its Raft transport over
// mutual TLS whose certificates the shared hub key issues (tls.go). Member records in the
// replicated state keep an id that ran, or was removed, from ever joining again: a member that
// lost its data rejoins under a new id. Status reports state, leader, term, indexes, members.
//
// Not built yet: hub-written ops (their seq and chain assigned inside apply), TLS on the HTTP
// side, a partition test with real processes.
package hub
