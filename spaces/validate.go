package spaces

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Names of services and params become config keys and Helm env values;
// keeping them to identifiers (dots only between parts of a param name)
// keeps "<service>.<resource>" unambiguous.
var (
	serviceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	paramName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)*$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	pathPart    = regexp.MustCompile(`^[A-Za-z0-9_/-]+$`)
)

// Scenarios lists the load scenarios every target knows; it is the one list
// flags, spaces and targets check a scenario name against.
var Scenarios = []string{"chatflow", "agent", "retrieval", "llm"}

// difyVersion is a Dify release number: major.minor with an optional patch.
var difyVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)

// maxReplicas keeps replicas × per-pod amounts far from overflow.
const maxReplicas = 10_000

// Validate checks the space and returns every problem at once, joined, each a
// *FileError with file, line and field (matching ErrInvalid). With a budget
// it also checks that the reserved resources and the smallest configuration
// (every service at its minimum replicas, CPU and memory) fit it, node
// packing included. Load runs it without a budget.
func (s *Space) Validate(b *Budget) error {
	return joinFileErrors(s.validate(b))
}

type checker struct {
	s    *Space
	errs []*FileError
}

func (c *checker) add(field, format string, a ...any) {
	c.errs = append(c.errs, &FileError{File: c.s.File, Line: c.s.line(field), Field: field, Msg: fmt.Sprintf(format, a...)})
}

func (s *Space) validate(b *Budget) []*FileError {
	c := &checker{s: s}
	if s.APIVersion != APIVersion {
		c.add("apiVersion", "want %s, got %q", APIVersion, s.APIVersion)
	}
	if s.Kind != Kind {
		c.add("kind", "want %s, got %q", Kind, s.Kind)
	}
	if v := s.Metadata.DifyVersion; v != "" && !difyVersion.MatchString(v) {
		c.add("metadata.difyVersion", "want a Dify release such as 1.14.2, got %q", v)
	}
	if s.Reserved.CPU < 0 || s.Reserved.Memory < 0 {
		c.add("reserved", "must not be negative")
	}
	c.services()
	c.params()
	c.targets()
	c.workload()
	c.target()
	if o := s.Objective; o.SLOP95 < 0 {
		c.add("objective.sloP95", "must not be negative")
	}
	if r := s.Objective.MaxErrorRate; r < 0 || r > 1 || math.IsNaN(r) {
		c.add("objective.maxErrorRate", "%v outside 0..1", r)
	}
	if b != nil {
		c.budget(*b)
	}
	return c.errs
}

func (c *checker) services() {
	if len(c.s.Services) == 0 {
		c.add("services", "want at least one service")
	}
	first := map[string]int{}
	for i, sv := range c.s.Services {
		p := fmt.Sprintf("services[%d]", i)
		switch j, dup := first[sv.Name]; {
		case !serviceName.MatchString(sv.Name):
			c.add(p+".name", "want a name of letters, digits, - and _, starting with a letter; got %q", sv.Name)
		case dup:
			c.add(p+".name", "%q already names services[%d]", sv.Name, j)
		default:
			first[sv.Name] = i
		}
		r := sv.Replicas
		c.rng(p+".replicas", r.Min, r.Max, r.Step, r.Current, 0, fmtInt)
		if r.Max > maxReplicas {
			c.add(p+".replicas", "max %d over %d", r.Max, maxReplicas)
		}
		if len(r.Values) == 0 && r.Min != r.Max {
			c.add(p+".replicas.values", "want at least one target (only a fixed range, min == max, may leave it empty)")
		}
		c.rng(p+".cpu", int64(sv.CPU.Min), int64(sv.CPU.Max), int64(sv.CPU.Step), int64(sv.CPU.Current), 1,
			func(v int64) string { return Millicores(v).String() })
		c.rng(p+".memory", int64(sv.Memory.Min), int64(sv.Memory.Max), int64(sv.Memory.Step), int64(sv.Memory.Current), 1,
			func(v int64) string { return Mebibytes(v).String() })
		if f := sv.Memory.Floor; f != nil {
			c.floor(p+".memory.floor", *f)
		}
		if sv.EnabledBy != "" {
			c.enabledBy(p+".enabledBy", sv.EnabledBy)
		}
		if len(sv.CPU.Values) == 0 {
			c.add(p+".cpu.values", "want at least one target (usually both requests.cpu and limits.cpu)")
		}
		if len(sv.Memory.Values) == 0 {
			c.add(p+".memory.values", "want at least one target (usually both requests.memory and limits.memory)")
		}
	}
}

func fmtInt(v int64) string { return fmt.Sprint(v) }

