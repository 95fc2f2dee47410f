package results

// Metrics are the figures a trial is judged by, as trials.jsonl writes them.
type Metrics struct {
	TPS       float64 `json:"tps"`         // successful completions per second in the measured window
	P50       float64 `json:"p50_ms"`      // total time (request sent → end event), milliseconds
	P95       float64 `json:"p95_ms"`      //
	P99       float64 `json:"p99_ms"`      //
	TTFBP95   float64 `json:"ttfb_p95_ms"` // time to response headers, P95
	ErrorRate float64 `json:"error_rate"`  // failed / (failed + completed)
}

// Measurement is what one evaluation of a configuration yields: the metrics,
// the counts behind them and, where the target can tell, each service's CPU
// utilisation (0..1 of its allocation), which names the bottleneck.
type Measurement struct {
	Metrics     Metrics            `json:"metrics"`
	Completed   int                `json:"completed"`
	Failed      int                `json:"failed"`
	Errors      map[string]int     `json:"errors,omitempty"` // error kind → count
	Utilisation map[string]float64 `json:"utilisation,omitempty"`
	// Timings, from a target that deploys, is where the trial's time
	// went; the trial record keeps it.
	Timings *Timings `json:"timings,omitempty"`
	// Scenarios, for a mixed load where the target can tell them apart,
	// are each scenario's own figures; Metrics are over all requests.
	Scenarios map[string]Part `json:"scenarios,omitempty"`
}

// Part is one scenario's share of a mixed load: its users and the figures
// of its requests alone.
type Part struct {
	Users     int     `json:"users"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Metrics   Metrics `json:"metrics"`
}
