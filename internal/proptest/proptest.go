// Package proptest holds what the property tests of several packages share: the
// FENGQIAO_PROPTEST_SCALE knob that runs them larger.
package proptest

import (
	"flag"
	"fmt"
	"os"
	"strconv"
)

// Scale reads FENGQIAO_PROPTEST_SCALE (a positive integer, default 1) and multiplies rapid's
// -rapid.checks by it. Call it from TestMain after flag.Parse; it exits the test binary with
// status 2 on a bad value.
func Scale() int {
	s := os.Getenv("FENGQIAO_PROPTEST_SCALE")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "FENGQIAO_PROPTEST_SCALE=%q: want a positive integer\n", s)
		os.Exit(2)
	}
	if f := flag.Lookup("rapid.checks"); f != nil {
		checks, err := strconv.Atoi(f.Value.String())
		if err == nil {
			err = flag.Set("rapid.checks", strconv.Itoa(checks*n))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "scale -rapid.checks: %v\n", err)
			os.Exit(2)
		}
	}
	return n
}