// perCPU checks a per-core ratio: on an int parameter, naming a service,
// with 0 < min ≤ max.
func (c *checker) perCPU(p string, pr Param) {
	r := pr.PerCPU
	if pr.Type != TypeInt {
		c.add(p+".perCPU", "only an int parameter can be searched per core; %q is %s", pr.Name, pr.Type)
	}
	if r.Min <= 0 || r.Max < r.Min {
		c.add(p+".perCPU", "want 0 < min ≤ max, got min %g, max %g", r.Min, r.Max)
	}
	for _, sv := range c.s.Services {
		if sv.Name == r.Service {
			return
		}
	}
	c.add(p+".perCPU.service", "no service named %q", r.Service)
}

// enabledBy checks that a switch names a bool parameter.
func (c *checker) enabledBy(p, name string) {
	for _, pr := range c.s.Params {
		if pr.Name == name {
			if pr.Type != TypeBool {
				c.add(p, "%q is a %s parameter; a switch needs a bool one", name, pr.Type)
			}
			return
		}
	}
	c.add(p, "no parameter named %q", name)
}

// floor checks a memory floor: it names an int parameter and adds memory.
func (c *checker) floor(p string, f MemoryFloor) {
	if f.Each <= 0 {
		c.add(p+".each", "%s must be > 0", f.Each)
	}
	for _, pr := range c.s.Params {
		if pr.Name == f.Param {
			if pr.Type != TypeInt {
				c.add(p+".param", "%q is a %s parameter; a floor needs an int one", f.Param, pr.Type)
			}
			return
		}
	}
	c.add(p+".param", "no parameter named %q", f.Param)
}

// rng checks a range: least ≤ min ≤ max, step > 0, min ≤ current ≤ max.
func (c *checker) rng(p string, lo, hi, step, cur, least int64, f func(int64) string) {
	if lo < least {
		c.add(p+".min", "%s below %s", f(lo), f(least))
	}
	if lo > hi {
		c.add(p, "min %s > max %s", f(lo), f(hi))
	}
	if step <= 0 {
		c.add(p+".step", "%s must be > 0", f(step))
	}
	if !c.s.present(p+".current") && c.s.lines != nil {
		c.add(p+".current", "required (the baseline value)")
	} else if lo <= hi && (cur < lo || cur > hi) {
		c.add(p+".current", "%s outside %s..%s", f(cur), f(lo), f(hi))
	}
}

func (c *checker) params() {
	names := map[string]string{}
	for i, sv := range c.s.Services {
		for _, r := range []string{"replicas", "cpu", "memory"} {
			if _, dup := names[sv.Name+"."+r]; !dup {
				names[sv.Name+"."+r] = fmt.Sprintf("services[%d]", i)
			}
		}
	}
	for i, pr := range c.s.Params {
		p := fmt.Sprintf("params[%d]", i)
		if where, dup := names[pr.Name]; dup {
			c.add(p+".name", "%q already names a parameter of %s", pr.Name, where)
		} else if !paramName.MatchString(pr.Name) {
			c.add(p+".name", "want dot-separated identifiers such as api.workers, got %q", pr.Name)
		}
		if _, dup := names[pr.Name]; !dup {
			names[pr.Name] = p
		}
		if pr.PerCPU != nil {
			c.perCPU(p, pr)
		}
		switch pr.Type {
		case TypeInt, TypeFloat:
			c.numeric(p, pr)
		case TypeChoice:
			if len(pr.Choices) == 0 {
				c.add(p+".choices", "a choice parameter needs choices")
			}
			for j, ch := range pr.Choices {
				if slices.Index(pr.Choices, ch) < j {
					c.add(fmt.Sprintf("%s.choices[%d]", p, j), "%q listed twice", ch)
				}
			}
		case TypeBool:
		default:
			c.add(p+".type", "want int, float, choice or bool, got %q", pr.Type)
		}
		if pr.Type != TypeChoice && len(pr.Choices) > 0 {
			c.add(p+".choices", "only choice parameters have choices")
		}
		if pr.Current == nil {
			c.add(p+".current", "required (the baseline value)")
		} else if _, why := (knob{name: pr.Name, param: &c.s.Params[i]}).normalize(pr.Current); why != "" && checkable(pr) {
			c.add(p+".current", "%s", why)
		}
		if len(pr.Values) == 0 {
			c.add(p+".values", "want at least one target, or the value never reaches the deployment")
		}
	}
}

// checkable reports whether pr's current value can be judged: its type is
// known and a choice has choices (else that is the problem reported).
func checkable(pr Param) bool {
	switch pr.Type {
	case TypeInt, TypeFloat, TypeBool:
		return true
	case TypeChoice:
		return len(pr.Choices) > 0
	}
	return false
}

