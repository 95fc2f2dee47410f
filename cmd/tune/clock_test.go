package main

import "time"

// The progress display's clock advances one second each time it is read,
// so the golden study output shows the same time per trial and ETA on
// every run.
func init() {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	progressNow = func() time.Time { t = t.Add(time.Second); return t }
}
