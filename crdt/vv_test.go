package crdt_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
)

func vv(kv ...any) crdt.VersionVector {
	v := crdt.VersionVector{}
	for i := 0; i < len(kv); i += 2 {
		v[org(kv[i].(string))] = uint64(kv[i+1].(int))
	}
	return v
}

func TestVersionVector_Compare(t *testing.T) {
	tests := []struct {
		name string
		v, w crdt.VersionVector
		want crdt.Ordering
	}{
		{"both nil", nil, nil, crdt.Equal},
		{"nil and empty", nil, vv(), crdt.Equal},
		{"zero entry equals missing", vv("a", 0), vv(), crdt.Equal},
		{"missing equals zero entry", vv(), vv("a", 0), crdt.Equal},
		{"same", vv("a", 3, "b", 1), vv("a", 3, "b", 1), crdt.Equal},
		{"empty before any", vv(), vv("a", 1), crdt.Before},
		{"any after empty", vv("a", 1), nil, crdt.After},
		{"lower entry", vv("a", 2, "b", 1), vv("a", 3, "b", 1), crdt.Before},
		{"higher entry", vv("a", 3, "b", 1), vv("a", 2, "b", 1), crdt.After},
		{"extra origin", vv("a", 3, "b", 1), vv("a", 3), crdt.After},
		{"missing origin", vv("a", 3), vv("a", 3, "b", 1), crdt.Before},
		{"crossed entries", vv("a", 3, "b", 1), vv("a", 2, "b", 2), crdt.Concurrent},
		{"disjoint origins", vv("a", 1), vv("b", 1), crdt.Concurrent},
		{"zero entry versus other origin", vv("a", 0, "b", 1), vv("a", 1), crdt.Concurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.Compare(tt.w); got != tt.want {
				t.Errorf("%v.Compare(%v) = %v, want %v", tt.v, tt.w, got, tt.want)
			}
			mirror := map[crdt.Ordering]crdt.Ordering{
				crdt.Equal: crdt.Equal, crdt.Before: crdt.After,
				crdt.After: crdt.Before, crdt.Concurrent: crdt.Concurrent,
			}
			if got, want := tt.w.Compare(tt.v), mirror[tt.want]; got != want {
				t.Errorf("%v.Compare(%v) = %v, want %v", tt.w, tt.v, got, want)
			}
			wantDom := tt.want == crdt.Equal || tt.want == crdt.After
			if got := tt.v.Dominates(tt.w); got != wantDom {
				t.Errorf("%v.Dominates(%v) = %v, want %v", tt.v, tt.w, got, wantDom)
			}
		})
	}
}

func TestVersionVector_Merge(t *testing.T) {
	tests := []struct {
		name string
		v, w crdt.VersionVector
		want crdt.VersionVector
	}{
		{"into empty", vv(), vv("a", 2), vv("a", 2)},
		{"from nil", vv("a", 2), nil, vv("a", 2)},
		{"pointwise max", vv("a", 5, "b", 1), vv("a", 2, "b", 4, "c", 1), vv("a", 5, "b", 4, "c", 1)},
		{"never lowers", vv("a", 5), vv("a", 1), vv("a", 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wBefore := tt.w.Clone()
			tt.v.Merge(tt.w)
			if !maps.Equal(tt.v, tt.want) {
				t.Errorf("merged = %v, want %v", tt.v, tt.want)
			}
			if !maps.Equal(tt.w, wBefore) {
				t.Errorf("argument changed to %v, want %v", tt.w, wBefore)
			}
			if !tt.v.Dominates(wBefore) {
				t.Errorf("merged %v does not dominate %v", tt.v, wBefore)
			}
		})
	}
}

func TestVersionVector_Merge_Laws(t *testing.T) {
	vs := []crdt.VersionVector{vv(), vv("a", 1), vv("a", 3, "b", 1), vv("b", 2, "c", 7), vv("a", 2, "c", 1)}
	join := func(x, y crdt.VersionVector) crdt.VersionVector {
		z := x.Clone()
		z.Merge(y)
		return z
	}
	for _, x := range vs {
		if got := join(x, x); !maps.Equal(got, x) {
			t.Errorf("%v ⊔ itself = %v", x, got)
		}
		for _, y := range vs {
			if a, b := join(x, y), join(y, x); !maps.Equal(a, b) {
				t.Errorf("%v ⊔ %v = %v, but reversed = %v", x, y, a, b)
			}
			for _, z := range vs {
				if a, b := join(join(x, y), z), join(x, join(y, z)); !maps.Equal(a, b) {
					t.Errorf("(%v ⊔ %v) ⊔ %v = %v, but %v ⊔ (%v ⊔ %v) = %v", x, y, z, a, x, y, z, b)
				}
			}
		}
	}
}

func TestVersionVector_Includes(t *testing.T) {
	v := vv("a", 3)
	tests := []struct {
		d    crdt.Dot
		want bool
	}{
		{dot("a", 1), true},
		{dot("a", 3), true},
		{dot("a", 4), false},
		{dot("a", 0), false},
		{dot("b", 1), false},
		{crdt.Dot{Origin: crdt.Origin{Node: "a", Incarnation: 2}, Seq: 1}, false}, // another incarnation
	}
	for _, tt := range tests {
		if got := v.Includes(tt.d); got != tt.want {
			t.Errorf("%v.Includes(%v) = %v, want %v", v, tt.d, got, tt.want)
		}
	}
	var empty crdt.VersionVector
	if empty.Includes(dot("a", 1)) {
		t.Errorf("nil vector Includes(a/1/1) = true")
	}
}

func TestVersionVector_Advance(t *testing.T) {
	v := vv("a", 3)
	v.Advance(org("a"), 2)
	v.Advance(org("b"), 1)
	v.Advance(org("a"), 4)
	if want := vv("a", 4, "b", 1); !maps.Equal(v, want) {
		t.Errorf("after Advance = %v, want %v", v, want)
	}
	if got, want := v.Get(org("a")), uint64(4); got != want {
		t.Errorf("Get(a) = %d, want %d", got, want)
	}
	if got, want := v.Get(org("z")), uint64(0); got != want {
		t.Errorf("Get(z) = %d, want %d", got, want)
	}
}

func TestVersionVector_Clone_Independent(t *testing.T) {
	v := vv("a", 1)
	c := v.Clone()
	c.Advance(org("a"), 9)
	c.Advance(org("b"), 1)
	if want := vv("a", 1); !maps.Equal(v, want) {
		t.Errorf("original after changing the clone = %v, want %v", v, want)
	}
	var nilv crdt.VersionVector
	c = nilv.Clone()
	c.Advance(org("a"), 1) // the clone of nil is writable
	if got, want := c.Get(org("a")), uint64(1); got != want {
		t.Errorf("clone of nil: Get(a) = %d, want %d", got, want)
	}
}

func TestVersionVector_Origins(t *testing.T) {
	v := crdt.VersionVector{
		org("c"):                    1,
		{Node: "a", Incarnation: 2}: 1,
		org("a"):                    5,
		org("b"):                    0,
	}
	want := []crdt.Origin{org("a"), {Node: "a", Incarnation: 2}, org("b"), org("c")}
	if got := v.Origins(); !slices.Equal(got, want) {
		t.Errorf("Origins() = %v, want %v", got, want)
	}
}
