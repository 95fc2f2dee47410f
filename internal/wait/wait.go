// Package wait holds the one bounded sleep the load loops share: until a
// time, on a reusable timer, or until the context ends.
//
// Imports of this module: nothing.
package wait

import (
	"context"
	"time"
)

// Until sleeps on tm until t; false if ctx ends first. tm is reused across
// calls so a loop does not allocate a timer per sleep.
func Until(ctx context.Context, tm *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm.Reset(d)
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		tm.Stop()
		return false
	}
}
