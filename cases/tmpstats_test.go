package cases_test

import (
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"pgregory.net/rapid"
)

func TestTmpStats(t *testing.T) {
	sizes := map[int]int{}
	kinds := map[string]int{}
	conflicts := 0
	rapid.Check(t, func(rt *rapid.T) {
		h := genHistory(rt, 24)
		sizes[len(h.ops)/5*5]++
		for _, k := range h.kinds {
			kinds[k]++
		}
		c := stateOf(foldAll(h))
		if len(c.Conflicts) > 0 {
			conflicts++
		}
	})
	t.Log(sizes, kinds, conflicts)
}

func foldAll(h history) *cases.Case { return cases.Fold(caseID, h.ops) }
