package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// State is how a trial ended.
type State string

// The states a trial can end in, as trials.jsonl spells them.
const (
	StateComplete State = "complete" // measured; its metrics count
	StateFailed   State = "failed"   // deploy or load failed (OOM, rollout timeout, ...): see Trial.Error
	StatePruned   State = "pruned"   // stopped early by the search; its metrics are partial
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool {
	return s == StateComplete || s == StateFailed || s == StatePruned
}

// Origin says who proposed a trial's configuration.
type Origin string

// The origins of a trial, as trials.jsonl spells them.
const (
	OriginBaseline Origin = "baseline" // the configuration the user runs today, measured first
	OriginEnqueued Origin = "enqueued" // a preset or user-supplied configuration queued before sampling
	OriginSampler  Origin = "sampler"  // proposed by the search's sampler
	// OriginPromoted is the full load of a configuration an earlier trial
	// measured only with a screen (Trial.PromotedFrom names that trial):
	// a candidate for recommendation measured at full fidelity.
	OriginPromoted Origin = "promoted"
)

// Valid reports whether o is one of the four origins. The empty origin is
// not valid for a new trial but is accepted when reading, so a record written
// by a tool that does not know origins still loads.
func (o Origin) Valid() bool {
	return o == OriginBaseline || o == OriginEnqueued || o == OriginSampler || o == OriginPromoted
}

// Resources are the totals of a trial's configuration that the budget counts.
type Resources struct {
	CPUCores  float64 `json:"cpu_cores"`
	MemoryMiB int64   `json:"memory_mib"`
}

// Trial is one evaluated configuration: one line of trials.jsonl and one row
// of the store. Params values are int64, float64, string or bool (see
// spaces.Config); they keep that type through JSON and the store.
type Trial struct {
	Number      int                `json:"number"` // 0-based, unique within a study
	State       State              `json:"state"`
	Params      map[string]any     `json:"params"`
	Resources   Resources          `json:"resources"`
	Metrics     Metrics            `json:"metrics"`
	Error       string             `json:"error,omitempty"`
	Utilisation map[string]float64 `json:"utilisation,omitempty"` // service → CPU used / allocated, 0..1
	Errors      map[string]int     `json:"errors,omitempty"`      // error kind → count
	Origin      Origin             `json:"origin"`
	Started     time.Time          `json:"started"`
	Finished    time.Time          `json:"finished"`
	DurationS   float64            `json:"duration_s"` // wall-clock seconds, deploy + load
	// Timings is where a cluster trial's time went (rollout, settle,
	// load); nil where the target has no rollout (the model, a failed
	// deploy).
	Timings *Timings `json:"timings,omitempty"`
	// ScreenS, when positive, says the metrics come from a screen: a
	// short load whose measured window was this many seconds, not the
	// study's full load. Such a trial guides the search but is never on
	// the Pareto front nor recommended (see SLO.Meets); a full load of
	// its configuration is a later trial with origin promoted.
	ScreenS float64 `json:"screen_s,omitempty"`
	// PromotedFrom is, for a trial of origin promoted, the screened trial
	// whose configuration it measured at full length.
	PromotedFrom *int `json:"promoted_from,omitempty"`
}

// Screened reports whether t's metrics come from a screen rather than the
// full load.
func (t Trial) Screened() bool { return t.ScreenS > 0 }

// Validate reports what makes t unfit to store, every problem at once.
func (t Trial) Validate() error {
	var errs []error
	if t.Number < 0 {
		errs = append(errs, fmt.Errorf("number %d is negative", t.Number))
	}
	if !t.State.Valid() {
		errs = append(errs, fmt.Errorf("state %q is not complete, failed or pruned", t.State))
	}
	if t.Origin != "" && !t.Origin.Valid() {
		errs = append(errs, fmt.Errorf("origin %q is not baseline, enqueued, sampler or promoted", t.Origin))
	}
	if (t.Origin == OriginPromoted) != (t.PromotedFrom != nil) {
		errs = append(errs, errors.New("origin promoted and promoted_from go together"))
	}
	if t.PromotedFrom != nil && (*t.PromotedFrom < 0 || *t.PromotedFrom >= t.Number) {
		errs = append(errs, fmt.Errorf("promoted_from %d is not an earlier trial", *t.PromotedFrom))
	}
	if t.ScreenS < 0 || math.IsNaN(t.ScreenS) || math.IsInf(t.ScreenS, 0) {
		errs = append(errs, fmt.Errorf("screen_s is %v", t.ScreenS))
	}
	if _, err := encodeParams(t.Params); err != nil {
		errs = append(errs, err)
	}
	// NaN and ±Inf have no JSON form and SQLite stores NaN as NULL: reject
	// them here rather than lose the trial when it is written.
	m := t.Metrics
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"metrics.tps", m.TPS}, {"metrics.p50_ms", m.P50}, {"metrics.p95_ms", m.P95},
		{"metrics.p99_ms", m.P99}, {"metrics.ttfb_p95_ms", m.TTFBP95},
		{"metrics.error_rate", m.ErrorRate}, {"resources.cpu_cores", t.Resources.CPUCores},
		{"duration_s", t.DurationS},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("%s is %v", f.name, f.v))
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(t.Utilisation)) {
		if u := t.Utilisation[svc]; math.IsNaN(u) || math.IsInf(u, 0) {
			errs = append(errs, fmt.Errorf("utilisation.%s is %v", svc, u))
		}
	}
	if t.Timings != nil {
		if err := t.Timings.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// wire is Trial as JSON: the field order is the order of trials.jsonl, and
// params go through encodeParams/decodeParams so types survive.
type wire struct {
	Number      int                `json:"number"`
	State       State              `json:"state"`
	Params      json.RawMessage    `json:"params"`
	Resources   Resources          `json:"resources"`
	Metrics     Metrics            `json:"metrics"`
	Error       string             `json:"error,omitempty"`
	Utilisation map[string]float64 `json:"utilisation,omitempty"`
	Errors      map[string]int     `json:"errors,omitempty"`
	Origin      Origin             `json:"origin"`
	Started     time.Time          `json:"started"`
	Finished    time.Time          `json:"finished"`
	DurationS   float64            `json:"duration_s"`
	Timings     *Timings           `json:"timings,omitempty"`
	ScreenS     float64            `json:"screen_s,omitempty"`
	Promoted    *int               `json:"promoted_from,omitempty"`
}

// MarshalJSON writes t as one trials.jsonl object. A float64 param with an
// integral value is written as "2.0", not "2", so that it reads back as a
// float64 rather than an int64.
func (t Trial) MarshalJSON() ([]byte, error) {
	p, err := encodeParams(t.Params)
	if err != nil {
		return nil, fmt.Errorf("trial %d: %w", t.Number, err)
	}
	return json.Marshal(wire{
		Number: t.Number, State: t.State, Params: p, Resources: t.Resources,
		Metrics: t.Metrics, Error: t.Error, Utilisation: t.Utilisation, Errors: t.Errors,
		Origin: t.Origin, Started: t.Started, Finished: t.Finished, DurationS: t.DurationS, Timings: t.Timings,
		ScreenS: t.ScreenS, Promoted: t.PromotedFrom,
	})
}

// UnmarshalJSON reads one trials.jsonl object. Unknown fields are ignored so
// that files written by a newer tune still load; integer params come back as
// int64 and the others as float64.
func (t *Trial) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	params, err := decodeParams(w.Params)
	if err != nil {
		return err
	}
	*t = Trial{
		Number: w.Number, State: w.State, Params: params, Resources: w.Resources,
		Metrics: w.Metrics, Error: w.Error, Utilisation: w.Utilisation, Errors: w.Errors,
		Origin: w.Origin, Started: w.Started, Finished: w.Finished, DurationS: w.DurationS, Timings: w.Timings,
		ScreenS: w.ScreenS, PromotedFrom: w.Promoted,
	}
	return nil
}

