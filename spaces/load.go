package spaces

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads a space file strictly (unknown fields, wrong types and
// duplicate keys are errors), applies defaults (SetDefaults) and validates it
// without a budget. Every problem is returned at once, joined, each a
// *FileError naming file, line and field; all of them match ErrInvalid.
func Load(path string) (*Space, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: readProblem(err), Err: err}
	}
	return parse(path, data)
}

// readProblem is the short reason a file could not be read.
func readProblem(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parse is Load on bytes already read; file only names the source.
func parse(file string, data []byte) (*Space, error) {
	root, ferr := parseYAML(file, data)
	if ferr != nil {
		return nil, ferr
	}
	s := &Space{File: file}
	d := &decoder{file: file, lines: map[string]int{"": root.Line}}
	d.decode(root, reflect.ValueOf(s).Elem(), "")
	s.lines = d.lines
	s.SetDefaults()
	errs := d.errs
	for _, e := range s.validate(nil) {
		if !d.spoilt(e.Field) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, joinFileErrors(errs)
	}
	return s, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// parseYAML returns the root node of the single document in data, or the
// syntax error with its line.
func parseYAML(file string, data []byte) (*yaml.Node, *FileError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &FileError{File: file, Msg: "empty file"}
		}
		return nil, syntaxError(file, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return nil, syntaxError(file, err)
		}
		return nil, &FileError{File: file, Line: next.Line, Msg: "want one YAML document, found another"}
	}
	if len(doc.Content) == 0 {
		return nil, &FileError{File: file, Msg: "empty file"}
	}
	return doc.Content[0], nil
}

func syntaxError(file string, err error) *FileError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return &FileError{File: file, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

// decoder walks a yaml.Node tree alongside a Go value by reflection. It does
// what yaml.v3's KnownFields decoder does, but it keeps going after an error,
// knows each field's dotted path and line, and decodes time.Duration from
// "3m" / "500ms" (yaml.v3 only takes integers of nanoseconds).
type decoder struct {
	file  string
	lines map[string]int // field path → line of its key, for fields present and non-null
	errs  []*FileError
	bad   []string // paths that failed to decode

	// active holds the nodes being decoded, so an alias to an enclosing
	// node ("&a {<<: *a}") is an error instead of endless recursion.
	active map[*yaml.Node]bool
}

// enter marks n as being decoded; it reports false (and the error) when n
// already is, through an alias.
func (d *decoder) enter(n *yaml.Node, path string) bool {
	if d.active[n] {
		d.fail(n, path, nil, "alias refers to a node that contains it")
		return false
	}
	if d.active == nil {
		d.active = map[*yaml.Node]bool{}
	}
	d.active[n] = true
	return true
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) fail(n *yaml.Node, path string, err error, format string, a ...any) {
	d.errs = append(d.errs, &FileError{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, a...), Err: err})
	d.bad = append(d.bad, path)
}

// spoilt reports whether a validation problem at field is a consequence of a
// decode error already reported (the value it checks was left zero): the
// field and the bad path contain one another, or share a range (a bad
// "cpu.min" spoils the check of "cpu.current").
func (d *decoder) spoilt(field string) bool {
	scope := field
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		switch field[i+1:] {
		case "min", "max", "step", "current", "values":
			scope = field[:i]
		}
	}
	for _, b := range d.bad {
		if within(b, scope) || within(field, b) {
			return true
		}
	}
	return false
}

