package cases_test

import (
	"testing"

	"github.com/fengqiao/fengqiao/cases"
)

// BenchmarkDueBound: a replica computes the bound on every change of a case it indexes.
func BenchmarkDueBound(b *testing.B) {
	t := &testing.T{}
	c := walk(t, cases.MatterPetition, "2026-03-02", cases.DefaultCalendar(), accept(t, "2026-03-03"),
		step{cases.Investigating, "2026-03-04", data("route", "Art31(6)")})
	b.ReportAllocs()
	for b.Loop() {
		cases.DueBound(c, nil)
	}
}

// BenchmarkCaseClocks: the exact clocks a reader computes for a case it shows.
func BenchmarkCaseClocks(b *testing.B) {
	t := &testing.T{}
	c := walk(t, cases.MatterPetition, "2026-03-02", cases.DefaultCalendar(), accept(t, "2026-03-03"),
		step{cases.Investigating, "2026-03-04", data("route", "Art31(6)")})
	cal := cases.DefaultCalendar()
	b.ReportAllocs()
	for b.Loop() {
		cases.CaseClocks(c, cal, nil)
	}
}
