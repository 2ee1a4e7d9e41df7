package hub

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/hashicorp/raft"
)

// ClusterStatus is the member's view of its cluster, for /api/v1/status. Field names are a
// stable interface.
type ClusterStatus struct {
	Member       string `json:"member"`
	State        string `json:"state"` // empty, Follower, Candidate, Leader, Shutdown
	Leader       string `json:"leader,omitempty"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	// SnapshotIndex is the index of the member's latest snapshot (taken, or installed from
	// the leader): a member that joined with nothing and shows one caught up by snapshot.
	SnapshotIndex uint64          `json:"snapshot_index"`
	Members       []ClusterMember `json:"members"`
	// Disk is the member's free space against its reserve (absent while empty, or where
	// the disk cannot tell): refusing, the member proposes nothing.
	Disk *DiskStatus `json:"disk,omitempty"`
}

// ClusterMember is one server of the Raft configuration.
type ClusterMember struct {
	ID    string `json:"id"`
	Raft  string `json:"raft"`
	URL   string `json:"url,omitempty"`
	Voter bool   `json:"voter"`
}

// Status reports the member's Raft state, leader, term, indexes and members.
func (c *Cluster) Status() ClusterStatus {
	st := ClusterStatus{Member: c.cfg.MemberID, State: "empty", Members: []ClusterMember{}}
	r := c.Raft()
	if r == nil {
		return st
	}
	st.State = r.State().String()
	_, leader := r.LeaderWithID()
	st.Leader = string(leader)
	st.Term, st.CommitIndex, st.AppliedIndex, st.LastIndex = r.CurrentTerm(), r.CommitIndex(), r.AppliedIndex(), r.LastIndex()
	st.SnapshotIndex, _ = strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64)
	if fut := r.GetConfiguration(); fut.Error() == nil {
		for _, s := range fut.Configuration().Servers {
			u, _ := c.memberURL(s.ID)
			st.Members = append(st.Members, ClusterMember{ID: string(s.ID), Raft: string(s.Address), URL: u, Voter: s.Suffrage == raft.Voter})
		}
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].ID < st.Members[j].ID })
	if m := c.Member(); m != nil {
		if d, ok := m.Disk(); ok {
			st.Disk = &d
		}
	}
	return st
}

// readyLag is how far a member's applied index may trail the commit index and the member
// still count as ready: a member catching up from a snapshot or a long log is alive but
// would serve stale feeds.
const readyLag = 1024

// Serving says whether the member can serve stations now: Raft runs, a leader is known, the
// member has applied nearly everything committed, and its disk is above its reserve (below
// it, the error wraps node.ErrDiskFull). Otherwise the error says why.
func (c *Cluster) Serving() error {
	r := c.Raft()
	if r == nil {
		return errors.New("raft has not started (the member has not joined) / 尚未加入集群")
	}
	if r.State() == raft.Shutdown {
		return errors.New("raft is shut down / 已停止")
	}
	if addr, _ := r.LeaderWithID(); addr == "" {
		return errors.New("no leader is known / 当前没有主成员")
	}
	if commit, applied := r.CommitIndex(), r.AppliedIndex(); commit > applied+readyLag {
		return fmt.Errorf("catching up: applied %d of %d committed entries / 正在追赶日志", applied, commit)
	}
	if m := c.Member(); m != nil {
		if err := m.checkDisk(); err != nil {
			return err
		}
	}
	return nil
}
