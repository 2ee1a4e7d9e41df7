package crdt_test

import (
	"flag"
	"math/rand/v2"
	"os"
	"testing"

	"pgregory.net/rapid"

	"github.com/fengqiao/fengqiao/internal/proptest"
)

// propScale is FENGQIAO_PROPTEST_SCALE (default 1). At scale n, every rapid property runs n
// times as many checks (-rapid.checks is multiplied by n), the seeded loops run n times as
// many histories, and histories grow by sizeFactor.
var propScale = 1

func TestMain(m *testing.M) {
	flag.Parse()
	propScale = proptest.Scale()
	os.Exit(m.Run())
}

// sizeFactor grows history sizes with the scale: 1 below 10, 2 below 100, 3 from 100.
func sizeFactor() int {
	f := 1
	for s := propScale; s >= 10; s /= 10 {
		f++
	}
	return f
}

// sized returns n scaled by sizeFactor.
func sized(n int) int { return n * sizeFactor() }

// chooser is the source of every random choice of a generated history, so one history
// generator serves rapid (which records, shrinks and prints the choices) and plain seeded
// loops (which can count failures instead of failing).
type chooser interface {
	// intn returns a number in [0, n). n must be positive.
	intn(label string, n int) int
}

type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) intn(label string, n int) int {
	return rapid.IntRange(0, n-1).Draw(c.t, label)
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(_ string, n int) int { return c.r.IntN(n) }

func newRandChooser(seed uint64) randChooser {
	return randChooser{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// oneIn reports true with probability 1/n.
func oneIn(c chooser, label string, n int) bool { return c.intn(label, n) == 0 }

// shuffle returns a random permutation of 0..n-1.
func shuffle(c chooser, label string, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := c.intn(label, i+1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