// encodeParams returns params as a JSON object with sorted keys. nil encodes
// as {} so every record has a params object.
func encodeParams(params map[string]any) (json.RawMessage, error) {
	if len(params) == 0 {
		return json.RawMessage("{}"), nil
	}
	v, err := typedJSON(params, "params")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// typedJSON rewrites floats inside v as JSON numbers that always carry a
// decimal point or exponent, so a reader can tell 2.0 from 2.
func typedJSON(v any, path string) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x, nil
	case float32:
		return floatJSON(float64(x), path)
	case float64:
		return floatJSON(x, path)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := typedJSON(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := typedJSON(e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	// Named types (spaces.Config inside a param, typed slices, ...): take the
	// underlying kind rather than failing.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return floatJSON(rv.Float(), path)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return typedJSON(m, path)
	case reflect.Slice, reflect.Array:
		s := make([]any, rv.Len())
		for i := range s {
			s[i] = rv.Index(i).Interface()
		}
		return typedJSON(s, path)
	}
	return nil, fmt.Errorf("%s: unsupported type %T", path, v)
}

func floatJSON(f float64, path string) (json.RawMessage, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s: %v has no JSON form", path, f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	if !bytes.ContainsAny(b, ".eE") {
		b = append(b, ".0"...)
	}
	return b, nil
}

// decodeParams is the inverse of encodeParams: numbers written without a
// fraction or exponent become int64, all others float64. JSON null and an
// absent field give a nil map.
func decodeParams(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	if dec.More() {
		return nil, errors.New("params: trailing data")
	}
	for k, v := range m {
		c, err := fromNumbers(v)
		if err != nil {
			return nil, fmt.Errorf("params.%s: %w", k, err)
		}
		m[k] = c
	}
	return m, nil
}

func fromNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !bytes.ContainsAny([]byte(s), ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", s, err)
		}
		return f, nil
	case map[string]any:
		for k, e := range x {
			c, err := fromNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, e := range x {
			c, err := fromNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	}
	return v, nil
}
