package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/server"
)

// listCases reads every case under region a node serves, as its API lists them.
func listCases(ctx context.Context, base, region string) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			base+"/api/v1/cases?limit=1000&region="+url.QueryEscape(region)+"&cursor="+url.QueryEscape(cursor), nil)
		if err != nil {
			return nil, err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s: %s", base, resp.Status, body)
		}
		var page struct {
			Cases []json.RawMessage `json:"cases"`
			Next  string            `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		for _, c := range page.Cases {
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(c, &id)
			out[id.ID] = replicatedView(c)
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// replicaView is what the check reads of one replica's store once every process stopped.
type replicaView struct {
	name   string
	region string // a station's township; "" for a hub member (its scope holds every case)
	dots   map[crdt.Dot]cases.Hash
	caseOf map[crdt.Dot]string
	states map[string]string // case id → its API view (with the history's length)
	stubs  map[string]bool   // cases held only as a read-only stub (node.IsLeft)
	status node.Status
}

// inScope reports whether a case of region belongs on this replica.
func (v *replicaView) inScope(caseRegion string) bool {
	return v.region == "" || strings.HasPrefix(caseRegion, v.region)
}

// check opens every replica and checks the promises: every acknowledged op present on each
// replica whose scope includes it, every op anywhere present on each replica in its scope, no
// dot held twice, the same bytes for a dot everywhere, every origin's chain verifying, the same
// case states across replicas in scope, and no equivocation or quarantine (every op written
// was valid).
func (r *run) check() error {
	var views []*replicaView
	for _, c := range []*cluster{r.county, r.city} {
		for _, m := range c.members {
			v, err := r.readReplica(m.id, filepath.Join(m.dir, "replica"), "")
			if err != nil {
				return err
			}
			views = append(views, v)
		}
	}
	for _, s := range r.sts {
		v, err := r.readReplica(s.id, s.dir, s.region)
		if err != nil {
			return err
		}
		views = append(views, v)
	}
	r.res.Checked = len(views)
	county := views[0]
	r.res.OpsTotal = county.status.FeedSeq
	// The region of each case, from the hubs' views (every replica's holds the same).
	regionOf := map[string]string{}
	for _, v := range views[:6] {
		for id, st := range v.states {
			var c struct {
				Fields map[string]any `json:"fields"`
			}
			_ = json.Unmarshal([]byte(st), &c)
			if reg, ok := c.Fields["region"].(string); ok {
				regionOf[id] = reg
			}
		}
	}
	r.res.Cases = len(regionOf)

	// Every op held anywhere, with the bytes it has where first seen.
	all := map[crdt.Dot]cases.Hash{}
	caseOf := map[crdt.Dot]string{}
	for _, v := range views {
		r.res.Equivocations += v.status.Equivocations
		r.res.Quarantined += v.status.Quarantined
		if v.status.Equivocations > 0 || v.status.Quarantined > 0 || v.status.Pending > 0 {
			r.violate("%s: %d equivocations, %d quarantined, %d pending ops (every op written was valid and whole)",
				v.name, v.status.Equivocations, v.status.Quarantined, v.status.Pending)
		}
		for d, h := range v.dots {
			if h0, ok := all[d]; !ok {
				all[d], caseOf[d] = h, v.caseOf[d]
			} else if h0 != h {
				r.res.Altered++
				r.violate("%s holds op %s with other bytes than another replica", v.name, d)
			}
		}
	}
	for d, id := range caseOf {
		reg, ok := regionOf[id]
		if !ok {
			r.res.Missing++
			r.violate("op %s of case %s: the case is on no hub", d, id)
			continue
		}
		for _, v := range views {
			if _, held := v.dots[d]; v.inScope(reg) && !r.accusedAt(id, v) && !held {
				r.res.Missing++
				r.violate("%s lacks op %s of case %s (region %s)", v.name, d, id, reg)
			}
		}
	}
	// The journals: what each station acknowledged.
	for _, s := range r.sts {
		acked, err := readJournal(s.journal)
		if err != nil {
			return err
		}
		r.res.OpsAcknowledged += len(acked)
		for _, a := range acked {
			d := crdt.Dot{Origin: crdt.Origin{Node: a.Node, Incarnation: a.Inc}, Seq: a.Seq}
			reg := regionOf[a.Case]
			for _, v := range views {
				if _, held := v.dots[d]; (v.name == s.id || v.inScope(reg) && reg != "" && !r.accusedAt(a.Case, v)) && !held {
					r.res.Lost++
					r.violate("acknowledged op %s (%s of case %s at %s) is not on %s", d, a.Kind, a.Case, s.id, v.name)
				}
			}
			if reg == "" {
				r.res.Lost++
				r.violate("acknowledged op %s of case %s at %s: the case is on no hub", d, a.Case, s.id)
			}
		}
	}
	// Case states: every replica in scope shows each case as the county's first member does.
	for id, reg := range regionOf {
		want := county.states[id]
		for _, v := range views[1:] {
			if !v.inScope(reg) || r.accusedAt(id, v) {
				continue
			}
			got := v.states[id]
			if got == want {
				continue
			}
			r.res.StateMismatches++
			r.violate("case %s differs at %s:\n  %s: %s\n  %s: %s", id, v.name, county.name, want, v.name, got)
		}
	}
	r.checkAccusations(views, regionOf)
	return nil
}

// accusedAt reports whether replica v is a station of the unit accused by case id (a chaos
// accusation names a township's government, whose region is the township and whose own
// station is the one the id ends with): such a station must never receive the case.
func (r *run) accusedAt(id string, v *replicaView) bool {
	accused := AccusedStation(id)
	if accused == "" || v.region == "" {
		return false
	}
	if v.name == accused {
		return true
	}
	for _, s := range r.sts {
		if s.id == accused {
			return v.region == s.region
		}
	}
	return false
}

// checkAccusations checks that no station of an accused unit holds an accusation of it
// (R22 Art 30(3), 46(5)): a station of the accused township holds nothing of the case,
// except the station that registered it, which keeps its own ops — as a read-only stub when
// it is the accused unit's own station. The hubs hold it in full (the case-state comparison
// sees to that).
func (r *run) checkAccusations(views []*replicaView, regionOf map[string]string) {
	for id := range regionOf {
		accused := AccusedStation(id)
		if accused == "" {
			continue
		}
		r.res.Accusations++
		for _, v := range views {
			if !r.accusedAt(id, v) {
				continue
			}
			_, held := v.states[id]
			switch writer := strings.HasPrefix(id, v.name+"-"); {
			case writer && v.name == accused && !v.stubs[id]:
				r.res.AccusationLeaks++
				r.violate("accusation %s of %s is shown in full at %s, the accused unit's own station that registered it (only a stub may stay)", id, accused, v.name)
			case !writer && held:
				r.res.AccusationLeaks++
				r.violate("accusation %s of %s reached %s, a station of the accused unit's township", id, accused, v.name)
			}
		}
	}
}

// readReplica opens one replica's store and reads its feed, chains and cases.
func (r *run) readReplica(name, dir, region string) (*replicaView, error) {
	rep, err := node.Open(dir, node.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer rep.Close()
	v := &replicaView{name: name, region: region, dots: map[crdt.Dot]cases.Hash{}, caseOf: map[crdt.Dot]string{},
		states: map[string]string{}, stubs: map[string]bool{}, status: rep.Status()}
	chains := map[crdt.Origin]map[uint64][]byte{}
	after := uint64(0)
	for {
		entries, next, err := rep.Feed(after, 1000, "")
		if err != nil {
			return nil, fmt.Errorf("%s feed: %w", name, err)
		}
		for _, e := range entries {
			op, err := cases.DecodeOp(e.Raw)
			if err != nil {
				r.violate("%s: feed position %d does not decode: %v", name, e.Pos, err)
				continue
			}
			if _, dup := v.dots[op.Dot]; dup {
				r.res.Duplicated++
				r.violate("%s holds op %s twice (second at feed position %d)", name, op.Dot, e.Pos)
			}
			v.dots[op.Dot] = cases.ContentHash(e.Raw)
			v.caseOf[op.Dot] = op.Case
			if chains[op.Dot.Origin] == nil {
				chains[op.Dot.Origin] = map[uint64][]byte{}
			}
			chains[op.Dot.Origin][op.Dot.Seq] = e.Raw
			if _, seen := v.states[op.Case]; !seen {
				c, hist, err := rep.Case(op.Case)
				if err != nil {
					return nil, fmt.Errorf("%s case %s: %w", name, op.Case, err)
				}
				b, _ := json.Marshal(server.CaseView(c, hist))
				v.states[op.Case] = string(b)
				v.stubs[op.Case] = rep.IsLeft(op.Case)
			}
		}
		if len(entries) == 0 || next == after {
			break
		}
		after = next
	}
	// Each origin's chain over the contiguous prefix the replica holds must end at its tip.
	origins := make([]crdt.Origin, 0, len(chains))
	for o := range chains {
		origins = append(origins, o)
	}
	slices.SortFunc(origins, func(a, b crdt.Origin) int { return strings.Compare(a.String(), b.String()) })
	for _, o := range origins {
		tipSeq, tipHash := rep.ChainTip(o)
		var h cases.Hash
		for seq := uint64(1); seq <= tipSeq; seq++ {
			raw, ok := chains[o][seq]
			if !ok {
				r.res.ChainFailures++
				r.violate("%s: chain of %s claims seq %d but the op is not in the feed", name, o, seq)
				break
			}
			h = cases.ChainHash(h, raw)
		}
		if h != tipHash {
			r.res.ChainFailures++
			r.violate("%s: chain of %s does not verify at seq %d", name, o, tipSeq)
		}
		// A hub holds every origin's whole chain, a station its own (of others only its scope).
		if (region == "" || o.Node == name) && int(tipSeq) != len(chains[o]) {
			r.res.ChainFailures++
			r.violate("%s: chain of %s is contiguous to %d but %d ops are held", name, o, tipSeq, len(chains[o]))
		}
	}
	return v, nil
}

func readJournal(path string) ([]Acked, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Acked
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var a Acked
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			continue // a line cut by a SIGKILL mid-write names no acknowledged op
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// clockDerived are the parts of a case's view that each node computes from its own clock
// at the moment it answers (days left, near due, overdue, clock status, the 超期 flag and
// warnings): nodes whose clocks differ — the run shifts station clocks by years — answer
// them differently about the same ops. They are left out of the comparison; what the ops
// make of the case (state, every value, conflicts, notes, tags, rule flags, version, the
// next states) stays. Deadlines under a skewed clock are checked by the skew tests.
//
// "ops" (the length of the case's history) is left out too: a list shows it only for a case
// whose history it had to read (one with a flagged clock), which differs between the hub
// that flagged an op and the station that wrote it; the ops themselves are compared one by
// one by the replica checks.
var clockDerived = []string{"next_deadline", "clocks", "case_flags", "warnings", "deadline", "ops"}

// replicatedView is a case's list view with clockDerived removed.
func replicatedView(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return string(raw)
	}
	for _, k := range clockDerived {
		delete(m, k)
	}
	b, _ := json.Marshal(m)
	return string(b)
}
