package crdt_test

import (
	"slices"
	"testing"

	"github.com/fengqiao/fengqiao/crdt"
)

func TestOrigin_Compare(t *testing.T) {
	tests := []struct {
		a, b crdt.Origin
		want int
	}{
		{org("a"), org("a"), 0},
		{org("a"), org("b"), -1},
		{crdt.Origin{Node: "a", Incarnation: 2}, crdt.Origin{Node: "b", Incarnation: 1}, -1},
		{crdt.Origin{Node: "a", Incarnation: 2}, crdt.Origin{Node: "a", Incarnation: 1}, 1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDot_Compare(t *testing.T) {
	tests := []struct {
		a, b crdt.Dot
		want int
	}{
		{dot("a", 1), dot("a", 1), 0},
		{dot("a", 2), dot("a", 10), -1}, // numeric, not lexical
		{dot("a", 99), dot("b", 1), -1}, // origin first
		{crdt.Dot{Origin: crdt.Origin{Node: "a", Incarnation: 1}, Seq: 9}, crdt.Dot{Origin: crdt.Origin{Node: "a", Incarnation: 2}, Seq: 1}, -1},
		{crdt.Dot{}, dot("", 1), -1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Compare(tt.a); got != -tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestDot_IsZero(t *testing.T) {
	for _, tt := range []struct {
		d    crdt.Dot
		want bool
	}{
		{crdt.Dot{}, true},
		{dot("a", 1), false},
		{crdt.Dot{Seq: 1}, false},
		{crdt.Dot{Origin: org("a")}, false},
	} {
		if got := tt.d.IsZero(); got != tt.want {
			t.Errorf("%#v.IsZero() = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestDot_String(t *testing.T) {
	d := crdt.Dot{Origin: crdt.Origin{Node: "station-7", Incarnation: 3}, Seq: 42}
	if got, want := d.String(), "station-7/3/42"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := d.Origin.String(), "station-7/3"; got != want {
		t.Errorf("Origin.String() = %q, want %q", got, want)
	}
}

func TestSortDots(t *testing.T) {
	in := []crdt.Dot{dot("b", 1), dot("a", 2), dot("b", 1), dot("a", 1), dot("a", 2)}
	got := crdt.SortDots(in)
	want := []crdt.Dot{dot("a", 1), dot("a", 2), dot("b", 1)}
	if !slices.Equal(got, want) {
		t.Errorf("SortDots = %v, want %v", got, want)
	}
	if got := crdt.SortDots(nil); len(got) != 0 {
		t.Errorf("SortDots(nil) = %v, want empty", got)
	}
}

func TestDotSet_ZeroValue(t *testing.T) {
	var s crdt.DotSet
	if got, want := s.Len(), 0; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if s.Has(dot("a", 1)) {
		t.Errorf("zero DotSet Has(a/1/1) = true")
	}
	if s.Has(crdt.Dot{}) {
		t.Errorf("zero DotSet Has(zero dot) = true")
	}
	s.Add(dot("a", 1))
	if !s.Has(dot("a", 1)) {
		t.Errorf("after Add, Has(a/1/1) = false")
	}
}

func TestNewDotSet(t *testing.T) {
	in := []crdt.Dot{dot("c", 1), dot("a", 3), dot("c", 1), dot("a", 1)}
	orig := slices.Clone(in)
	s := crdt.NewDotSet(in...)
	if got, want := s.Dots(), []crdt.Dot{dot("a", 1), dot("a", 3), dot("c", 1)}; !slices.Equal(got, want) {
		t.Errorf("Dots() = %v, want %v", got, want)
	}
	if !slices.Equal(in, orig) {
		t.Errorf("NewDotSet modified its argument: %v, was %v", in, orig)
	}
	for _, tt := range []struct {
		d    crdt.Dot
		want bool
	}{
		{dot("a", 1), true},
		{dot("a", 2), false},
		{dot("a", 3), true},
		{dot("b", 1), false},
		{dot("c", 1), true},
		{dot("c", 2), false},
	} {
		if got := s.Has(tt.d); got != tt.want {
			t.Errorf("Has(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestDotSet_Add(t *testing.T) {
	var s crdt.DotSet
	for _, d := range []crdt.Dot{dot("b", 2), dot("a", 1), dot("b", 1), dot("a", 1), dot("b", 2), dot("a", 10)} {
		s.Add(d)
	}
	if got, want := s.Dots(), []crdt.Dot{dot("a", 1), dot("a", 10), dot("b", 1), dot("b", 2)}; !slices.Equal(got, want) {
		t.Errorf("Dots() = %v, want %v", got, want)
	}
	if got, want := s.Len(), 4; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

func TestDotSet_Union(t *testing.T) {
	tests := []struct {
		name string
		a, b []crdt.Dot
		want []crdt.Dot
	}{
		{"both empty", nil, nil, nil},
		{"empty left", nil, []crdt.Dot{dot("a", 1)}, []crdt.Dot{dot("a", 1)}},
		{"empty right", []crdt.Dot{dot("a", 1)}, nil, []crdt.Dot{dot("a", 1)}},
		{"overlap", []crdt.Dot{dot("a", 1), dot("b", 2)}, []crdt.Dot{dot("b", 2), dot("a", 2)}, []crdt.Dot{dot("a", 1), dot("a", 2), dot("b", 2)}},
		{"interleaved", []crdt.Dot{dot("a", 1), dot("c", 1)}, []crdt.Dot{dot("b", 1), dot("d", 1)}, []crdt.Dot{dot("a", 1), dot("b", 1), dot("c", 1), dot("d", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u := crdt.NewDotSet(tt.a...), crdt.NewDotSet(tt.b...)
			uBefore := slices.Clone(u.Dots())
			s.Union(u)
			if got := s.Dots(); !slices.Equal(got, tt.want) {
				t.Errorf("Dots() = %v, want %v", got, tt.want)
			}
			if got := u.Dots(); !slices.Equal(got, uBefore) {
				t.Errorf("argument changed to %v, want %v", got, uBefore)
			}
		})
	}
}

func TestDotSet_Union_Self(t *testing.T) {
	s := crdt.NewDotSet(dot("a", 1), dot("b", 1))
	s.Union(s)
	if got, want := s.Dots(), []crdt.Dot{dot("a", 1), dot("b", 1)}; !slices.Equal(got, want) {
		t.Errorf("s.Union(s): Dots() = %v, want %v", got, want)
	}
}

func TestDotSet_Clone_Independent(t *testing.T) {
	s := crdt.NewDotSet(dot("a", 1), dot("c", 1))
	c := s.Clone()
	c.Add(dot("b", 1))
	c.Union(crdt.NewDotSet(dot("d", 1)))
	if got, want := s.Dots(), []crdt.Dot{dot("a", 1), dot("c", 1)}; !slices.Equal(got, want) {
		t.Errorf("original after changing the clone: %v, want %v", got, want)
	}
	s.Add(dot("a", 2))
	if got, want := c.Dots(), []crdt.Dot{dot("a", 1), dot("b", 1), dot("c", 1), dot("d", 1)}; !slices.Equal(got, want) {
		t.Errorf("clone after changing the original: %v, want %v", got, want)
	}
}
