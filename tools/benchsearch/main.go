// Command benchsearch measures how fast the search finds the best split on
// the embedded model, over a suite of cases (space, budget, scenario): per
// case and sampler, trials and load-seconds until the configuration a study
// would recommend is within 5% of the case's recorded true optimum (median
// and p90 over seeds), and how close it is after 15, 25 and 40 trials.
//
// Both sides are judged by means over fixed model seeds (noiseSeeds), not
// by single noisy runs: the optimum was picked as the best of thousands of
// runs and a study's best trial as the best of its own, and each is
// inflated by that selection. After every trial the study's incumbent (its
// best SLO-feasible trial by its own measurements, what tune would
// recommend) is measured with every noise seed; it counts once its mean TPS
// is at least 95% of the optimum's mean and its mean P95 meets the SLO.
// The bench fails loudly when any trial's configuration averages above a
// recorded optimum's mean by more than the noise: the optimum would then be
// wrong.
//
// The optima come from optima.json; -recompute (or a case missing from the
// file) runs the optimum search (see findOptimum) and writes it back; a
// record from before means (or other noise seeds) is re-measured and
// written back.
//
//	go run ./tools/benchsearch                     # the whole suite
//	go run ./tools/benchsearch -quick              # CI-sized: 4 cases, 3 samplers, 5 seeds, 40 trials
//	go run ./tools/benchsearch -cases seed/8c16g/chatflow -recompute
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/target/release"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchsearch:", err)
		if errors.Is(err, errBadInput) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var (
	errBadInput = errors.New("bad input")
	errBeaten   = errors.New("a trial beat a recorded optimum by more than the noise")
)

// options are the flags.
type options struct {
	cases      []string
	samplers   []string
	seeds      int
	maxTrials  int
	optimaFile string
	jsonFile   string
	recompute  bool
	jobs       int
	pilots     int
	climbs     int
	kicks      int
	screen     time.Duration
	// screenCompletions is search.Study.ScreenCompletions for guided+prune.
	screenCompletions int
	// promoteAfter is search.Study.PromoteAfter for guided+prune.
	promoteAfter int
	confirmTop   int
	confirmRep   int
	trace        bool
	starts       string
	// variants is variants.yaml ("": no perturbed models), variantSeed
	// the seed its variants are drawn with, variantOptima where their
	// optima are recorded.
	variants      string
	variantSeed   uint64
	variantOptima string
}