func (c *checker) numeric(p string, pr Param) {
	if pr.Min > pr.Max {
		c.add(p, "min %v > max %v", pr.Min, pr.Max)
	}
	if math.IsNaN(pr.Min) || math.IsNaN(pr.Max) || math.IsInf(pr.Min, 0) || math.IsInf(pr.Max, 0) {
		c.add(p, "min and max must be finite")
	}
	if pr.Type == TypeInt {
		if pr.Min != math.Trunc(pr.Min) || pr.Max != math.Trunc(pr.Max) || pr.Step != math.Trunc(pr.Step) {
			c.add(p, "min, max and step of an int parameter must be integers")
		}
		if pr.Step <= 0 {
			c.add(p+".step", "%v must be > 0", pr.Step)
		}
	} else if pr.Step < 0 || math.IsNaN(pr.Step) {
		c.add(p+".step", "%v must be ≥ 0 (0: continuous)", pr.Step)
	}
	if pr.Log && pr.Min <= 0 {
		c.add(p+".log", "a log scale needs min > 0")
	}
}

// targets checks every Helm target, and that no two parameters write the
// same values path (or one path inside another), which Overlay could not
// honour.
func (c *checker) targets() {
	type use struct{ field, name string }
	plain := map[string]use{}
	lists := map[string]use{}
	env := map[string]use{}
	for _, k := range c.s.knobs() {
		var choices []string
		if k.param != nil {
			switch k.param.Type {
			case TypeChoice:
				choices = k.param.Choices
			case TypeBool:
				choices = []string{"true", "false"}
			}
		}
		for j, t := range k.targets() {
			p := fmt.Sprintf("%s.values[%d]", k.field, j)
			if t.Path == "" {
				c.add(p+".path", "empty path")
				continue
			}
			if !validPath(t.Path) {
				c.add(p+".path", "want a dotted Helm values path such as api.resources.limits.cpu, got %q", t.Path)
				continue
			}
			if t.Env != "" && !envName.MatchString(t.Env) {
				c.add(p+".env", "want an environment variable name, got %q", t.Env)
			}
			if t.Map != nil {
				if choices == nil {
					c.add(p+".map", "only choice and bool parameters map their values")
				}
				for _, ch := range choices {
					if _, ok := t.Map[ch]; !ok {
						c.add(p+".map", "no entry for %q", ch)
					}
				}
				for _, key := range slices.Sorted(maps.Keys(t.Map)) {
					if choices != nil && !slices.Contains(choices, key) {
						c.add(p+".map", "%q is not one of %s", key, strings.Join(choices, ", "))
					}
				}
			}
			if t.Unset != nil && k.param != nil && checkable(*k.param) {
				if _, why := k.normalize(t.Unset); why != "" {
					c.add(p+".unset", "%s", why)
				}
			}
			u := use{p, k.name}
			if t.Env != "" {
				key := t.Path + "[" + t.Env + "]"
				if o, dup := env[key]; dup {
					c.add(p, "env %s in %s is already written by %s (%s)", t.Env, t.Path, o.name, o.field)
				}
				env[key], lists[t.Path] = u, u
			} else {
				if o, dup := plain[t.Path]; dup {
					c.add(p+".path", "%s is already written by %s (%s)", t.Path, o.name, o.field)
				}
				plain[t.Path] = u
			}
		}
	}
	for _, path := range slices.Sorted(maps.Keys(plain)) {
		u := plain[path]
		for _, other := range slices.Sorted(maps.Keys(plain)) {
			if o := plain[other]; within(other, path) && other != path {
				c.add(o.field+".path", "%s lies inside %s, written by %s", other, path, u.name)
			}
		}
		for _, list := range slices.Sorted(maps.Keys(lists)) {
			if o := lists[list]; within(list, path) || within(path, list) {
				c.add(u.field+".path", "%s overlaps the env list %s written by %s", path, list, o.name)
			}
		}
	}
}

func validPath(p string) bool {
	for part := range strings.SplitSeq(p, ".") {
		if !pathPart.MatchString(part) {
			return false
		}
	}
	return true
}

