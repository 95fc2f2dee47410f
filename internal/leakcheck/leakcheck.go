// Package leakcheck fails a test whose goroutines outlive it.
//
// Imports of this module: nothing.
package leakcheck

import (
	"runtime"
	"testing"
	"time"
)

// Check fails t if goroutines started during the test are still running a
// few seconds after it (servers and clients take a moment to wind down).
// Call it first, so that its cleanup runs after the test's other cleanups.
func Check(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}
