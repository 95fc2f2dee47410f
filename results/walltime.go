package results

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Timings are where one trial's wall time went on a cluster, in seconds.
type Timings struct {
	// RolloutS is install-or-upgrade until every workload is ready.
	RolloutS float64 `json:"rollout_s"`
	// SettleS is the settle wait and the health check after the rollout.
	SettleS float64 `json:"settle_s"`
	// LoadS is the load: the users' ramp and the measured window.
	LoadS float64 `json:"load_s"`
}

// Total is the trial's wall time.
func (t Timings) Total() float64 { return t.RolloutS + t.SettleS + t.LoadS }

// AddTimings sums the timings of two runs of one trial (a screen and the
// full load); nil counts as nothing, and two nils stay nil.
func AddTimings(a, b *Timings) *Timings {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	return &Timings{RolloutS: a.RolloutS + b.RolloutS, SettleS: a.SettleS + b.SettleS, LoadS: a.LoadS + b.LoadS}
}

func (t Timings) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"timings.rollout_s", t.RolloutS}, {"timings.settle_s", t.SettleS}, {"timings.load_s", t.LoadS}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%s is %v", f.name, f.v)
		}
	}
	return nil
}

// WallTime is what a study costs in wall time on a cluster: measured on
// the cluster it ran on, or, for a study on the model, estimated from what
// each of its trials would cost there.
type WallTime struct {
	// Measured: the study ran on a cluster and these are its own figures;
	// otherwise they are an estimate (see Assumption).
	Measured bool `json:"measured"`
	Trials   int  `json:"trials"`  // trials done
	Planned  int  `json:"planned"` // the study's --trials
	// PerTrial is the mean rollout, settle and load of the trials that
	// record them.
	PerTrial Timings `json:"per_trial"`
	// SpentS is the wall time of the trials done; RemainingS the rest of
	// the study at the mean per trial so far (0 when done).
	SpentS     float64 `json:"spent_s"`
	RemainingS float64 `json:"remaining_s"`
	// Assumption says where an estimate's rollout and settle come from
	// ("rollout 1m0s assumed from ..., settle 30s from ...").
	Assumption string `json:"assumption,omitempty"`
}

// MeasuredWallTime is a cluster study's wall time: each trial's own
// wall-clock duration (DurationS: render, deploy, settle, load, also for a
// trial whose rollout failed), the breakdown averaged over the trials that
// record Timings, and the rest of the study at the mean duration so far.
func MeasuredWallTime(trials []Trial, planned int) WallTime {
	w := WallTime{Measured: true, Trials: len(trials), Planned: planned}
	var sum Timings
	n := 0
	for _, t := range trials {
		w.SpentS += t.DurationS
		if t.Timings != nil {
			sum, n = *AddTimings(&sum, t.Timings), n+1
		}
	}
	if n > 0 {
		w.PerTrial = Timings{RolloutS: sum.RolloutS / float64(n), SettleS: sum.SettleS / float64(n), LoadS: sum.LoadS / float64(n)}
	}
	if len(trials) > 0 && planned > len(trials) {
		w.RemainingS = float64(planned-len(trials)) * w.SpentS / float64(len(trials))
	}
	return w
}

// EstimatedWallTime is what a study on the model would cost on a cluster:
// each trial at cost(trial) (a rollout and settle as assumed, the load the
// trial ran), the rest of the study at the mean so far. assumption says
// where cost's figures come from.
func EstimatedWallTime(trials []Trial, planned int, cost func(Trial) Timings, assumption string) WallTime {
	w := WallTime{Trials: len(trials), Planned: planned, Assumption: assumption}
	var sum Timings
	for _, t := range trials {
		c := cost(t)
		sum = *AddTimings(&sum, &c)
	}
	w.SpentS = sum.Total()
	if n := float64(len(trials)); n > 0 {
		w.PerTrial = Timings{RolloutS: sum.RolloutS / n, SettleS: sum.SettleS / n, LoadS: sum.LoadS / n}
		if planned > len(trials) {
			w.RemainingS = float64(planned-len(trials)) * w.SpentS / n
		}
	}
	return w
}

// String is the summary's line:
//
//	wall time on the cluster: 12 trials in 58m0s (per trial: rollout 1m32s, settle 31s, load 3m10s); 38 more to 50 trials: about 3h4m
//	on a cluster these 4 trials would take about 18m40s: 4m40s each (load 3m10s, rollout 1m0s assumed from ..., settle 30s from ...)
func (w WallTime) String() string {
	p := w.PerTrial
	parts := fmt.Sprintf("rollout %s, settle %s, load %s", dur(p.RolloutS), dur(p.SettleS), dur(p.LoadS))
	var b strings.Builder
	if w.Measured {
		fmt.Fprintf(&b, "wall time on the cluster: %d trials in %s", w.Trials, dur(w.SpentS))
		if p.Total() > 0 {
			fmt.Fprintf(&b, " (per trial: %s)", parts)
		}
	} else {
		per := 0.0
		if w.Trials > 0 {
			per = w.SpentS / float64(w.Trials)
		}
		if w.Assumption != "" {
			parts = fmt.Sprintf("load %s, %s", dur(p.LoadS), w.Assumption)
		}
		fmt.Fprintf(&b, "on a cluster these %d trials would take about %s: %s each (%s)", w.Trials, dur(w.SpentS), dur(per), parts)
	}
	if w.RemainingS > 0 {
		fmt.Fprintf(&b, "; %d more to %d trials: about %s", w.Planned-w.Trials, w.Planned, dur(w.RemainingS))
	}
	return b.String()
}

// dur writes seconds as a duration rounded to the second ("3m10s").
func dur(s float64) string {
	return (time.Duration(math.Round(s)) * time.Second).String()
}
