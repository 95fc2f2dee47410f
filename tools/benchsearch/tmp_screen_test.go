package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/tune-dify/tune/results"
)

func TestTmpScreen(t *testing.T) {
	chdirRoot(t)
	byName := map[string]benchCase{}
	for _, c := range suite() {
		byName[c.Name()] = c
	}
	for _, name := range []string{"default/16c32g/llm"} {
		p, _ := load(byName[name])
		o := options{seeds: 1, maxTrials: 25, jobs: 1}
		s, _ := benchStudy(p, "guided", 0.25, false, 3, o)
		var cfgs []map[string]any
		s.OnTrial = func(tr results.Trial, _ *results.Trial) {
			if tr.State == results.StateComplete {
				cfgs = append(cfgs, tr.Params)
			}
		}
		s.Run(context.Background())
		for _, scr := range []time.Duration{20 * time.Second, 60 * time.Second} {
			var rt, rp []float64
			for _, c := range cfgs {
				sys, _ := p.sp.Resolve(p.b, c)
				var ft, fp []float64
				for sd := int64(2); sd <= 4; sd++ {
					m, err := p.model(sd).Evaluate(context.Background(), sys, p.w)
					if err != nil {
						continue
					}
					ft, fp = append(ft, m.Metrics.TPS), append(fp, m.Metrics.P95)
				}
				if len(ft) == 0 {
					continue
				}
				w := p.w
				w.Duration = scr
				for sd := int64(5); sd <= 6; sd++ {
					m, err := p.model(sd).Evaluate(context.Background(), sys, w)
					if err != nil {
						continue
					}
					if name == "default/16c32g/llm" && scr == time.Minute && sd == 5 {
						fmt.Printf("  llm full %.1f/%.0f screen %.1f/%.0f completed %d\n", stat.Mean(ft, nil), stat.Mean(fp, nil), m.Metrics.TPS, m.Metrics.P95, m.Completed)
					}
					rt = append(rt, m.Metrics.TPS/stat.Mean(ft, nil))
					rp = append(rp, m.Metrics.P95/stat.Mean(fp, nil))
				}
			}
			mt, st := stat.MeanStdDev(rt, nil)
			mp, sp := stat.MeanStdDev(rp, nil)
			fmt.Printf("%-25s screen %v: n %d  TPS ratio %.3f sd %.3f  P95 ratio %.3f sd %.3f\n", name, scr, len(rt), mt, st, mp, sp)
		}
	}
}
