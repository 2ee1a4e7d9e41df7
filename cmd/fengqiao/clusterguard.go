package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fengqiao/fengqiao/node"
)

// errClusterStore refuses a command that would write to a hub cluster member's store
// directly: what a member holds changes only through its Raft log, or the members diverge.
var errClusterStore = errors.New("this is a hub cluster member's store: it changes only through the running hub (use --hub URL) / 这是中心集群成员的数据，只能通过运行中的中心修改（请用 --hub URL）")

// refuseClusterDir refuses dir when it is a cluster member's directory (replica/ and raft/).
func refuseClusterDir(dir string) error {
	for _, sub := range []string{"raft", "replica"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			return nil
		}
	}
	return fmt.Errorf("%s: %w", dir, errClusterStore)
}

// refuseClusterReplica refuses a replica that a Raft FSM has applied entries to (a member's
// replica/ opened by path).
func refuseClusterReplica(dir string, r *node.Replica) error {
	if r.RaftApplied() > 0 {
		return fmt.Errorf("%s: %w", dir, errClusterStore)
	}
	return nil
}
