package helm

import (
	"testing"
	"time"
)

func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Minute: "2m", 90 * time.Second: "1m30s", 8 * time.Second: "8s",
		time.Hour: "1h", 90 * time.Minute: "1h30m", 8400 * time.Millisecond: "8s",
	} {
		if got := roundDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestSchedulerMessage(t *testing.T) {
	for in, want := range map[string]string{
		"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.":                                                                                                              "0/1 nodes are available: 1 Insufficient cpu",
		"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.": "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)",
		"0/3 nodes are available: 3 node(s) had untolerated taint {tune.dify.dev/pool: weaviate}.":                                                                                                                                                       "0/3 nodes are available: 3 node(s) had untolerated taint {tune.dify.dev/pool: weaviate}",
	} {
		if got := schedulerMessage(in); got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}
