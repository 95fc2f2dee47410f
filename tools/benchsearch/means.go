package main

import (
	"context"
	"fmt"
	"sync"

	"gonum.org/v1/gonum/stat"

	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

// Scoring by means. A single measurement of the model carries its seed's
// noise, and both sides of "95% of the optimum" are picked as the best of
// many single measurements: the optimum as the best of thousands of
// evaluations with optimumSeed, a study's best trial as the best of its own
// noisy trials. Both are inflated by selection on the noise (8c16g chatflow
// on today's topology: 65.9 TPS with seed 1, 63.8 on average over other
// seeds). The bench therefore judges configurations by their mean over the
// same fixed noise seeds: the optimum's, and that of the configuration a
// study would recommend after each trial.

// noiseSeeds are the model seeds a configuration's mean is taken over. The
// optimum search's own seed (optimumSeed, 1) is not among them: the optimum
// was chosen as the best of thousands of runs with it, and its seed-1 figure
// is the highest of twelve seeds on 9 of the 11 base cases. Ten runs put the
// mean's standard error at a third of one run's noise (0.5-1.5% of the TPS
// on the suite).
var noiseSeeds = []int64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

// mean is a configuration measured with every noise seed.
type mean struct {
	TPS, P95, ErrorRate float64
	SD                  float64 // TPS standard deviation over the seeds
	Failed              bool    // some seed's evaluation failed: never a recommendation
}

// metrics are the mean's figures as the SLO judges them.
func (m mean) metrics() results.Metrics {
	return results.Metrics{TPS: m.TPS, P95: m.P95, ErrorRate: m.ErrorRate}
}

// feasible reports whether the mean meets the case's SLO: mean P95 and
// error rate within it, every seed's run completed.
func (m mean) feasible(p *problem) bool {
	return !m.Failed && search.Feasible(m.metrics(), p.sp.Objective)
}

// measureMean evaluates sys with every noise seed.
func measureMean(ctx context.Context, p *problem, sys spaces.System) mean {
	var tps, p95, errs []float64
	for _, s := range noiseSeeds {
		m, err := p.model(s).Evaluate(ctx, sys, p.w)
		if err != nil {
			return mean{Failed: true}
		}
		tps, p95, errs = append(tps, m.Metrics.TPS), append(p95, m.Metrics.P95), append(errs, m.Metrics.ErrorRate)
	}
	mu, sd := stat.MeanStdDev(tps, nil)
	return mean{TPS: mu, SD: sd, P95: stat.Mean(p95, nil), ErrorRate: stat.Mean(errs, nil)}
}

// means caches one case's configurations' means: every study of every
// sampler of the case asks for the same few incumbents. Concurrent askers
// of one configuration wait for the first one's measurement.
type means struct {
	p  *problem
	mu sync.Mutex
	by map[string]*meanEntry
	// evaluations counts the model runs spent on means (the bench's own
	// cost, not any study's).
	evaluations int
}

type meanEntry struct {
	once sync.Once
	m    mean
}

func newMeans(p *problem) *means { return &means{p: p, by: map[string]*meanEntry{}} }

// of is the mean of the configuration params (a trial's).
func (c *means) of(params map[string]any) (mean, error) {
	sys, err := c.p.sp.Resolve(c.p.b, params)
	if err != nil {
		return mean{}, fmt.Errorf("%s: re-measure: %w", c.p.Name(), err)
	}
	key := sysKey(sys)
	c.mu.Lock()
	e, ok := c.by[key]
	if !ok {
		e = &meanEntry{}
		c.by[key] = e
		c.evaluations += len(noiseSeeds)
	}
	c.mu.Unlock()
	e.once.Do(func() { e.m = measureMean(context.Background(), c.p, sys) })
	return e.m, nil
}
