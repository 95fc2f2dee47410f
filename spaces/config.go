package spaces

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// knob is one tuned parameter: a service resource or a Param.
type knob struct {
	name  string // as in configs: "api.cpu", "api.workers"
	field string // where it is declared in the file: "services[0].cpu", "params[1]"
	svc   *Service
	res   string // "replicas", "cpu" or "memory"; "" for a Param
	param *Param
}

// knobs lists the space's parameters in ParamNames order.
func (s *Space) knobs() []knob {
	var ks []knob
	for i := range s.Services {
		sv := &s.Services[i]
		for _, res := range []string{"replicas", "cpu", "memory"} {
			ks = append(ks, knob{name: sv.Name + "." + res, field: fmt.Sprintf("services[%d].%s", i, res), svc: sv, res: res})
		}
	}
	for i := range s.Params {
		p := &s.Params[i]
		ks = append(ks, knob{name: p.Name, field: fmt.Sprintf("params[%d]", i), param: p})
	}
	return ks
}

func (k knob) targets() []Target {
	switch k.res {
	case "replicas":
		return k.svc.Replicas.Values
	case "cpu":
		return k.svc.CPU.Values
	case "memory":
		return k.svc.Memory.Values
	}
	return k.param.Values
}

func (k knob) current() any {
	switch k.res {
	case "replicas":
		return k.svc.Replicas.Current
	case "cpu":
		return k.svc.CPU.Current
	case "memory":
		return k.svc.Memory.Current
	}
	return k.param.Current
}

// normalize returns v in its canonical Config type (int64 replicas, MiB and
// int params; float64 cores and float params; string choices; bool), or why
// it is not a valid value of k.
func (k knob) normalize(v any) (any, string) {
	switch k.res {
	case "replicas":
		r := k.svc.Replicas
		n, ok := asInt(v)
		if !ok {
			return nil, fmt.Sprintf("want an integer, got %s", show(v))
		}
		if n < r.Min || n > r.Max {
			return nil, fmt.Sprintf("%d outside %d..%d", n, r.Min, r.Max)
		}
		return n, ""
	case "cpu":
		r := k.svc.CPU
		m, why := asCPU(v)
		if why != "" {
			return nil, why
		}
		if m < r.Min || m > r.Max {
			return nil, fmt.Sprintf("%s outside %s..%s", m, r.Min, r.Max)
		}
		return m.Cores(), ""
	case "memory":
		r := k.svc.Memory
		m, why := asMemory(v)
		if why != "" {
			return nil, why
		}
		if m < r.Min || m > r.Max {
			return nil, fmt.Sprintf("%s outside %s..%s", m, r.Min, r.Max)
		}
		return int64(m), ""
	}
	p := k.param
	switch p.Type {
	case TypeInt:
		n, ok := asInt(v)
		if !ok {
			return nil, fmt.Sprintf("want an integer, got %s", show(v))
		}
		if float64(n) < p.Min || float64(n) > p.Max {
			return nil, fmt.Sprintf("%d outside %v..%v", n, p.Min, p.Max)
		}
		return n, ""
	case TypeFloat:
		f, ok := asFloat(v)
		if !ok {
			return nil, fmt.Sprintf("want a number, got %s", show(v))
		}
		if f < p.Min || f > p.Max {
			return nil, fmt.Sprintf("%v outside %v..%v", f, p.Min, p.Max)
		}
		return f, ""
	case TypeChoice:
		c, ok := asString(v)
		if !ok || !slices.Contains(p.Choices, c) {
			return nil, fmt.Sprintf("%s is not one of %s", show(v), strings.Join(p.Choices, ", "))
		}
		return c, ""
	case TypeBool:
		b, ok := asBool(v)
		if !ok {
			return nil, fmt.Sprintf("want true or false, got %s", show(v))
		}
		return b, ""
	}
	return nil, fmt.Sprintf("unknown type %q", p.Type)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if v == nil {
		return "nothing"
	}
	return fmt.Sprint(v)
}

// asInt accepts Go integers, integral floats (JSON numbers) and decimal
// strings.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case float64:
		return int64(x), x == math.Trunc(x) && math.Abs(x) < 1<<53
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	n, ok := asInt(v)
	return float64(n), ok
}

// asCPU accepts cores as a number (rounded to the millicore: search proposes
// floats such as 1.2000000000000002) or a quantity string.
func asCPU(v any) (Millicores, string) {
	switch x := v.(type) {
	case Millicores:
		return x, ""
	case string:
		m, err := ParseCPU(x)
		if err != nil {
			return 0, err.Error()
		}
		return m, ""
	}
	f, ok := asFloat(v)
	if !ok || f < 0 || f*1000 > maxMillicores {
		return 0, fmt.Sprintf("want cores (2, 1.5) or millicores (\"1500m\"), got %s", show(v))
	}
	return Millicores(math.Round(f * 1000)), ""
}

// asMemory accepts a whole number of MiB or a quantity string.
func asMemory(v any) (Mebibytes, string) {
	switch x := v.(type) {
	case Mebibytes:
		return x, ""
	case string:
		m, err := ParseMemory(x)
		if err != nil {
			return 0, err.Error()
		}
		return m, ""
	}
	n, ok := asInt(v)
	if !ok || n < 0 || n > maxMebibytes {
		return 0, fmt.Sprintf("want MiB (2048) or a quantity (\"2Gi\"), got %s", show(v))
	}
	return Mebibytes(n), ""
}

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int, int64, float64, bool:
		return fmt.Sprint(x), true // a YAML choice such as 1 or true
	}
	return "", false
}

