package spaces

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sanity limits: far above any real budget, and far enough below int64 that
// replicas × per-pod amounts cannot overflow.
const (
	maxMillicores = 1_000_000 * 1000 // a million cores
	maxMebibytes  = 1 << 30          // 1 EiB
	maxQuantity   = 64               // characters; longer input is refused before parsing
)

// unsignedDecimal is what both parsers accept before the unit: "2", "1.5", ".5".
var unsignedDecimal = regexp.MustCompile(`^([0-9]+\.?[0-9]*|\.[0-9]+)$`)

// scaled returns the decimal num × scale when that is a whole number no larger
// than limit. why is "" on success, else the reason in a few words.
func scaled(num string, scale, limit int64) (v int64, why string) {
	if len(num) > maxQuantity || !unsignedDecimal.MatchString(num) {
		return 0, "syntax"
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, "syntax"
	}
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() {
		return 0, "fraction"
	}
	n := r.Num()
	if !n.IsInt64() || n.Int64() > limit {
		return 0, "large"
	}
	return n.Int64(), ""
}

// ParseCPU parses a CPU quantity: cores ("2", "1.5") or millicores ("1500m"),
// as Kubernetes writes them. Negative values, exponents and precision finer
// than 1m are refused.
func ParseCPU(s string) (Millicores, error) {
	t := strings.TrimSpace(s)
	num, scale := t, int64(1000)
	if strings.HasSuffix(t, "m") {
		num, scale = t[:len(t)-1], 1
	}
	if strings.HasPrefix(num, "-") {
		return 0, invalidf("cpu %q: must not be negative", s)
	}
	v, why := scaled(num, scale, maxMillicores)
	switch why {
	case "fraction":
		return 0, invalidf("cpu %q: finer than 1m (one millicore)", s)
	case "large":
		return 0, invalidf("cpu %q: more than %d cores", s, maxMillicores/1000)
	case "syntax":
		return 0, invalidf("cpu %q: want cores (2, 1.5) or millicores (1500m)", s)
	}
	return Millicores(v), nil
}

// ParseMemory parses a memory quantity: "512Mi", "2Gi", "1.5Gi" or a plain
// number of MiB ("2048"). Only Mi and Gi are accepted: decimal units (M, G)
// differ from binary ones by 5–7% and are a common source of silent
// over-commit, so they are refused rather than guessed.
func ParseMemory(s string) (Mebibytes, error) {
	t := strings.TrimSpace(s)
	num, scale := t, int64(1)
	switch {
	case strings.HasSuffix(t, "Gi"):
		num, scale = t[:len(t)-2], 1024
	case strings.HasSuffix(t, "Mi"):
		num = t[:len(t)-2]
	}
	if strings.HasPrefix(num, "-") {
		return 0, invalidf("memory %q: must not be negative", s)
	}
	v, why := scaled(num, scale, maxMebibytes)
	switch why {
	case "fraction":
		return 0, invalidf("memory %q: not a whole number of MiB", s)
	case "large":
		return 0, invalidf("memory %q: more than %d MiB", s, maxMebibytes)
	case "syntax":
		return 0, invalidf("memory %q: want Mi, Gi or a plain number of MiB (512Mi, 2Gi, 2048); other units (M, G, Ki, Ti, ...) are not accepted", s)
	}
	return Mebibytes(v), nil
}

// String writes m as a Kubernetes quantity Helm accepts: "2" for whole cores,
// else "1500m".
func (m Millicores) String() string {
	if m%1000 == 0 {
		return strconv.FormatInt(int64(m)/1000, 10)
	}
	return strconv.FormatInt(int64(m), 10) + "m"
}

// String writes m as a Kubernetes quantity: "2Gi" for whole GiB, else
// "1536Mi"; zero is "0".
func (m Mebibytes) String() string {
	switch {
	case m == 0:
		return "0"
	case m%1024 == 0:
		return strconv.FormatInt(int64(m)/1024, 10) + "Gi"
	}
	return strconv.FormatInt(int64(m), 10) + "Mi"
}

// UnmarshalYAML accepts a YAML number of cores (2, 1.5) or a string ("2",
// "1500m").
func (m *Millicores) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return invalidf("cpu: want cores (2, 1.5) or millicores (1500m), got %s", describeNode(n))
	}
	v, err := ParseCPU(n.Value)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// UnmarshalYAML accepts a YAML number of MiB (2048) or a string ("512Mi",
// "2Gi").
func (m *Mebibytes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return invalidf("memory: want 512Mi, 2Gi or a number of MiB, got %s", describeNode(n))
	}
	v, err := ParseMemory(n.Value)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalYAML writes the quantity string, so a marshalled Space loads again.
func (m Millicores) MarshalYAML() (any, error) { return m.String(), nil }

// MarshalYAML writes the quantity string, so a marshalled Space loads again.
func (m Mebibytes) MarshalYAML() (any, error) { return m.String(), nil }

// formatCores writes m in cores, exactly: "17.5".
func formatCores(m Millicores) string { return exactDecimal(int64(m), 1000) }

// exactDecimal writes v / unit in decimal without rounding; unit divides a
// power of ten within ten digits (1000, 1024).
func exactDecimal(v, unit int64) string {
	s := new(big.Rat).SetFrac64(v, unit).FloatString(10)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// formatGiB writes m for messages: "34 GiB", "1.5 GiB", or "1000 MiB" when
// GiB would need more than two decimals.
func formatGiB(m Mebibytes) string {
	if (m*100)%1024 == 0 {
		return exactDecimal(int64(m), 1024) + " GiB"
	}
	return strconv.FormatInt(int64(m), 10) + " MiB"
}

// describeNode names a node's kind for "got ..." messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "an alias"
}
