package release

import (
	"fmt"
	"time"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// AssumedRollout is the rollout a trial is assumed to take on a real
// cluster when the study ran on the model, which has no rollout. It is an
// assumption, not a measurement: in the community chart the api's
// readiness probe first runs 10 s after the container starts and then
// every 10 s, so a new pod is ready at the first probe after gunicorn has
// imported Dify (20 to 30 s on one core), and a Deployment of up to four
// replicas under the default rolling update (25% surge, 25% unavailable)
// rolls in two such waves while PostgreSQL's StatefulSet restarts beside
// it. Images are assumed cached on the nodes. A --target helm study
// measures its own (results.Timings).
const AssumedRollout = 60 * time.Second

// AssumedTimings is what one trial of sp whose load takes loadS seconds
// would cost on a cluster: AssumedRollout, the space's settle time
// (target.helm.timeouts.settle, else its default) and the load.
func AssumedTimings(sp *spaces.Space, loadS float64) results.Timings {
	return results.Timings{RolloutS: AssumedRollout.Seconds(), SettleS: settleOf(sp).Seconds(), LoadS: loadS}
}

// Assumption says where AssumedTimings' figures come from, for the
// summary.
func Assumption(sp *spaces.Space) string {
	from := "the space's target.helm"
	if sp.Target.Helm == nil {
		from = "tune's default"
	}
	return fmt.Sprintf("rollout %s assumed from the chart's readiness probes and rolling update, settle %s from %s",
		AssumedRollout, settleOf(sp), from)
}

func settleOf(sp *spaces.Space) time.Duration {
	if sp.Target.Helm == nil {
		return spaces.DefaultSettle
	}
	return sp.Target.Helm.Timeouts.Settle
}

// EstimatedWallTime is what a study of sp on the model (or the emulator)
// would cost on a cluster: every trial at AssumedTimings with the loads it
// ran, the rest of the study to planned trials at the mean so far. With
// screening (screenLoadS > 0) a pruned or screened trial ran only its
// screen; a promotion the full load, after a rollout of its configuration
// (it is no longer deployed); a complete trial that is neither ran its
// screen and then the full load from zero (warm: one rollout). Without,
// every trial ran fullLoadS.
func EstimatedWallTime(sp *spaces.Space, trials []results.Trial, planned int, fullLoadS, screenLoadS float64) results.WallTime {
	return results.EstimatedWallTime(trials, planned, func(t results.Trial) results.Timings {
		switch {
		case screenLoadS <= 0, t.Origin == results.OriginPromoted:
			return AssumedTimings(sp, fullLoadS)
		case t.State == results.StatePruned, t.Screened():
			return AssumedTimings(sp, screenLoadS)
		case t.State == results.StateComplete:
			return AssumedTimings(sp, screenLoadS+fullLoadS)
		}
		return AssumedTimings(sp, fullLoadS) // failed: where is not recorded
	}, Assumption(sp))
}
