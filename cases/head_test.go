package cases_test

// Tests of case heads: the compact state a replica keeps per case (ApplyHead, EncodeHead,
// DecodeHead). A replica applies each op to the head exactly once (it dedupes first), in
// whatever order ops arrive; the head must then agree with Fold of the same op set on
// everything it keeps.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
	"github.com/fengqiao/fengqiao/internal/mp"
	"pgregory.net/rapid"
)

// applyHead applies the ops of h in order to head c, each once. As in the replica (node's
// applier), an op counts as applied from the moment it is being applied.
func applyHead(c *cases.Case, h history, order []int, applied map[crdt.Dot]bool) *cases.Case {
	seen := func(d crdt.Dot) bool { return applied[d] }
	for _, i := range order {
		st := h.ops[i]
		applied[st.Op.Dot] = true
		c.ApplyHead(&st.Op, st.Meta, seen)
	}
	return c
}

// appliedSet returns the dots of the ops of h at order.
func appliedSet(h history, order []int) map[crdt.Dot]bool {
	m := map[crdt.Dot]bool{}
	for _, i := range order {
		m[h.ops[i].Op.Dot] = true
	}
	return m
}

// headState is what a head keeps, copied out of a head or a folded case: the visible dots of
// every register, the visible writes of index fields (without authors, which heads leave
// out), the display values of index fields, set elements and adds, and the creation.
type headState struct {
	Dots    map[string][]crdt.Dot
	Index   map[string][]crdt.Write[[]byte]
	Display map[string]string
	Elems   map[string][]string
	Adds    map[string][]crdt.Dot
	Created crdt.Dot
	Creator string
}

func headStateOf(c *cases.Case) headState {
	s := headState{Dots: map[string][]crdt.Dot{}, Index: map[string][]crdt.Write[[]byte]{}, Display: map[string]string{},
		Elems: map[string][]string{}, Adds: map[string][]crdt.Dot{}, Created: c.Created, Creator: c.Creator}
	for f, r := range c.Registers {
		if len(r.Values()) == 0 {
			continue
		}
		s.Dots[f] = r.Dots()
		if cases.IsIndexField(f) {
			for _, w := range r.Values() {
				w.Author = ""
				s.Index[f] = append(s.Index[f], w)
			}
			v, _ := c.Value(f)
			s.Display[f] = showValue(f, v)
		}
	}
	for f, set := range c.Sets {
		if _, dots := set.Adds(); len(dots) > 0 {
			s.Elems[f] = set.Elems()
			s.Adds[f] = dots
		}
	}
	return s
}

func (s headState) String() string {
	var b strings.Builder
	for _, f := range slices.Sorted(maps.Keys(s.Dots)) {
		fmt.Fprintf(&b, "\n  %s: %v", f, s.Dots[f])
		if s.Display[f] != "" {
			fmt.Fprintf(&b, " shows %s", s.Display[f])
		}
	}
	for _, f := range slices.Sorted(maps.Keys(s.Elems)) {
		fmt.Fprintf(&b, "\n  set %s: %q adds %v", f, s.Elems[f], s.Adds[f])
	}
	fmt.Fprintf(&b, "\n  created %v by %q", s.Created, s.Creator)
	return b.String()
}

func encodeHead(c *cases.Case) []byte {
	w := mp.NewWriter()
	c.EncodeHead(w)
	return slices.Clone(w.Bytes())
}

// causalOrder draws an order of h's ops in which every op comes after the ops its author had
// seen, as a replica receives them from a peer that holds them.
func causalOrder(t *rapid.T, label string, h history) []int {
	done := make([]bool, len(h.ops))
	var order []int
	for len(order) < len(h.ops) {
		var ready []int
		for i := range h.ops {
			if !done[i] && !slices.ContainsFunc(h.deps[i], func(d int) bool { return !done[d] }) {
				ready = append(ready, i)
			}
		}
		i := rapid.SampledFrom(ready).Draw(t, label)
		done[i] = true
		order = append(order, i)
	}
	return order
}