// within reports whether path p is q or lies under it.
func within(p, q string) bool {
	if q == "" || p == q {
		return true
	}
	return strings.HasPrefix(p, q) && (p[len(q)] == '.' || p[len(q)] == '[')
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // absent: the zero value, then defaults
	}
	if !d.enter(n, path) {
		return
	}
	defer delete(d.active, n)
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			d.fail(n, path, err, "%s", err.Error())
		}
		return
	}
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, nil, "want a duration such as 3m or 500ms, got %s", describeNode(n))
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		v.Set(reflect.New(v.Type().Elem()))
		d.decodeStruct(n, v.Elem(), path)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String &&
		v.Type().Elem().Kind() != reflect.Interface && n.Kind == yaml.MappingNode:
		d.decodeMap(n, v, path)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, nil, "want a list, got %s", describeNode(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	default:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, nil, "want %s, got %s", describeType(v.Type()), describeNode(n))
			return
		}
		if v.Kind() == reflect.Map && n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 { // so Validate can name a key's line
				d.lines[path+"."+n.Content[i].Value] = n.Content[i].Line
			}
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, nil, "want a mapping, got %s", describeNode(n))
		return
	}
	names, index := yamlFields(v.Type())
	// Merge keys ("<<: *defaults") first, so the mapping's own keys win, as
	// in YAML's merge semantics.
	merged := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, path)
			merged = true
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			continue
		}
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, p, nil, "set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := index[k.Value]
		if !ok {
			d.fail(k, p, nil, "unknown field (known: %s)", strings.Join(names, ", "))
			continue
		}
		if merged { // a key replaces what a merge set for it, wholly
			v.Field(f).SetZero()
			for q := range d.lines {
				if within(q, p) {
					delete(d.lines, q)
				}
			}
		}
		if val.ShortTag() != "!!null" {
			d.lines[p] = k.Line
		}
		d.decode(val, v.Field(f), p)
	}
}

// decodeMap decodes a mapping into a map of typed values (load.mix's
// weights) entry by entry, so a duplicate key or a bad value is reported
// at its own line and field. Maps of any (Helm values) keep yaml.v3's own
// decoding, merge keys and all.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := path + "." + k.Value
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.fail(k, path, nil, "want a plain key, got %s", describeNode(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, p, nil, "set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[p] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, p)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

// merge decodes the value of a merge key: a mapping or a list of mappings,
// earlier ones winning.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if !d.enter(n, path) {
		return
	}
	defer delete(d.active, n)
	if n.Kind == yaml.SequenceNode {
		for i := len(n.Content) - 1; i >= 0; i-- {
			d.merge(n.Content[i], v, path)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, nil, "a merge (<<) takes a mapping or a list of mappings, got %s", describeNode(n))
		return
	}
	d.decodeStruct(n, v, path)
}

// yamlFields lists a struct's YAML field names in declaration order, and maps
// each to its field index.
func yamlFields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describeType(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// present reports whether the file set path to a non-null value. A Space
// built in code has no file, so nothing is present and defaults fill zeros.
func (s *Space) present(path string) bool {
	_, ok := s.lines[path]
	return ok
}

// line is the line of path in the file, or of its nearest enclosing field
// that has one; 0 for a Space built in code.
func (s *Space) line(path string) int {
	for {
		if l, ok := s.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			i = 0
		}
		path = path[:i]
	}
}

// SetDefaults fills what the file left out, in this one place: steps
// (replicas 1, cpu 250m, memory 256Mi, int parameters 1), load (100 users,
// spawn rate 10/s, 3m), objective (max error rate 0.01) and a Helm target's
// timeouts and health path (DefaultRolloutTimeout, ...). A value the file
// states, even zero, is kept, so Validate can refuse "step: 0" and an
// explicit "maxErrorRate: 0" means what it says. Load calls it; call it on a
// Space built in code before Validate.
func (s *Space) SetDefaults() {
	for i := range s.Services {
		sv, p := &s.Services[i], fmt.Sprintf("services[%d]", i)
		setDefault(s, p+".replicas.step", &sv.Replicas.Step, 1)
		setDefault(s, p+".cpu.step", &sv.CPU.Step, 250)
		setDefault(s, p+".memory.step", &sv.Memory.Step, 256)
	}
	for i := range s.Params {
		if p := &s.Params[i]; p.Type == TypeInt {
			setDefault(s, fmt.Sprintf("params[%d].step", i), &p.Step, 1)
		}
	}
	setDefault(s, "load.users", &s.Load.Users, 100)
	setDefault(s, "load.spawnRate", &s.Load.SpawnRate, 10)
	setDefault(s, "load.duration", &s.Load.Duration, 3*time.Minute)
	setDefault(s, "objective.maxErrorRate", &s.Objective.MaxErrorRate, 0.01)
	s.setTargetDefaults()
}

func setDefault[T comparable](s *Space, path string, v *T, def T) {
	var zero T
	if *v == zero && !s.present(path) {
		*v = def
	}
}
