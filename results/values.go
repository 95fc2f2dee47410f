package results

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Header is what the comment block at the top of values.yaml records: where
// the recommendation came from and how to apply it.
type Header struct {
	Study   string
	Budget  string // as the user wrote it: "16c32g"
	Trial   Trial  // the recommended trial: its number and metrics are quoted
	Command string // the tune command line that produced the study
	File    string // the file name in the "apply with" line; "" means values.yaml
	// Beside are the files of what tune deploys beside the chart for this
	// recommendation (tune's pgbouncer: a manifest WriteManifest wrote),
	// applied before the chart's upgrade points the chart's clients at it.
	Beside []string
}

// WriteValues writes overlay, a Helm values overlay (nested maps keyed by
// chart value path), as YAML after header's comment block. Keys are sorted,
// every string is double-quoted so Helm keeps "2" or "1500m" a string, floats
// always carry a decimal point so 2.0 stays a float, and the result reads
// back (with yaml.v3 or sigs.k8s.io/yaml, as Helm does) to the same values.
func WriteValues(w io.Writer, overlay map[string]any, h Header) error {
	body, err := valuesYAML(overlay)
	if err != nil {
		return fmt.Errorf("values: %w", err)
	}
	var b bytes.Buffer
	m := h.Trial.Metrics
	file := h.File
	if file == "" {
		file = "values.yaml"
	}
	fmt.Fprintf(&b, "# tune recommendation: trial %d of study %s\n", h.Trial.Number, strconv.Quote(oneLine(h.Study)))
	fmt.Fprintf(&b, "# budget %s; TPS %.1f, P95 %.0f ms, error rate %.2f%%\n", oneLine(h.Budget), m.TPS, m.P95, 100*m.ErrorRate)
	fmt.Fprintf(&b, "# made by: %s\n", oneLine(h.Command))
	for _, f := range h.Beside {
		fmt.Fprintf(&b, "# first, beside the chart: kubectl apply -n <namespace> -f %s\n", oneLine(f))
	}
	fmt.Fprintf(&b, "# apply with: helm upgrade <release> <chart> -f %s\n", oneLine(file))
	b.Write(body)
	_, err = w.Write(b.Bytes())
	return err
}

// WriteManifest writes manifest, what tune deploys beside the chart for the
// recommendation (name says what: "tune's pgbouncer"), after a comment block
// saying where it came from and how to apply it, for `kubectl apply -f`.
// The chart's values.yaml (WriteValues) points the chart at it, so it goes
// first; deleting it means applying a values.yaml that does not.
func WriteManifest(w io.Writer, manifest string, name string, h Header) error {
	file := h.File
	if file == "" {
		file = "manifest.yaml"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# tune recommendation: trial %d of study %s: %s, beside the chart\n", h.Trial.Number, strconv.Quote(oneLine(h.Study)), oneLine(name))
	fmt.Fprintf(&b, "# budget %s; made by: %s\n", oneLine(h.Budget), oneLine(h.Command))
	fmt.Fprintf(&b, "# apply with: kubectl apply -n <namespace> -f %s (before helm upgrade -f values.yaml)\n", oneLine(file))
	b.WriteString(strings.TrimLeft(manifest, "\n"))
	if !strings.HasSuffix(manifest, "\n") {
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// oneLine keeps a value inside its comment line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// valuesYAML renders overlay as a YAML document.
func valuesYAML(overlay map[string]any) ([]byte, error) {
	n, err := yamlNode(overlay, "")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2) // Helm charts' convention
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// yamlNode builds the node for v by hand rather than letting yaml.v3 choose
// styles: that is what pins strings to double quotes and floats to a form
// with a decimal point.
func yamlNode(v any, path string) (*yaml.Node, error) {
	scalar := func(tag, value string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	}
	if v == nil {
		return scalar("!!null", "null"), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(rv.Bool())), nil
	case reflect.String:
		n := scalar("!!str", rv.String())
		n.Style = yaml.DoubleQuotedStyle
		return n, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar("!!int", strconv.FormatInt(rv.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalar("!!int", strconv.FormatUint(rv.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: %v is not a usable value", where(path), f)
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if rv.Kind() == reflect.Float32 {
			s = strconv.FormatFloat(f, 'g', -1, 32)
		}
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return scalar("!!float", s), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys must be strings, not %s", where(path), rv.Type().Key())
		}
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			c, err := yamlNode(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface(), path+"."+k)
			if err != nil {
				return nil, err
			}
			key := scalar("!!str", k)
			if !plainKey(k) {
				key.Style = yaml.DoubleQuotedStyle
			}
			n.Content = append(n.Content, key, c)
		}
		return n, nil
	case reflect.Slice, reflect.Array:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range rv.Len() {
			c, err := yamlNode(rv.Index(i).Interface(), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return scalar("!!null", "null"), nil
		}
		return yamlNode(rv.Elem().Interface(), path)
	}
	return nil, fmt.Errorf("%s: unsupported type %T", where(path), v)
}

// plainKey reports whether k can be written unquoted as a mapping key.
// yaml.v3 alone would quote only what YAML 1.2 reads as another type, but
// Helm reads values with sigs.k8s.io/yaml, which follows YAML 1.1, where
// "yes", "on" and "n" are booleans: so only identifier-like keys that are
// none of those stay plain.
func plainKey(k string) bool {
	if k == "" {
		return false
	}
	switch strings.ToLower(k) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		return false
	}
	for i, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.' || r == '/'):
		default:
			return false
		}
	}
	return true
}

func where(path string) string {
	if path == "" {
		return "overlay"
	}
	return strings.TrimPrefix(path, ".")
}