// samplerNames are the bench's samplers: a search.Samplers name, or one
// with a variant after "+" (guided+prune: screening, promotion and
// confirmation, as tune --screen --confirm; tpe-pure: goptuna's TPE without
// local moves).
const samplerHelp = "guided (reads utilisation), guided+prune (with screening and confirmation), tpe (TPE + 25% local moves), tpe-pure, random, cmaes, sobol"

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchsearch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	cases := fs.String("cases", "all", "comma-separated case names (space/budget/scenario), or all")
	samplers := fs.String("samplers", "guided,guided+prune,tpe,tpe-pure,random", "comma-separated samplers: "+samplerHelp)
	quick := fs.Bool("quick", false, "CI-sized run: 4 cases with recorded optima (one of today's topology), guided, guided+prune and random, 5 seeds, 40 trials")
	fs.IntVar(&o.seeds, "seeds", 10, "studies per case and sampler, each its own seed (1..N); the medians and p90 are over them")
	fs.IntVar(&o.maxTrials, "max-trials", 60, "trials per study; one that never gets within 5% counts as more")
	fs.StringVar(&o.optimaFile, "optima", "tools/benchsearch/optima.json", "recorded true optima (read; written for cases searched)")
	fs.StringVar(&o.jsonFile, "json", "", "also write the table as JSON to this file")
	fs.BoolVar(&o.recompute, "recompute", false, "search the optima of the chosen cases again")
	fs.IntVar(&o.jobs, "jobs", 2, "evaluations or studies run at once")
	fs.IntVar(&o.pilots, "pilots", 40, "random pilot configurations of the optimum search")
	fs.IntVar(&o.climbs, "climbs", 3, "hill climbs of the optimum search, from its best distinct points")
	fs.IntVar(&o.kicks, "kicks", 3, "perturbed restarts of the optimum search's hill climbing")
	fs.DurationVar(&o.screen, "screen", 15*time.Second, "guided+prune: the screening load (after the users' ramp, which it also costs)")
	fs.IntVar(&o.screenCompletions, "screen-completions", 0, "guided+prune: lengthen each screen to the time the best trial takes to complete this many requests (0: -screen as it is)")
	fs.IntVar(&o.promoteAfter, "promote-after", 0, "guided+prune: trials the best screen stands before its full load (0: tune's default; negative: only with the study's last trial)")
	fs.IntVar(&o.confirmTop, "confirm-top", 3, "guided+prune: candidates re-measured before the recommendation")
	fs.IntVar(&o.confirmRep, "confirm-repeats", 2, "guided+prune: re-measurements per candidate")
	fs.BoolVar(&o.trace, "trace", false, "print every trial of every study to stderr")
	fs.StringVar(&o.starts, "starts", "", "comma-separated earlier -json reports: their beaten trials start the optimum search's climbs")
	fs.StringVar(&o.variants, "variants", "tools/benchsearch/variants.yaml", "perturbed models: the declared ranges of the model's constants and the base cases that get variants (\"\": none)")
	fs.Uint64Var(&o.variantSeed, "variant-seed", 1, "seed the variants' constants are drawn with")
	fs.StringVar(&o.variantOptima, "optima-variants", "tools/benchsearch/optima-variants.json", "recorded optima of the variants (read; written for variants searched)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errBadInput, err)
	}
	o.cases, o.samplers = strings.Split(*cases, ","), strings.Split(*samplers, ",")
	if *quick {
		o.cases = quickSuite()
		o.samplers = []string{"guided", "guided+prune", "random"}
		o.seeds, o.maxTrials = 5, 40
	}
	if *cases == "all" && !*quick {
		o.cases = nil
		for _, c := range suite() {
			o.cases = append(o.cases, c.Name())
		}
	}
	if o.seeds < 1 || o.maxTrials < 1 || o.jobs < 1 {
		return fmt.Errorf("%w: -seeds, -max-trials and -jobs must be positive", errBadInput)
	}
	all := suite()
	if o.variants != "" {
		vr, err := readVariants(o.variants)
		if err != nil {
			return err
		}
		vcs, err := variantCases(vr, all, o.variantSeed)
		if err != nil {
			return err
		}
		if *cases == "all" && !*quick {
			for _, c := range vcs {
				o.cases = append(o.cases, c.Name())
			}
		}
		all = append(all, vcs...)
	}
	named := byName(all)
	var chosen []benchCase
	for _, n := range o.cases {
		c, ok := named[n]
		if !ok {
			return fmt.Errorf("%w: -cases: no case %q", errBadInput, n)
		}
		chosen = append(chosen, c)
	}
	for _, s := range o.samplers {
		if _, _, _, err := samplerOf(s); err != nil {
			return fmt.Errorf("%w: -samplers: %w", errBadInput, err)
		}
	}

	optima, err := readRecords[optimum](o.optimaFile)
	if err != nil {
		return err
	}
	vOptima, err := readRecords[variantOptimum](o.variantOptima)
	if err != nil {
		return err
	}
	for name, vo := range vOptima {
		if c, ok := named[name]; ok && c.Variant != nil && c.Variant.Overrides == vo.Overrides {
			optima[name] = vo.optimum // a variant drawn otherwise since is searched again
		}
	}
	starts, err := readStarts(strings.Split(o.starts, ","))
	if err != nil {
		return err
	}
	var probs []*problem
	for _, c := range chosen {
		p, err := load(c)
		if err != nil {
			return err
		}
		probs = append(probs, p)
		opt, ok := optima[c.Name()]
		switch fp := fingerprint(p); {
		case !ok || o.recompute:
			opt, err = searchOptimum(p, o, starts[c.Name()])
		case fp != opt.Fingerprint:
			logf("%s: the model changed since the optimum was found (baseline %.2f TPS, was %.2f): searching again", c.Name(), fp, opt.Fingerprint)
			opt, err = searchOptimum(p, o, starts[c.Name()])
		case opt.byMeans():
			continue
		default:
			was := opt.TPS
			if stale := opt.remeasure(p); stale != nil {
				logf("%v: searching again", stale)
				opt, err = searchOptimum(p, o, starts[c.Name()])
			} else {
				logf("%s: optimum re-measured with seeds %v: %.1f TPS on average (seed %d: %.1f)", c.Name(), noiseSeeds, opt.TPS, optimumSeed, was)
			}
		}
		if err != nil {
			return err
		}
		optima[c.Name()] = opt
		// Written case by case: an optimum costs minutes.
		if c.Variant != nil {
			vOptima[c.Name()] = variantOptimum{optimum: opt, Overrides: c.Variant.Overrides}
			err = writeRecords(o.variantOptima, vOptima)
		} else {
			err = writeRecords(o.optimaFile, baseOptima(optima))
		}
		if err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "trials (and load-seconds) until the configuration a study would recommend (its best SLO-feasible trial by its own\n"+
		"measurements) averages at least 95%% of the optimum's TPS and meets the SLO on average, both averaged over model seeds %s;\n"+
		"%d seeds per case and sampler, %d-trial cap; best@N is the median of that average after N trials as %% of the optimum;\n"+
		"cluster is the median wall time to 95%% on a cluster (each trial: its load, %s); wall is this run's time\n\n",
		seedRange(noiseSeeds), o.seeds, o.maxTrials, release.Assumption(probs[0].sp))
	fmt.Fprintf(stdout, "%-28s %-13s %8s %6s %6s %8s %8s %7s %8s %8s %8s %8s\n",
		"case", "sampler", "optimum", "median", "p90", "load-s", "cluster", "reached", "best@15", "best@25", "best@40", "wall")
	var rows []row
	var beaten []beatenTrial
	for _, p := range probs {
		opt := optima[p.Name()]
		ms := newMeans(p)
		for _, s := range o.samplers {
			start := time.Now()
			r, bad, err := measureSampler(p, opt, ms, s, o)
			if err != nil {
				return err
			}
			r.Wall = time.Since(start).Seconds()
			rows = append(rows, r)
			beaten = append(beaten, bad...)
			fmt.Fprintln(stdout, r.line(o.maxTrials))
		}
		logf("%s: %d configurations measured with every noise seed (%d runs)", p.Name(), len(ms.by), ms.evaluations)
	}
	fmt.Fprintf(stdout, "\n* a case the guide's defaults were chosen on; the others are held out\n")
	printScreening(stdout, rows)
	printConfirmations(stdout, rows)
	vrows := variantRows(probs, optima)
	printVariants(stdout, vrows, o.variantSeed)
	if o.jsonFile != "" {
		for i := range rows {
			if v := rows[i].MedianLoadS; !math.IsInf(v, 0) {
				rows[i].MedianLoadSJSON = &v
			}
			if v := rows[i].MedianClusterS; !math.IsInf(v, 0) {
				rows[i].MedianClusterSJSON = &v
			}
		}
		b, err := json.MarshalIndent(report{Seeds: o.seeds, NoiseSeeds: noiseSeeds, MaxTrials: o.maxTrials, Rows: rows, Beaten: beaten,
			VariantSeed: o.variantSeed, Variants: vrows}, "", "  ")
		if err != nil {
			return fmt.Errorf("-json: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(o.jsonFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if len(beaten) > 0 {
		for _, b := range beaten {
			fmt.Fprintln(stderr, "OPTIMUM BEATEN:", b.String())
		}
		return errBeaten
	}
	return nil
}

// searchOptimum runs the optimum search on p and logs what it found.
func searchOptimum(p *problem, o options, starts []map[string]any) (optimum, error) {
	start := time.Now()
	opt, err := findOptimum(p, o.jobs, o.pilots, o.climbs, o.kicks, starts, logf)
	if err != nil {
		return opt, err
	}
	logf("%s: optimum %.1f TPS on average (noise sd %.2f) in %d evaluations, %s", p.Name(), opt.TPS, opt.NoiseSD, opt.Evaluations, time.Since(start).Round(time.Second))
	return opt, nil
}

// baseOptima are the optima of the base cases (variants' names carry "~"):
// optima.json holds only those.
func baseOptima(optima map[string]optimum) map[string]optimum {
	out := map[string]optimum{}
	for name, o := range optima {
		if !strings.Contains(name, "~") {
			out[name] = o
		}
	}
	return out
}

// report is the JSON the bench writes.
type report struct {
	Seeds int `json:"seeds"`
	// NoiseSeeds are the model seeds every optimum and incumbent is
	// averaged over.
	NoiseSeeds []int64       `json:"noise_seeds"`
	MaxTrials  int           `json:"max_trials"`
	Rows       []row         `json:"rows"`
	Beaten     []beatenTrial `json:"beaten,omitempty"`
	// The perturbed models among the cases, drawn with VariantSeed.
	VariantSeed uint64       `json:"variant_seed,omitempty"`
	Variants    []variantRow `json:"variants,omitempty"`
}

// row is one case and sampler. Trial counts above MaxTrials mean "never
// within the cap" (MaxTrials+1).
type row struct {
	Case         string  `json:"case"`
	Tuning       bool    `json:"tuning"` // a case the defaults were chosen on
	Sampler      string  `json:"sampler"`
	Optimum      float64 `json:"optimum_tps"`       // its mean over the noise seeds
	OptimumSeed1 float64 `json:"optimum_tps_seed1"` // its run with the seed it was chosen by
	MedianTrials int     `json:"median_trials_to_95"`
	P90Trials    int     `json:"p90_trials_to_95"`
	MedianLoadS  float64 `json:"-"` // +Inf when the median seed never reaches it
	// MedianLoadSJSON is MedianLoadS in the JSON report: null for +Inf,
	// which JSON cannot carry.
	MedianLoadSJSON *float64 `json:"median_load_seconds_to_95"`
	Reached         int      `json:"reached"`
	Seeds           int      `json:"seeds"`
	Best15          float64  `json:"median_best_at_15"`
	Best25          float64  `json:"median_best_at_25"`
	Best40          float64  `json:"median_best_at_40"`
	Pruned          float64  `json:"pruned_share,omitempty"`
	ConfirmLoadS    float64  `json:"confirm_load_seconds,omitempty"`
	WithinSpread    int      `json:"recommended_within_spread,omitempty"`
	MedianSpreadP   float64  `json:"median_interval_half_width_percent,omitempty"`
	// Recommended is the median mean TPS (over the noise seeds) of what
	// confirmation recommends, LastIncumbent that of the last incumbent,
	// which the study would recommend without it (0 counts a
	// recommendation that misses the SLO on average).
	Recommended   float64 `json:"median_recommended_tps,omitempty"`
	LastIncumbent float64 `json:"median_last_incumbent_tps,omitempty"`
	// MedianLeads is the median number of trials up to 95% (or the cap)
	// that became the study's incumbent (with screening, each a
	// promotion: only a full load is recommended).
	MedianLeads int `json:"median_incumbents_to_95"`
	// MedianPromotions is the median number of promotions (full loads of
	// screened trials) up to 95% or the cap.
	MedianPromotions int     `json:"median_promotions_to_95,omitempty"`
	Wall             float64 `json:"wall_seconds"`

	// MedianClusterS is the median wall time to 95% on a cluster: per
	// trial an assumed rollout and the space's settle plus the trial's
	// load (release.AssumedTimings, as tune's summary estimates a study);
	// +Inf, null in JSON, when the median seed never reaches it.
	MedianClusterS     float64  `json:"-"`
	MedianClusterSJSON *float64 `json:"median_cluster_seconds_to_95"`
	// ClusterCapS is the median cluster time of a whole study (the
	// trial cap): what "not within the cap" costs at least.
	ClusterCapS float64 `json:"median_cluster_seconds_at_cap"`
}

func (r row) line(cap int) string {
	load := "-"
	if !math.IsInf(r.MedianLoadS, 1) {
		load = fmt.Sprintf("%.0f", r.MedianLoadS)
	}
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v/r.Optimum) }
	name := r.Case
	if r.Tuning {
		name += "*"
	}
	minutes := func(s float64) string {
		return strings.TrimSuffix((time.Duration(math.Round(s/60)) * time.Minute).String(), "0s")
	}
	cluster := ">" + minutes(r.ClusterCapS)
	if !math.IsInf(r.MedianClusterS, 1) {
		cluster = minutes(r.MedianClusterS)
	}
	return fmt.Sprintf("%-28s %-13s %8.1f %6s %6s %8s %8s %4d/%-2d %8s %8s %8s %7.0fs",
		name, r.Sampler, r.Optimum, show(r.MedianTrials, cap), show(r.P90Trials, cap), load, cluster, r.Reached, r.Seeds,
		pct(r.Best15), pct(r.Best25), pct(r.Best40), r.Wall)
}

