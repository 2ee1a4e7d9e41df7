package cases_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
)

// TestRepeats: the same resident ID with the same matter (category, or respondent) is a
// repeat; a different matter of the same person is not; once the earlier matter went through
// 复核, a new registration of it is refused as 不再受理 pointing at the earlier case, unless
// it brings new facts and reasons.
func TestRepeats(t *testing.T) {
	person := []cases.Person{{Name: "张三", IDNumber: goodID}}
	other := []cases.Person{{Name: "李四", IDNumber: goodID2}}
	mk := func(id string, ps []cases.Person, category string, extra ...cases.LocalWrite) *cases.Case {
		in := append(without(registration(), "petitioners"), lw("petitioners", ps), lw("category", category))
		c, err := cases.Preview(id, append(in, extra...))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	earlier := mk("E1", person, "劳动社保")
	concluded := caseAt(t, cases.MatterPetition, cases.Closed, map[string][]byte{"rereview_served_at": ms(daysAgo(100)),
		"category": str("劳动社保")})
	concluded.ID = "E0"
	unrelated := mk("E2", person, "城乡建设")
	stranger := mk("E3", other, "劳动社保")

	now := mk("N", person, "劳动社保")
	f := cases.FindRepeats(now, []*cases.Case{earlier, concluded, unrelated, stranger, now})
	if !slices.Equal(f.Earlier, []string{"E0", "E1"}) || f.Final != "E0" {
		t.Fatalf("finding %+v, want repeats E0, E1 and E0 concluded", f)
	}
	fe := cases.CheckNotConcluded(now, f, "3204-26-420")
	if fe == nil {
		t.Fatal("a registration of a matter concluded by 复核 was not refused")
	}
	wantRule(t, fe, "petitioners", "not_accepted_again", "R22 Art 36(3)")
	if fe.Related != "E0" || !strings.Contains(fe.Zh, "3204-26-420") {
		t.Errorf("the refusal points at %q (%s), want E0 by its number", fe.Related, fe.Zh)
	}
	withNew := mk("N2", person, "劳动社保", lw("new_facts", "用人单位已于2026年另行承诺补发，至今未兑现"))
	if err := cases.CheckNotConcluded(withNew, cases.FindRepeats(withNew, []*cases.Case{concluded}), ""); err != nil {
		t.Errorf("new facts and reasons: %v", err)
	}
	if f := cases.FindRepeats(mk("N3", person, "婚姻家庭"), []*cases.Case{earlier, concluded}); len(f.Earlier) != 0 {
		t.Errorf("another matter of the same person is a repeat: %+v", f)
	}
	if got := cases.ResidentIDs(now); !slices.Equal(got, []string{goodID}) {
		t.Errorf("ResidentIDs = %v", got)
	}
}