func indexes(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// TestApplyHead_Property_AnyOrderMatchesFold: applying each op once, in any order, gives a
// head whose registers show the visible dots Fold shows, whose index fields hold Fold's
// writes (stamps, flags, values) and display values, whose sets hold Fold's elements and
// adds, and whose creation is Fold's.
func TestApplyHead_Property_AnyOrderMatchesFold(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, sized(24))
		want := headStateOf(cases.Fold(caseID, h.ops))
		for k := range 2 {
			order := rapid.Permutation(indexes(len(h.ops))).Draw(t, fmt.Sprint("order ", k))
			head := applyHead(cases.NewCase(caseID), h, order, map[crdt.Dot]bool{})
			if got := headStateOf(head); !reflect.DeepEqual(got, want) {
				t.Fatalf("order %v: head differs from Fold\nhistory:%v\nhead:%v\nfold:%v", order, h, got, want)
			}
			if got, want := head.State(), cases.Fold(caseID, h.ops).State(); got != want {
				t.Fatalf("head state %q, Fold state %q", got, want)
			}
			// A head keeps no authors (but the creator), logs or Updated stamp.
			if len(head.Logs) != 0 || !head.Updated.IsZero() {
				t.Fatalf("head keeps logs %v or Updated %v", head.Logs, head.Updated)
			}
			for f, r := range head.Registers {
				for _, w := range r.Values() {
					if w.Author != "" || (!cases.IsIndexField(f) && (w.Value != nil || !w.Stamp.IsZero())) {
						t.Fatalf("head register %s keeps %+v", f, w)
					}
				}
			}
		}
	})
}

// TestHead_Property_EncodeDecode: a head encoded and decoded at any point of the delivery
// shows the same, encodes to the same bytes, and goes on to the same state when the rest of
// the ops are applied to it (the pending dots it keeps survive the round trip).
func TestHead_Property_EncodeDecode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, sized(24))
		order := rapid.Permutation(indexes(len(h.ops))).Draw(t, "order")
		k := rapid.IntRange(0, len(order)).Draw(t, "stored after")
		head := applyHead(cases.NewCase(caseID), h, order[:k], map[crdt.Dot]bool{})
		b := encodeHead(head)
		dec, err := cases.DecodeHead(caseID, b)
		if err != nil {
			t.Fatalf("DecodeHead(EncodeHead): %v\nhistory:%v", err, h)
		}
		if got, want := headStateOf(dec), headStateOf(head); !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded head differs\nhistory:%v\ngot:%v\nwant:%v", h, got, want)
		}
		if again := encodeHead(dec); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b)
		}
		for f, r := range head.Registers {
			if !slices.Equal(dec.Registers[f].Overwritten(), r.Overwritten()) {
				t.Fatalf("%s: pending dots %v decoded as %v", f, r.Overwritten(), dec.Registers[f].Overwritten())
			}
		}
		applied := appliedSet(h, order[:k])
		rest := applyHead(dec, h, order[k:], applied)
		if got, want := headStateOf(rest), headStateOf(cases.Fold(caseID, h.ops)); !reflect.DeepEqual(got, want) {
			t.Fatalf("stored after %d ops, then the rest: differs from Fold\nhistory:%v\ngot:%v\nwant:%v", k, h, got, want)
		}
	})
}

// TestHead_Property_CausalOrderSameBytes: replicas that receive the same ops, each after the
// ops it observed (as from a peer that holds them), store byte-identical heads, and keep no
// pending dots: a head is as small as what is visible.
func TestHead_Property_CausalOrderSameBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, sized(24))
		a := applyHead(cases.NewCase(caseID), h, causalOrder(t, "order a", h), map[crdt.Dot]bool{})
		b := applyHead(cases.NewCase(caseID), h, causalOrder(t, "order b", h), map[crdt.Dot]bool{})
		if ea, eb := encodeHead(a), encodeHead(b); !bytes.Equal(ea, eb) {
			t.Fatalf("heads differ\nhistory:%v\na: %x\nb: %x", h, ea, eb)
		}
		for f, r := range a.Registers {
			if len(r.Overwritten()) != 0 {
				t.Fatalf("%s keeps pending dots %v after causal delivery\nhistory:%v", f, r.Overwritten(), h)
			}
		}
		for f, s := range a.Sets {
			if _, ds := s.Removed(); len(ds) != 0 {
				t.Fatalf("set %s keeps removed adds %v after causal delivery\nhistory:%v", f, ds, h)
			}
		}
	})
}

