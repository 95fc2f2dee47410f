package sim

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Constants are the figures of the model a what-if may change: "my
// PostgreSQL disks are slower", "my nodes' cores are 20% slower", "our
// workers use 600 MiB". Every other figure is fitted to the calibration
// tables and stays as constants.go has it. The zero value is not valid; start
// from DefaultConstants (LoadOverrides does).
type Constants struct {
	// CPUSpeed multiplies the speed of every core: 1 is the hardware the
	// seed measured, 0.8 cores 20% slower.
	CPUSpeed float64 `yaml:"cpuSpeed"`
	// RTT is one in-cluster network round trip.
	RTT time.Duration `yaml:"rtt"`
	// FsyncSSD and FsyncNFS are the mean WAL flush of PostgreSQL's volume
	// on each storage class.
	FsyncSSD     time.Duration `yaml:"fsyncSSD"`
	FsyncNFS     time.Duration `yaml:"fsyncNFS"`
	FsyncDefault time.Duration `yaml:"fsyncDefault"` // the cluster's default class
	// TaskStart is Celery's receipt, ack and app context before a task runs.
	TaskStart time.Duration `yaml:"taskStart"`
	// HostedEmbedding is a query embedding on a hosted API (a space
	// without xinference).
	HostedEmbedding time.Duration `yaml:"hostedEmbedding"`
	// GCStallPerGiB is the pod-wide stall of a full collection per GiB of
	// the collecting process's heap.
	GCStallPerGiB time.Duration `yaml:"gcStallPerGiB"`
	// APIProcessMiB, WorkerProcessMiB and PGBackendMiB are resident memory
	// of a dify-api process, a Celery worker process and a PostgreSQL
	// backend.
	APIProcessMiB    float64 `yaml:"apiProcessMiB"`
	WorkerProcessMiB float64 `yaml:"workerProcessMiB"`
	PGBackendMiB     float64 `yaml:"pgBackendMiB"`
}

// DefaultConstants are the calibrated figures (constants.go).
func DefaultConstants() Constants {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return Constants{
		CPUSpeed:         1,
		RTT:              sec(rtt),
		FsyncSSD:         sec(fsyncSSDMean),
		FsyncNFS:         sec(fsyncNFSMean),
		FsyncDefault:     sec(fsyncDefaultMean),
		TaskStart:        sec(taskStartLatency),
		HostedEmbedding:  sec(hostedEmbedLatency),
		GCStallPerGiB:    sec(gcStallPerGiB),
		APIProcessMiB:    apiProcMiB,
		WorkerProcessMiB: workerMiB,
		PGBackendMiB:     pgBackendMiB,
	}
}

// check refuses Constants no file could hold (a zero value set in code).
func (k Constants) check() error {
	if !(k.CPUSpeed >= 0.05 && k.CPUSpeed <= 20) || k.RTT <= 0 || k.FsyncSSD <= 0 || k.FsyncNFS <= 0 || k.FsyncDefault <= 0 || k.TaskStart <= 0 ||
		k.HostedEmbedding <= 0 || k.GCStallPerGiB <= 0 || !(k.APIProcessMiB > 0) || !(k.WorkerProcessMiB > 0) || !(k.PGBackendMiB > 0) {
		return fmt.Errorf("%w: model constants %+v (start from DefaultConstants)", ErrBadSystem, k)
	}
	return nil
}

// OverridesKind heads an overrides file (with APIVersion).
const (
	OverridesAPIVersion = "tune.dify.dev/v1alpha1"
	OverridesKind       = "ModelOverrides"
)

// ErrOverrides wraps every problem of an overrides file.
var ErrOverrides = errors.New("sim: bad model overrides")

// OverridesError is one problem of an overrides file, with its line.
type OverridesError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *OverridesError) Error() string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", where, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", where, e.Msg)
}

func (e *OverridesError) Unwrap() error { return ErrOverrides }

// LoadOverrides reads a what-if file: apiVersion, kind ModelOverrides and
// any of Constants' fields (yaml names), each replacing its default:
//
//	apiVersion: tune.dify.dev/v1alpha1
//	kind: ModelOverrides
//	fsyncNFS: 25ms     # my NFS is slower
//	cpuSpeed: 0.8
//
// Unknown fields, wrong types and values out of range are errors naming the
// file and line, all at once.
func LoadOverrides(path string) (Constants, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Constants{}, &OverridesError{File: path, Msg: err.Error()}
	}
	return ParseOverrides(path, data)
}

// ParseOverrides is LoadOverrides on data read from file.
func ParseOverrides(file string, data []byte) (Constants, error) {
	k := DefaultConstants()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return Constants{}, &OverridesError{File: file, Msg: "not YAML: " + err.Error()}
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return Constants{}, &OverridesError{File: file, Line: extra.Line, Msg: "one document only"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return Constants{}, &OverridesError{File: file, Line: root.Line, Msg: "want a mapping of constant name to value"}
	}
	fields := map[string]int{}
	var names []string
	t := reflect.TypeFor[Constants]()
	for i := range t.NumField() {
		n := t.Field(i).Tag.Get("yaml")
		fields[n] = i
		names = append(names, n)
	}
	var errs []error
	bad := func(n *yaml.Node, field, format string, a ...any) {
		errs = append(errs, &OverridesError{File: file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	seen := map[string]int{}
	var version, kind string
	v := reflect.ValueOf(&k).Elem()
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		name := key.Value
		if first, dup := seen[name]; dup {
			bad(key, name, "set twice (first at line %d)", first)
			continue
		}
		seen[name] = key.Line
		switch name {
		case "apiVersion":
			version = val.Value
			continue
		case "kind":
			kind = val.Value
			continue
		}
		f, ok := fields[name]
		if !ok {
			bad(key, name, "unknown constant (known: %s)", strings.Join(names, ", "))
			continue
		}
		fv := v.Field(f)
		if val.Kind != yaml.ScalarNode {
			bad(val, name, "want a scalar")
			continue
		}
		switch fv.Type() {
		case reflect.TypeFor[time.Duration]():
			d, err := time.ParseDuration(val.Value)
			if err != nil || d <= 0 || d > time.Hour {
				bad(val, name, "want a duration in (0, 1h] such as 25ms, got %q", val.Value)
				continue
			}
			fv.SetInt(int64(d))
		default:
			var x float64
			if err := val.Decode(&x); err != nil || math.IsNaN(x) || x <= 0 || x > 1e6 {
				bad(val, name, "want a positive number, got %q", val.Value)
				continue
			}
			fv.SetFloat(x)
		}
	}
	if version != OverridesAPIVersion || kind != OverridesKind {
		bad(root, "", "want apiVersion %s and kind %s, got %q and %q", OverridesAPIVersion, OverridesKind, version, kind)
	}
	if line, ok := seen["cpuSpeed"]; ok && (k.CPUSpeed < 0.05 || k.CPUSpeed > 20) {
		errs = append(errs, &OverridesError{File: file, Line: line, Field: "cpuSpeed", Msg: fmt.Sprintf("%g outside 0.05..20", k.CPUSpeed)})
	}
	if len(errs) > 0 {
		return Constants{}, errors.Join(errs...)
	}
	return k, nil
}