// printScreening sets each sampler with screening and confirmation beside
// the same sampler without: median trials and load-seconds to 95%, the
// promotions (full loads) among those trials, and the ratio of the
// load-seconds (with / without; "-" when either never gets there).
func printScreening(w io.Writer, rows []row) {
	head := false
	for _, pr := range rows {
		base, variant, _ := strings.Cut(pr.Sampler, "+")
		if variant != "prune" {
			continue
		}
		i := slices.IndexFunc(rows, func(r row) bool { return r.Case == pr.Case && r.Sampler == base })
		if i < 0 {
			continue
		}
		r := rows[i]
		if !head {
			fmt.Fprintf(w, "\nscreening: median trials and load-seconds to 95%% without and with screening and promotion, the promotions\n"+
				"(full loads) among the latter's trials, and the ratio of the load-seconds\n")
			fmt.Fprintf(w, "%-28s %-13s %7s %8s %7s %8s %7s %6s\n", "case", "sampler", "trials", "load-s", "trials+", "load-s+", "promos", "ratio")
			head = true
		}
		load := func(v float64) string {
			if math.IsInf(v, 1) {
				return "-"
			}
			return fmt.Sprintf("%.0f", v)
		}
		ratio := "-"
		if !math.IsInf(r.MedianLoadS, 1) && !math.IsInf(pr.MedianLoadS, 1) && r.MedianLoadS > 0 {
			ratio = fmt.Sprintf("%.2f", pr.MedianLoadS/r.MedianLoadS)
		}
		fmt.Fprintf(w, "%-28s %-13s %7d %8s %7d %8s %7d %6s\n", r.Case, base, r.MedianTrials, load(r.MedianLoadS),
			pr.MedianTrials, load(pr.MedianLoadS), pr.MedianPromotions, ratio)
	}
}