// TestHead_Property_AnyOrderSameBytes: the head encoding is documented as deterministic, "so
// replicas holding the same ops store the same bytes". It is not when ops arrive out of
// causal order (a county hub uplinks after another, a bundle arrives late): an op's Observed
// spans all its fields, so an op writing field A that observed a dot d not yet applied leaves d
// pending in A; when d's op arrives and does not write A, nothing removes d from A. The dot
// stays in that head forever (ApplyOnce's "forgotten once it has [arrived]" holds only for
// ops writing the same register), and a replica that got d first stores different bytes.
func TestHead_Property_AnyOrderSameBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, sized(24))
		a := applyHead(cases.NewCase(caseID), h, rapid.Permutation(indexes(len(h.ops))).Draw(t, "order a"), map[crdt.Dot]bool{})
		b := applyHead(cases.NewCase(caseID), h, rapid.Permutation(indexes(len(h.ops))).Draw(t, "order b"), map[crdt.Dot]bool{})
		if ea, eb := encodeHead(a), encodeHead(b); !bytes.Equal(ea, eb) {
			t.Fatalf("heads differ\nhistory:%v\na:%v\nb:%v", h, pendingOf(a), pendingOf(b))
		}
	})
}

func pendingOf(c *cases.Case) string {
	var b strings.Builder
	for _, f := range slices.Sorted(maps.Keys(c.Registers)) {
		fmt.Fprintf(&b, "\n  %s visible %v pending %v", f, c.Registers[f].Dots(), c.Registers[f].Overwritten())
	}
	for _, f := range slices.Sorted(maps.Keys(c.Sets)) {
		_, ds := c.Sets[f].Removed()
		fmt.Fprintf(&b, "\n  set %s removed %v", f, ds)
	}
	return b.String()
}

// TestHead_PendingDotOfAnotherField is the smallest case of the bug above: op y edits summary
// and category, observing the registration (summary) and op x (category). When y arrives
// before x, x's dot is left pending in summary, which x never writes, for good.
func TestHead_PendingDotOfAnotherField(t *testing.T) {
	c, reg := registered(t)
	x := localOp(t, c, origins[0], 2, 1, cases.KindEdit, cases.LocalWrite{Field: "category", JSON: jsonOf("土地")})
	y := localOp(t, cases.Fold(caseID, []cases.Stored{reg, x}), origins[1], 1, 2, cases.KindEdit,
		cases.LocalWrite{Field: "summary", JSON: jsonOf("屋顶漏水")}, cases.LocalWrite{Field: "category", JSON: jsonOf("劳资")})
	h := history{ops: []cases.Stored{reg, x, y}, kinds: []string{"register", "edit", "edit"}, deps: [][]int{nil, {0}, {0, 1}}}
	inOrder := applyHead(cases.NewCase(caseID), h, []int{0, 1, 2}, map[crdt.Dot]bool{})
	late := applyHead(cases.NewCase(caseID), h, []int{0, 2, 1}, map[crdt.Dot]bool{})
	if got := late.Registers["summary"].Overwritten(); len(got) != 0 {
		t.Errorf("all ops applied, summary still keeps pending dots %v", got)
	}
	if !bytes.Equal(encodeHead(inOrder), encodeHead(late)) {
		t.Errorf("same ops, different head bytes:%v\nversus:%v", pendingOf(inOrder), pendingOf(late))
	}
}

// TestApplyHead_SelfObservingOp: an op cannot observe itself or a later op of its own origin
// (Fold would hide its writes while a head shows them); DecodeOp refuses such an op.
func TestApplyHead_SelfObservingOp(t *testing.T) {
	_, reg := registered(t)
	for _, seq := range []uint64{1, 2} {
		self := cases.Op{Dot: crdt.Dot{Origin: origins[1], Seq: 1}, Stamp: crdt.Timestamp{Wall: baseWall + 1}, Case: caseID, Kind: cases.KindEdit, Author: "u-b",
			Writes:   []cases.Write{{Field: "region", Action: cases.Set, Value: cases.EncodeString(township)}},
			Observed: crdt.SortDots([]crdt.Dot{reg.Op.Dot, {Origin: origins[1], Seq: seq}})}
		if _, err := cases.DecodeOp(self.Encode()); err == nil {
			t.Errorf("DecodeOp accepted an op observing %s/%d, not before it", origins[1], seq)
		}
	}
}

