package spaces

import (
	"fmt"
	"time"
)

// APIVersion and Kind head every space file; other versions are refused.
const (
	APIVersion = "tune.dify.dev/v1alpha1"
	Kind       = "Space"
)

// Space is a search space: which services share the budget, which other
// parameters are tuned, where each lands in the Helm values, the load a trial
// runs and the objective. It is decoded strictly from YAML (see Load).
type Space struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   Metadata  `yaml:"metadata"`
	Reserved   Reserved  `yaml:"reserved"`
	Services   []Service `yaml:"services"`
	Params     []Param   `yaml:"params"`
	Load       Workload  `yaml:"load"`
	Objective  Objective `yaml:"objective"`
	Target     Targets   `yaml:"target,omitempty"`

	// File is the path the space was read from; errors name it.
	File string `yaml:"-"`

	// lines maps each field path present in the file ("services[0].cpu.min")
	// to its line, so Validate can say where a problem is.
	lines map[string]int
}

// Metadata names the space and says which chart it targets.
type Metadata struct {
	Name        string `yaml:"name"`
	Chart       string `yaml:"chart,omitempty"`
	Description string `yaml:"description,omitempty"`
	// DifyVersion is the Dify release the space deploys ("1.14.2"): the
	// embedded model chooses its topology by it (before 1.13 the api runs
	// workflows; from 1.13 Celery workers do). Empty means the newest.
	DifyVersion string `yaml:"difyVersion,omitempty"`
}

// Reserved is what the components nobody tunes (web, nginx, sandbox, ssrf
// proxy, celery beat, ...) take from the budget. With a node pool it is taken
// evenly from every node.
type Reserved struct {
	CPU    Millicores `yaml:"cpu"`
	Memory Mebibytes  `yaml:"memory"`
	Note   string     `yaml:"note,omitempty"`
}

// Service is a workload whose replicas × CPU and replicas × memory count
// against the budget. Requests and limits are set to the same value
// (Guaranteed QoS), so one number per resource is tuned.
// Its parameters appear in configs as "<name>.replicas", "<name>.cpu" (cores)
// and "<name>.memory" (MiB).
type Service struct {
	Name     string      `yaml:"name"`
	Replicas IntRange    `yaml:"replicas"`
	CPU      CPURange    `yaml:"cpu"`
	Memory   MemoryRange `yaml:"memory"`
	// EnabledBy, if set, names a bool parameter that switches the service
	// on and off (pgbouncer.enabled): while it is false the service runs no
	// pods and the budget counts nothing for it.
	EnabledBy string `yaml:"enabledBy,omitempty"`
	// Note says why a fixed service (min == max everywhere) is fixed.
	Note string `yaml:"note,omitempty"`
}

// IntRange is an integer range with a step, the current (baseline) value and
// the Helm values that receive it.
type IntRange struct {
	Min     int64    `yaml:"min"`
	Max     int64    `yaml:"max"`
	Step    int64    `yaml:"step,omitempty"` // default 1
	Current int64    `yaml:"current"`
	Values  []Target `yaml:"values"`
}

// CPURange is a CPU range: cores ("2", 1.5) or millicores ("1500m").
type CPURange struct {
	Min     Millicores `yaml:"min"`
	Max     Millicores `yaml:"max"`
	Step    Millicores `yaml:"step,omitempty"` // default 250m
	Current Millicores `yaml:"current"`
	Values  []Target   `yaml:"values"`
}

// MemoryRange is a memory range: "512Mi", "2Gi" or a plain number of MiB.
type MemoryRange struct {
	Min     Mebibytes `yaml:"min"`
	Max     Mebibytes `yaml:"max"`
	Step    Mebibytes `yaml:"step,omitempty"` // default 256Mi
	Current Mebibytes `yaml:"current"`
	Values  []Target  `yaml:"values"`
	// Floor, if set, raises the minimum the search proposes with an int
	// parameter: a pod of N gunicorn workers needs N processes' memory.
	Floor *MemoryFloor `yaml:"floor,omitempty"`
}

// MemoryFloor raises a service's memory minimum by Each for every unit of
// Param above that parameter's own minimum. The search never proposes less;
// eval and presets are not held to it (the model OOM-kills what is short).
type MemoryFloor struct {
	Param string    `yaml:"param"`
	Each  Mebibytes `yaml:"each"`
}

// MemoryMin is the least memory the search proposes for sv under cfg: the
// range's minimum, raised by its floor parameter, rounded up to the step
// and never above the maximum.
func (sv Service) MemoryMin(sp *Space, cfg Config) Mebibytes {
	m := sv.Memory.Min
	f := sv.Memory.Floor
	if f == nil {
		return m
	}
	for _, p := range sp.Params {
		if p.Name != f.Param {
			continue
		}
		v, ok := asFloat(cfg[p.Name])
		if !ok || v <= p.Min {
			return m
		}
		m += Mebibytes(float64(f.Each) * (v - p.Min))
	}
	if step := max(1, sv.Memory.Step); (m-sv.Memory.Min)%step != 0 {
		m = sv.Memory.Min + ((m-sv.Memory.Min)/step+1)*step
	}
	return min(m, sv.Memory.Max)
}