func printConfirmations(w io.Writer, rows []row) {
	head := false
	for _, r := range rows {
		if r.ConfirmLoadS == 0 {
			continue
		}
		if !head {
			fmt.Fprintf(w, "\nscreening and confirmation (guided+prune): share of sampler trials pruned, load-seconds spent confirming,\n"+
				"recommended trials whose independent re-measurement fell within the reported 95%% prediction interval,\n"+
				"the interval's median half-width, and the median mean TPS (%% of the optimum) of the recommended configuration\n"+
				"and of the study's last incumbent, its recommendation without confirmation\n")
			fmt.Fprintf(w, "%-28s %-13s %7s %10s %8s %8s %8s %8s\n", "case", "sampler", "pruned", "confirm-s", "within", "±", "recomm.", "last")
			head = true
		}
		fmt.Fprintf(w, "%-28s %-13s %6.0f%% %10.0f %5d/%-2d %7.1f%% %7.1f%% %7.1f%%\n", r.Case, r.Sampler, 100*r.Pruned, r.ConfirmLoadS,
			r.WithinSpread, r.Seeds, r.MedianSpreadP, 100*r.Recommended/r.Optimum, 100*r.LastIncumbent/r.Optimum)
	}
}

// seedRange writes consecutive seeds as a range: "2-11".
func seedRange(seeds []int64) string {
	if len(seeds) > 2 && seeds[len(seeds)-1]-seeds[0] == int64(len(seeds)-1) {
		return fmt.Sprintf("%d-%d", seeds[0], seeds[len(seeds)-1])
	}
	return fmt.Sprint(seeds)
}

func show(x, cap int) string {
	if x > cap {
		return fmt.Sprintf(">%d", cap)
	}
	return fmt.Sprint(x)
}

// samplerOf splits a bench sampler name into search's sampler, the local
// moves share and whether it screens and confirms.
func samplerOf(name string) (sampler string, moves float64, prune bool, err error) {
	base, variant, _ := strings.Cut(name, "+")
	switch {
	case name == "tpe-pure":
		return "tpe", 0, false, nil
	case name == "tpe":
		return "tpe", 0.25, false, nil
	case variant == "prune" && slices.Contains(search.Samplers, base):
		return base, 0.25, true, nil
	case variant == "" && slices.Contains(search.Samplers, base):
		return base, 0.25, false, nil
	}
	return "", 0, false, fmt.Errorf("sampler %q: want one of %s", name, samplerHelp)
}
