package bench

import "syscall"

// CPUSeconds returns the CPU time (user + system) this process has used so far, all threads
// (getrusage RUSAGE_SELF), or 0 where it cannot be read. Benchmarks report deltas per phase:
// on a shared machine CPU per op is steadier than wall time.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