func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

// ParamNames lists every parameter: for each service in file order
// "<name>.replicas", "<name>.cpu", "<name>.memory", then the params in file
// order. The order is stable, so search can rely on it.
func (s *Space) ParamNames() []string {
	ks := s.knobs()
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.name
	}
	return names
}

// Baseline is the configuration of every current value: the deployment as it
// is before tuning.
func (s *Space) Baseline() Config {
	c := Config{}
	for _, k := range s.knobs() {
		v, why := k.normalize(k.current())
		if why != "" {
			v = k.current() // Validate reports it; keep what the file says
		}
		c[k.name] = v
	}
	return c
}

// Complete returns a copy of c with every missing parameter set to its
// current value. eval uses it so a config file need only name what it changes;
// Resolve itself refuses missing names, so search cannot forget one silently.
func (s *Space) Complete(c Config) Config {
	out := make(Config, len(c))
	for k, v := range c {
		out[k] = v
	}
	for k, v := range s.Baseline() {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// normalize checks c against the space: every parameter present, no unknown
// name, every value valid. It returns c in canonical types.
func (s *Space) normalize(c Config) (Config, error) {
	var errs []error
	out := make(Config, len(c))
	var missing []string
	known := map[string]bool{}
	for _, k := range s.knobs() {
		known[k.name] = true
		v, ok := c[k.name]
		if !ok {
			missing = append(missing, k.name)
			continue
		}
		nv, why := k.normalize(v)
		if why != "" {
			errs = append(errs, &FileError{Field: k.name, Msg: why})
			continue
		}
		out[k.name] = nv
	}
	var unknown []string
	for name := range c {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		errs = append(errs, &FileError{Field: name, Msg: "unknown parameter"})
	}
	if len(missing) > 0 {
		errs = append(errs, invalidf("config: missing %s", strings.Join(missing, ", ")))
	}
	return out, errors.Join(errs...)
}

// Resolve turns a complete config into the System it describes: values
// normalised (cpu rounded to millicores), each service's allocation and the
// remaining settings. It refuses unknown names, missing names (use Complete),
// values out of range and choices not offered, all at once. It does not check
// the budget: call Check.
func (s *Space) Resolve(b Budget, c Config) (System, error) {
	cfg, err := s.normalize(c)
	if err != nil {
		return System{}, err
	}
	sys := System{
		Dify:     s.Metadata.DifyVersion,
		Budget:   b,
		Reserved: Resources{CPU: s.Reserved.CPU, Memory: s.Reserved.Memory},
		Services: make(map[string]Alloc, len(s.Services)),
		Settings: make(map[string]any, len(s.Params)),
	}
	for _, sv := range s.Services {
		sys.Services[sv.Name] = Alloc{
			Replicas: int(cfg[sv.Name+".replicas"].(int64)),
			CPU:      Millicores(math.Round(cfg[sv.Name+".cpu"].(float64) * 1000)),
			Memory:   Mebibytes(cfg[sv.Name+".memory"].(int64)),
		}
	}
	for _, p := range s.Params {
		sys.Settings[p.Name] = cfg[p.Name]
	}
	for _, sv := range s.Services {
		if sv.off(cfg) {
			a := sys.Services[sv.Name]
			a.Replicas = 0 // switched off: no pods, nothing counted
			sys.Services[sv.Name] = a
		}
	}
	return sys, nil
}

// off reports whether cfg switches sv off through its EnabledBy parameter.
func (sv Service) off(cfg Config) bool {
	return sv.EnabledBy != "" && cfg[sv.EnabledBy] == false
}

// LoadConfig reads a config file: a YAML mapping of parameter name to value
// ("api.cpu: 1500m", "api.memory: 2Gi", "api.workers: 2"). Values keep their
// YAML types (int64, float64, string, bool); Resolve checks them against a
// space. Problems are *FileErrors with their lines, all at once.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: readProblem(err), Err: err}
	}
	return parseConfig(path, data)
}

func parseConfig(file string, data []byte) (Config, error) {
	root, ferr := parseYAML(file, data)
	if ferr != nil {
		if ferr.Msg == "empty file" {
			return Config{}, nil // nothing changed: Complete gives the baseline
		}
		return nil, ferr
	}
	for root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.ShortTag() == "!!null" {
		return Config{}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: root.Line, Msg: "want a mapping of parameter name to value, got " + describeNode(root)}
	}
	c := Config{}
	seen := map[string]int{}
	var errs []*FileError
	bad := func(n *yaml.Node, field, format string, a ...any) {
		errs = append(errs, &FileError{File: file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		name := k.Value
		if k.Kind != yaml.ScalarNode {
			bad(k, "", "want a parameter name, got %s", describeNode(k))
			continue
		}
		if first, dup := seen[name]; dup {
			bad(k, name, "set twice (first at line %d)", first)
			continue
		}
		seen[name] = k.Line
		var x any
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" || v.Decode(&x) != nil {
			bad(v, name, "want a number, string or bool, got %s", describeNode(v))
			continue
		}
		switch n := x.(type) {
		case int:
			x = int64(n)
		case uint64:
			bad(v, name, "%s is too large", v.Value)
			continue
		}
		c[name] = x
	}
	if len(errs) > 0 {
		return nil, joinFileErrors(errs)
	}
	return c, nil
}
