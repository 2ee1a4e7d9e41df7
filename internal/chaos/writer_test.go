package chaos

import (
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/node"
)

// The accusations the chaos writers register are valid writes that replicas route as the
// rule says: one of the writer's own unit stays there only as a stub; at the county hub
// either is kept out of the scopes of the township (whose stations subscribe to it) and of
// the accused station; and the check reads who is accused from the case id.
func TestWriter_AccusationsAreRoutedAwayFromTheAccused(t *testing.T) {
	const township = "420323100" // 竹山县城关镇
	open := func(id, region string) *node.Replica {
		r, err := node.Open(filepath.Join(t.TempDir(), id), node.Options{NodeID: id, Region: region, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	r, hub := open("st-01", township), open("zs-hub", "420323")
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UnixMilli()
	villages := villagesOf(township)
	for _, accused := range []string{"st-01", "st-02"} {
		id := "st-01-0000-" + accused + AccusedMark + accused
		ch := accusation(registration(rng, "x", villages[0], "chaos-0", now), id, township, accused)
		if _, err := r.Write(t.Context(), ch); err != nil {
			t.Fatalf("accusation of %s refused: %v", accused, err)
		}
		if got := AccusedStation(id); got != accused {
			t.Errorf("AccusedStation(%q) = %q, want %q", id, got, accused)
		}
		if left := r.IsLeft(id); left != (accused == "st-01") {
			t.Errorf("accusation of %s: stub at its writer st-01 = %v", accused, left)
		}
		if _, err := hub.Write(t.Context(), ch); err != nil {
			t.Fatalf("accusation of %s refused at the hub: %v", accused, err)
		}
		scopes, err := hub.CaseScopes(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(scopes) == 0 || slices.Contains(scopes, node.ScopeOfRegion(township)) || slices.Contains(scopes, node.ScopeOfStation(accused)) {
			t.Errorf("accusation of %s is in scopes %v: it would reach the accused unit's stations", accused, scopes)
		}
	}
	if AccusedStation("st-01-0000abcd-5-1a2b") != "" {
		t.Error("a plain case id reads as an accusation")
	}
}