// TestHead_Golden pins the stored head of a fresh registration byte for byte: heads are
// stored, so a change of their format needs a new head version and a migration.
func TestHead_Golden(t *testing.T) {
	const wall = "cf0000018bcfe56800" // baseWall as written by EncodeInt
	const want = "" +
		"96" + "02" + // [version 2,
		"91" + "92a573746e2d6101" + // origins [["stn-a", 1]],
		"920001" + // created [origin 0, seq 1],
		"a7752d73746e2d61" + // creator "u-stn-a",
		"96" + // 6 registers, by name:
		"9300" + "91" + "960001" + wall + "00c2" + "c409" + "a8" + "7065746974696f6e" + "90" + // kind (index): [0, 1, wall, 0, false, "petition"]
		"9302" + "91" + "920001" + "90" + // petitioners: [0, 1]
		"930f" + "91" + "960001" + wall + "00c2" + "c409" + wall + "90" + // received_at (index)
		"9301" + "91" + "960001" + wall + "00c2" + "c40d" + "ac" + "343230333233313033323031" + "90" + // region (index)
		"930d" + "91" + "960001" + wall + "00c2" + "c40b" + "aa" + "52454749535445524544" + "90" + // state (index)
		"9307" + "91" + "920001" + "90" + // summary: [0, 1]
		"91" + "930c" + "91" + "93a7a6e7b4a7e680a50001" + "90" // sets: tags [["紧急", 0, 1]], no tombstones]
	_, reg := registered(t, act(cases.Add, lw("tags", "紧急")))
	h := history{ops: []cases.Stored{reg}, kinds: []string{"register"}, deps: [][]int{nil}}
	head := applyHead(cases.NewCase(caseID), h, []int{0}, map[crdt.Dot]bool{})
	if got := hex.EncodeToString(encodeHead(head)); got != want {
		t.Errorf("head encoding changed:\n got %s\nwant %s", got, want)
	}
}

// TestHead_EncodeDecode_Registered: the head of a registration reads back with its index
// values, creation and tags; other fields keep only their dots.
func TestHead_EncodeDecode_Registered(t *testing.T) {
	_, reg := registered(t, cases.LocalWrite{Field: "tags", Action: cases.Add, JSON: jsonOf("紧急")})
	h := history{ops: []cases.Stored{reg}, kinds: []string{"register"}, deps: [][]int{nil}}
	head := applyHead(cases.NewCase(caseID), h, []int{0}, map[crdt.Dot]bool{})
	b := encodeHead(head)
	dec, err := cases.DecodeHead(caseID, b)
	if err != nil {
		t.Fatal(err)
	}
	if dec.ID != caseID || dec.Created != reg.Op.Dot || dec.Creator != "u-stn-a" || dec.String("region") != village ||
		dec.State() != cases.Registered || dec.Int("received_at") != baseWall || !dec.Sets["tags"].Has(string(cases.EncodeString("紧急"))) {
		t.Errorf("decoded head: %v", headStateOf(dec))
	}
	// Non-index fields keep only their dots.
	if v := dec.Registers["summary"].Values(); len(v) != 1 || v[0].Dot != reg.Op.Dot || v[0].Value != nil {
		t.Errorf("summary in the head: %+v", v)
	}
	// An empty head round-trips too.
	empty := encodeHead(cases.NewCase("x"))
	if c, err := cases.DecodeHead("x", empty); err != nil || c.Exists() || len(c.Registers) != 0 {
		t.Errorf("empty head: %+v, %v", c, err)
	}
}

