package wait

import (
	"context"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	if !Until(context.Background(), tm, time.Now().Add(time.Millisecond)) {
		t.Error("a short sleep reports an end")
	}
	if !Until(context.Background(), tm, time.Now().Add(-time.Second)) {
		t.Error("a time already past reports an end")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Until(ctx, tm, time.Now().Add(time.Hour)) {
		t.Error("an ended context sleeps on")
	}
	if Until(ctx, tm, time.Now().Add(-time.Second)) {
		t.Error("an ended context with a past time reports true")
	}
}
