package cases_test

import (
	"flag"
	"os"
	"testing"

	"github.com/fengqiao/fengqiao/internal/proptest"
)

// propScale is FENGQIAO_PROPTEST_SCALE (default 1), as in package crdt: at scale n every rapid
// property runs n times as many checks (-rapid.checks is multiplied by n) and histories grow
// (see sized).
var propScale = 1

func TestMain(m *testing.M) {
	flag.Parse()
	propScale = proptest.Scale()
	os.Exit(m.Run())
}

// sized returns n grown with the scale: ×1 below 10, ×2 below 100, ×3 from 100.
func sized(n int) int {
	f := 1
	for s := propScale; s >= 10; s /= 10 {
		f++
	}
	return n * f
}
