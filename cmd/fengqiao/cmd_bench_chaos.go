package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fengqiao/fengqiao/internal/bench"
	"github.com/fengqiao/fengqiao/internal/chaos"
)

// errChaosViolations is returned when a chaos run found a broken promise (exit status 1).
var errChaosViolations = errors.New("chaos run found violations / 故障演练发现问题")

// benchChaos runs `fengqiao bench chaos`: this binary is every process of the run. Without
// --dir the run's stores and logs go to a temporary directory, removed after a clean run and
// kept (and named) after a failed one. --stations defaults to 20 here.
func benchChaos(ctx context.Context, env *Env, fs *flag.FlagSet, cfg chaos.Config) error {
	fmt.Fprintf(env.Stdout, "fengqiao bench chaos: machine %+v\n", bench.ThisMachine())
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if !explicit["stations"] {
		cfg.Stations = 20
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Exe = exe
	keep := cfg.Dir != ""
	if !keep {
		if cfg.Dir, err = os.MkdirTemp("", "fengqiao-chaos-"); err != nil {
			return err
		}
	}
	res, err := chaos.Run(ctx, cfg)
	printChaos(env, res)
	if err == nil && res.OK && !keep {
		_ = os.RemoveAll(cfg.Dir)
	} else {
		fmt.Fprintf(env.Stdout, "stores and logs kept in %s\n", cfg.Dir)
	}
	if jerr := json.NewEncoder(env.Stdout).Encode(res); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil {
		return err
	}
	if !res.OK {
		return errChaosViolations
	}
	return nil
}

func printChaos(env *Env, r chaos.Result) {
	w := env.Stdout
	f := r.Faults
	fmt.Fprintf(w, "topology          %d stations, 3 + 3 hub members (county → city), seed %d\n", r.Stations, r.Seed)
	fmt.Fprintf(w, "faults            %d in %.0f s: %d station kills, %d orderly restarts, %d hub member kills (%d leaders), %d clock shifts,\n",
		r.FaultsInjected, r.Seconds, f.StationKills, f.StationRestarts, f.HubKills, f.LeaderKills, f.ClockShifts)
	fmt.Fprintf(w, "                  links: %d cut, %d blocked, %d slowed, %d lossy (%d on the uplink)\n", f.LinkCuts, f.LinkBlocks, f.LinkSlow, f.LinkLossy, f.UplinkFaults)
	fmt.Fprintf(w, "ops               %d acknowledged by stations, %d at the county, %d cases, %d replicas checked\n", r.OpsAcknowledged, r.OpsTotal, r.Cases, r.Checked)
	fmt.Fprintf(w, "after the heal    converged in %.1f s\n", r.ConvergeSeconds)
	fmt.Fprintf(w, "violations        lost %d, missing %d, duplicated %d, altered %d, chain failures %d, state mismatches %d, equivocations %d, quarantined %d\n",
		r.Lost, r.Missing, r.Duplicated, r.Altered, r.ChainFailures, r.StateMismatches, r.Equivocations, r.Quarantined)
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  - %s\n", strings.ReplaceAll(v, "\n", "\n    "))
	}
}