func (c *checker) workload() {
	l := c.s.Load
	if l.Scenario != "" && !slices.Contains(Scenarios, l.Scenario) {
		c.add("load.scenario", "want one of %s, got %q", strings.Join(Scenarios, ", "), l.Scenario)
	}
	if l.Mix != nil || c.s.present("load.mix") {
		if l.Scenario != "" {
			c.add("load.scenario", "set load.scenario or load.mix, not both: a mixed load names its scenarios itself")
		}
		keys, msgs := l.Mix.problems()
		for i, k := range keys {
			field := "load.mix"
			if k != "" {
				field += "." + k
			}
			c.add(field, "%s", msgs[i])
		}
	}
	if l.Users <= 0 {
		c.add("load.users", "%d must be > 0", l.Users)
	}
	if !(l.SpawnRate > 0) || math.IsInf(l.SpawnRate, 0) {
		c.add("load.spawnRate", "%v must be > 0", l.SpawnRate)
	}
	if l.Duration <= 0 {
		c.add("load.duration", "%v must be > 0", l.Duration)
	}
	if l.ThinkMin < 0 {
		c.add("load.thinkMin", "%v must not be negative", l.ThinkMin)
	}
	if l.ThinkMax < l.ThinkMin {
		c.add("load.thinkMax", "%v below thinkMin %v", l.ThinkMax, l.ThinkMin)
	}
	if l.LLM.TTFT < 0 {
		c.add("load.llm.ttft", "%v must not be negative", l.LLM.TTFT)
	}
	if l.LLM.TokensPerSecond < 0 || math.IsInf(l.LLM.TokensPerSecond, 0) || math.IsNaN(l.LLM.TokensPerSecond) {
		c.add("load.llm.tokensPerSecond", "%v must be > 0 (or left out: %v)", l.LLM.TokensPerSecond, DefaultLLM.TokensPerSecond)
	}
	if l.LLM.AnswerTokens < 0 || l.LLM.AnswerTokens > maxAnswerTokens {
		c.add("load.llm.answerTokens", "%d outside 1..%d (or left out: %d)", l.LLM.AnswerTokens, maxAnswerTokens, DefaultLLM.AnswerTokens)
	}
}

// maxAnswerTokens bounds an answer to what a model's output window allows.
const maxAnswerTokens = 100_000

// budget checks what must fit whatever the search proposes.
func (c *checker) budget(b Budget) {
	res := Resources{CPU: c.s.Reserved.CPU, Memory: c.s.Reserved.Memory}
	if !res.Fits(b.Total) {
		c.add("reserved", "%s CPU, %s over budget %s (%s CPU, %s)", formatCores(res.CPU), formatGiB(res.Memory),
			b, formatCores(b.Total.CPU), formatGiB(b.Total.Memory))
		return
	}
	if b.Nodes > 0 {
		share := reservedShare(res, b.Nodes)
		if !share.Fits(b.Node) {
			c.add("reserved", "takes %s CPU, %s from each node, over a node of %s (%s CPU, %s)",
				formatCores(share.CPU), formatGiB(share.Memory), b, formatCores(b.Node.CPU), formatGiB(b.Node.Memory))
			return
		}
	}
	if err := c.s.Check(c.s.smallest(b)); err != nil {
		c.add("services", "the smallest configuration (every service at its minimum) does not fit: %v", err)
	}
}

// Smallest is the smallest configuration: every service at its minimum
// and every other parameter at its current value, except placements, which
// are shared when that is an option (a dedicated node only ever costs
// more). Validate checks that it fits a budget; validate --target helm
// renders it.
func (s *Space) Smallest() Config {
	cfg := s.Baseline()
	for _, sv := range s.Services {
		cfg[sv.Name+".replicas"] = sv.Replicas.Min
		cfg[sv.Name+".cpu"] = sv.CPU.Min.Cores()
		cfg[sv.Name+".memory"] = int64(sv.Memory.Min)
	}
	for _, p := range s.Params {
		if strings.HasSuffix(p.Name, PlacementSuffix) && p.Type == TypeChoice {
			for _, ch := range p.Choices {
				if ch != Dedicated {
					cfg[p.Name] = ch
					break
				}
			}
		}
	}
	return cfg
}

// smallest is Smallest as a System on b. A service its switch's current
// value turns off runs no pods.
func (s *Space) smallest(b Budget) System {
	cfg := s.Smallest()
	sys := System{
		Budget:   b,
		Reserved: Resources{CPU: s.Reserved.CPU, Memory: s.Reserved.Memory},
		Services: map[string]Alloc{},
		Settings: map[string]any{},
	}
	for _, sv := range s.Services {
		sys.Services[sv.Name] = Alloc{Replicas: int(sv.Replicas.Min), CPU: sv.CPU.Min, Memory: sv.Memory.Min}
	}
	for _, p := range s.Params {
		sys.Settings[p.Name] = cfg[p.Name]
	}
	for _, sv := range s.Services {
		if sv.off(Config(sys.Settings)) {
			a := sys.Services[sv.Name]
			a.Replicas = 0
			sys.Services[sv.Name] = a
		}
	}
	return sys
}