// ParamType is the kind of a non-resource parameter.
type ParamType string

const (
	TypeInt    ParamType = "int"
	TypeFloat  ParamType = "float"
	TypeChoice ParamType = "choice"
	TypeBool   ParamType = "bool"
)

// Param is a tuned setting that does not count against the budget
// (SERVER_WORKER_AMOUNT, pgbouncer pool size, storage class, placement, ...).
// Min, Max and Step apply to int and float; Choices to choice.
type Param struct {
	Name    string    `yaml:"name"`
	Type    ParamType `yaml:"type"`
	Min     float64   `yaml:"min,omitempty"`
	Max     float64   `yaml:"max,omitempty"`
	Step    float64   `yaml:"step,omitempty"`
	Log     bool      `yaml:"log,omitempty"`
	Choices []string  `yaml:"choices,omitempty"`
	Current any       `yaml:"current"`
	Values  []Target  `yaml:"values"`
	Note    string    `yaml:"note,omitempty"`
	// PerCPU, for an int parameter, makes the search propose it per core of
	// a service's pods: the count is the ratio times the pod's cores,
	// rounded, within Min..Max (gunicorn's workers follow the cores).
	PerCPU *PerCPU `yaml:"perCPU,omitempty"`
}

// PerCPU is the range of a per-core ratio and the service whose pods' cores
// it multiplies.
type PerCPU struct {
	Service string  `yaml:"service"`
	Min     float64 `yaml:"min"`
	Max     float64 `yaml:"max"`
}

// Target is where a parameter's value lands in the Helm values.
//   - {path: a.b.c}: a plain values path.
//   - {path: api.extraEnv, env: NAME}: an entry {name: NAME, value: "<v>"} of a
//     list-style env block; the value is written as a string.
//   - map: for choice and bool parameters, the YAML value written for each
//     choice ("true"/"false" for bools) instead of the value itself; a choice
//     mapped to null leaves the path unset.
//   - unset: the value the deployment runs with while the target is not set
//     (the application's own default: Dify reads SERVER_WORKER_AMOUNT as 1
//     when no one sets it), so a release can be read back before tune set it.
type Target struct {
	Path  string         `yaml:"path"`
	Env   string         `yaml:"env,omitempty"`
	Map   map[string]any `yaml:"map,omitempty"`
	Unset any            `yaml:"unset,omitempty"`
}

// Workload is the load a trial runs: closed-loop users with think time.
type Workload struct {
	Scenario  string        `yaml:"scenario"`  // one of Scenarios; empty with Mix
	Users     int           `yaml:"users"`     // concurrent virtual users
	SpawnRate float64       `yaml:"spawnRate"` // users started per second
	Duration  time.Duration `yaml:"duration"`  // measured window after ramp-up
	ThinkMin  time.Duration `yaml:"thinkMin"`  // think time between a user's requests,
	ThinkMax  time.Duration `yaml:"thinkMax"`  // uniform in [ThinkMin, ThinkMax]
	// LLM is the model provider the llm scenario's LLM node streams from;
	// zero fields take DefaultLLM's (see LLM.OrDefault).
	LLM  LLM    `yaml:"llm,omitempty"`
	Note string `yaml:"note,omitempty"`
	// Mix, instead of Scenario, is a mixed load: several apps served at
	// once, the users split among them by weight (see Split).
	Mix Mix `yaml:"mix,omitempty"`
}

// LLM is how the model provider behind an LLM node answers: time to the
// first token, then tokens at a steady rate until the answer is complete.
type LLM struct {
	TTFT            time.Duration `yaml:"ttft"`
	TokensPerSecond float64       `yaml:"tokensPerSecond"`
	AnswerTokens    int           `yaml:"answerTokens"`
}

// DefaultLLM is a typical hosted model (an OpenAI gpt-4o-mini class model
// over its public API): about 0.6 s to the first token, 80 tokens a second
// and a 300-token answer, so a generation holds its stream about 4.4 s.
var DefaultLLM = LLM{TTFT: 600 * time.Millisecond, TokensPerSecond: 80, AnswerTokens: 300}

// OrDefault fills l's zero fields from DefaultLLM.
func (l LLM) OrDefault() LLM {
	if l.TTFT == 0 {
		l.TTFT = DefaultLLM.TTFT
	}
	if l.TokensPerSecond == 0 {
		l.TokensPerSecond = DefaultLLM.TokensPerSecond
	}
	if l.AnswerTokens == 0 {
		l.AnswerTokens = DefaultLLM.AnswerTokens
	}
	return l
}

// Objective is what the study maximises: TPS with P95 ≤ SLOP95 and error
// rate ≤ MaxErrorRate.
type Objective struct {
	SLOP95       time.Duration `yaml:"sloP95"`
	MaxErrorRate float64       `yaml:"maxErrorRate"`
}

// DifyRelease is the space's Dify version as major and minor numbers; ok is
// false when the space does not say (the caller picks the newest topology).
func (s *Space) DifyRelease() (major, minor int, ok bool) {
	if _, err := fmt.Sscanf(s.Metadata.DifyVersion, "%d.%d", &major, &minor); err != nil {
		return 0, 0, false
	}
	return major, minor, true
}
