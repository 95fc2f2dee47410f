//go:build race

package loader_test

// raceEnabled widens timing tolerances: the race detector slows the
// client several-fold, and that shows in latency.
const raceEnabled = true
