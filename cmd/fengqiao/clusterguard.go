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

// openLocalStore opens (or, with NodeID set, initializes) the store in dir for a command
// that writes to it directly, refusing a hub cluster member's store — its directory or its
// replica/ opened by path — with errClusterStore. hint follows any other error of Open.
func openLocalStore(dir string, opts node.Options, hint string) (*node.Replica, error) {
	for _, sub := range []string{"raft", "replica"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			break
		} else if sub == "replica" {
			return nil, fmt.Errorf("%s: %w", dir, errClusterStore)
		}
	}
	r, err := node.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w%s", dir, err, hint)
	}
	if r.RaftApplied() > 0 {
		_ = r.Close()
		return nil, fmt.Errorf("%s: %w", dir, errClusterStore)
	}
	return r, nil
}