// headBombs are malformed and hostile heads; good is a valid head encoding.
func headBombs(good []byte) []bomb {
	return []bomb{
		{"empty", nil},
		{"version 1", append([]byte{0x96, 0x01}, good[2:]...)},
		{"version 3", append([]byte{0x96, 0x03}, good[2:]...)},
		{"fewer than 6 elements", mustHex("95 02 90 c0 a0 90")},
		{"created origin out of range", mustHex("96 02 90 92 00 01 a0 90 90")},
		{"field number out of range", mustHex("96 02 91 92 a1 61 01 92 00 01 a0 91 93 7f 90 90 90")},
		{"write origin out of range", mustHex("96 02 91 92 a1 61 01 92 00 01 a0 91 93 00 91 92 05 01 90 90")},
		{"set element origin out of range", mustHex("96 02 91 92 a1 61 01 92 00 01 a0 90 91 93 0c 91 93 a1 78 05 01 90")},
		{"truncated", good[:len(good)-1]},
		{"14 bytes declaring an array of 2^31", mustHex("dd 80000000 000000000000000000")},
		{"origins array of 2^31", mustHex("96 02 dd 80000000 92 a1 61 01")},
		{"origins array16 of 65535, beyond the input", mustHex("96 02 dc ffff 92 a1 61 01")},
		{"writes array16 of 65535, beyond the input", mustHex("96 02 91 92 a1 61 01 c0 a0 91 93 00 dc ffff 92 00 01")},
		{"pending array16 of 65535, beyond the input", mustHex("96 02 91 92 a1 61 01 c0 a0 91 93 00 90 dc ffff 92 00 01")},
		{"set elements array16 of 65535, beyond the input", mustHex("96 02 91 92 a1 61 01 c0 a0 90 91 93 0c dc ffff 93 a1 78 00 01")},
		{"origin node str32 of 4 GB", mustHex("96 02 91 92 db ffffffff 61 01")},
		{"registers array of 2^31", mustHex("96 02 90 c0 a0 dd 80000000 93 00 90 90")},
		{"writes array of 2^31", mustHex("96 02 91 92 a1 61 01 c0 a0 91 93 00 dd 80000000 92 00 01")},
		{"pending array of 2^31", mustHex("96 02 91 92 a1 61 01 c0 a0 91 93 00 90 dd 80000000 92 00 01")},
		{"index value bin32 within MaxValueBytes, beyond the input", mustHex("96 02 91 92 a1 61 01 c0 a0 91 93 00 91 96 00 01 00 00 c2 c6 0003ffff 61 90")},
		{"index value bin32 of 4 GB", mustHex("96 02 91 92 a1 61 01 c0 a0 91 93 00 91 96 00 01 00 00 c2 c6 ffffffff 61 90")},
		{"sets array of 2^31", mustHex("96 02 90 c0 a0 90 dd 80000000 93 0c 90 90")},
		{"set elements array of 2^31", mustHex("96 02 91 92 a1 61 01 c0 a0 90 91 93 0c dd 80000000 93 a1 78 00 01")},
		{"set element str32 of 4 GB", mustHex("96 02 91 92 a1 61 01 c0 a0 90 91 93 0c 91 93 db ffffffff 78 00 01")},
	}
}

// TestDecodeHead_Rejects: stored heads are checked as well: wrong version, origin indexes
// out of range, unknown field numbers, and length bombs are errors, without allocating what
// they declare.
func TestDecodeHead_Rejects(t *testing.T) {
	_, reg := registered(t)
	head := applyHead(cases.NewCase(caseID), history{ops: []cases.Stored{reg}, kinds: []string{"register"}, deps: [][]int{nil}}, []int{0}, map[crdt.Dot]bool{})
	good := encodeHead(head)
	if _, err := cases.DecodeHead(caseID, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range headBombs(good) {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			bytesPer, allocsPer := allocated(20, func() { _, err = cases.DecodeHead(caseID, tc.b) })
			if err == nil {
				t.Fatalf("DecodeHead(%x) accepted", tc.b)
			}
			if bytesPer > bombMaxBytes || allocsPer > bombMaxAllocs {
				t.Errorf("DecodeHead of %d bytes allocated %.0f bytes in %.0f allocations per call", len(tc.b), bytesPer, allocsPer)
			}
		})
	}
}

