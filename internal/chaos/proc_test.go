package chaos

import (
	"net"
	"strconv"
	"testing"
)

// The controller's addresses must stay out of the range outgoing connections draw from, or
// a restarted process may find its port taken (a 10-minute run lost st-02 to it).
func TestFreeAddr_BelowEphemeralRangeAndNeverTwice(t *testing.T) {
	lo, hi := listenRange()
	seen := map[string]bool{}
	for range 200 {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, ps, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(ps)
		if port < lo || port >= hi {
			t.Fatalf("%s outside %d-%d", addr, lo, hi)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		ln.Close()
	}
}