// TestHead_ZeroDot: DecodeHead accepts a register write whose dot is the zero dot (origin
// ("", 0), seq 0), which no op can have. EncodeHead does not list the zero dot's origin
// (headOrigins.add skips zero dots) but still writes the dot as an origin index found by a
// failed binary search: with no other origin the encoding does not decode ("origin 0 of 0");
// with others the dot silently becomes another origin's dot (b/1/0 below). Only corrupt
// stored bytes reach this; DecodeHead should refuse zero dots where ops' dots belong.
func TestHead_ZeroDot(t *testing.T) {
	for _, b := range [][]byte{
		mustHex("96 02 91 92 a0 00 c0 a0 91 93 01 91 92 00 00 90 90"),
		mustHex("96 02 92 92 a0 00 92 a1 62 01 c0 a0 91 93 01 92 92 00 00 92 01 05 90 90"),
	} {
		c, err := cases.DecodeHead(caseID, b)
		if err != nil {
			continue // refused: fine
		}
		c2, err := cases.DecodeHead(caseID, encodeHead(c))
		if err != nil {
			t.Errorf("%x: accepted, but its re-encoding is not: %v", b, err)
			continue
		}
		if got, want := headStateOf(c2), headStateOf(c); !reflect.DeepEqual(got, want) {
			t.Errorf("%x: round trip changed the head\ngot:%v\nwant:%v", b, got, want)
		}
	}
}

// TestApplyHead_Property_UnchangedMeansSameBytes: when ApplyHead says an op left the head as
// it was, the head encodes to the same bytes as before it (the replica then skips encoding
// it), whatever the order the ops arrive in.
func TestApplyHead_Property_UnchangedMeansSameBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := genHistory(t, sized(24))
		applied := map[crdt.Dot]bool{}
		seen := func(d crdt.Dot) bool { return applied[d] }
		c := cases.NewCase(caseID)
		unchanged := 0
		for _, i := range rapid.Permutation(indexes(len(h.ops))).Draw(t, "order") {
			st := h.ops[i]
			before := encodeHead(c)
			applied[st.Op.Dot] = true
			if !c.ApplyHead(&st.Op, st.Meta, seen) {
				unchanged++
				if after := encodeHead(c); !bytes.Equal(before, after) {
					t.Fatalf("op #%d (%s) said unchanged, but the head went from\n%x to\n%x\nhistory:%v", i, h.kinds[i], before, after, h)
				}
			}
		}
		t.Logf("%d of %d ops left the head unchanged", unchanged, len(h.ops))
	})
}

// TestApplyHead_NoteObservedBeforeItArrived: an edit that observed a note's dot (a
// replicated op may observe any dot) arrives before the note; the note then changes the head
// (its dot is no longer pending) and ApplyHead says so.
func TestApplyHead_NoteObservedBeforeItArrived(t *testing.T) {
	c, reg := registered(t)
	note := localOp(t, c, origins[1], 1, 1, cases.KindNote,
		cases.LocalWrite{Field: "notes", Action: cases.Append, JSON: jsonOf(cases.Note{Text: "走访", Kind: "visit"})})
	edit := localOp(t, c, origins[0], 2, 2, cases.KindEdit, lw("summary", "屋顶漏水"))
	edit.Op.Observed = crdt.SortDots(append(edit.Op.Observed, note.Op.Dot))
	applied := map[crdt.Dot]bool{}
	seen := func(d crdt.Dot) bool { return applied[d] }
	head := cases.NewCase(caseID)
	for _, st := range []cases.Stored{reg, edit} {
		applied[st.Op.Dot] = true
		head.ApplyHead(&st.Op, st.Meta, seen)
	}
	before := encodeHead(head)
	applied[note.Op.Dot] = true
	if !head.ApplyHead(&note.Op, note.Meta, seen) {
		t.Fatal("the note forgot its pending dot in summary, but ApplyHead said unchanged")
	}
	if bytes.Equal(before, encodeHead(head)) {
		t.Fatal("the note's dot was not pending in the head: the test does not test what it says")
	}
	// A second note, whose dot nothing observed, changes nothing.
	again := localOp(t, c, origins[1], 2, 3, cases.KindNote,
		cases.LocalWrite{Field: "notes", Action: cases.Append, JSON: jsonOf(cases.Note{Text: "回访", Kind: "visit"})})
	applied[again.Op.Dot] = true
	if head.ApplyHead(&again.Op, again.Meta, seen) {
		t.Error("a note nothing observed said it changed the head")
	}
}
