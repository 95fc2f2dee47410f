package results

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
	k8syaml "sigs.k8s.io/yaml"
)

// overlay is a values overlay as spaces maps a configuration onto a chart:
// strings that look like numbers or booleans, integral floats, nesting.
func overlay() map[string]any {
	return map[string]any{
		"api": map[string]any{
			"replicas": int64(3),
			"resources": map[string]any{
				"limits":   map[string]any{"cpu": "2", "memory": "2048Mi"},
				"requests": map[string]any{"cpu": "1500m", "memory": "2048Mi"},
			},
			"extraEnv": []any{
				map[string]any{"name": "SERVER_WORKER_AMOUNT", "value": "2"},
				map[string]any{"name": "SQLALCHEMY_POOL_SIZE", "value": "30"},
			},
		},
		"pgbouncer": map[string]any{"enabled": true, "poolSize": 100, "ratio": 2.0},
		"postgresql": map[string]any{
			"primary": map[string]any{"persistence": map[string]any{"storageClass": "local-ssd"}},
			"true":    "yes", // a key that YAML would read as a bool unless quoted
		},
		"sandbox":  map[string]any{"enabled": false, "note": "multi\nline \"quoted\""},
		"weaviate": map[string]any{"nodeSelector": nil, "cpuShare": 0.75},
	}
}

func header() Header {
	tr := fixture()[5]
	return Header{
		Study:   "x",
		Budget:  "16c32g",
		Trial:   tr,
		Command: "tune --budget 16c32g --space spaces/default.yaml --study x",
	}
}

func TestWriteValuesGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteValues(&b, overlay(), header()); err != nil {
		t.Fatal(err)
	}
	golden(t, "values.golden.yaml", b.Bytes())
}

// normalise maps numbers to what a YAML reader returns for them: yaml.v3
// gives int for integers and float64 for floats.
func normalise(v any) any {
	switch x := v.(type) {
	case int64:
		return int(x)
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalise(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalise(e)
		}
		return out
	}
	return v
}

func TestWriteValuesParsesBack(t *testing.T) {
	var b bytes.Buffer
	if err := WriteValues(&b, overlay(), header()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if want := normalise(overlay()); !reflect.DeepEqual(got, want) {
		t.Errorf("yaml.v3 reads back\n%#v\nwant\n%#v", got, want)
	}

	// Helm reads values with sigs.k8s.io/yaml, through JSON: every number
	// becomes float64, but strings must stay strings and bools bools.
	var helm map[string]any
	if err := k8syaml.Unmarshal(b.Bytes(), &helm); err != nil {
		t.Fatal(err)
	}
	limits := helm["api"].(map[string]any)["resources"].(map[string]any)["limits"].(map[string]any)
	if limits["cpu"] != "2" {
		t.Errorf(`api.resources.limits.cpu = %#v, want the string "2"`, limits["cpu"])
	}
	env := helm["api"].(map[string]any)["extraEnv"].([]any)[0].(map[string]any)
	if env["value"] != "2" {
		t.Errorf(`extraEnv value = %#v, want the string "2"`, env["value"])
	}
	if helm["pgbouncer"].(map[string]any)["enabled"] != true {
		t.Errorf("pgbouncer.enabled is not the bool true")
	}
	if helm["postgresql"].(map[string]any)["true"] != "yes" {
		t.Errorf("the key \"true\" did not survive: %#v", helm["postgresql"])
	}
}

func TestWriteValuesRejects(t *testing.T) {
	tests := []struct {
		name    string
		overlay map[string]any
		want    string
	}{
		{"NaN", map[string]any{"a": map[string]any{"b": nan()}}, "a.b"},
		{"non-string keys", map[string]any{"a": map[int]string{1: "x"}}, "map keys must be strings"},
		{"func", map[string]any{"f": func() {}}, "unsupported type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteValues(&b, tc.overlay, header())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", b.Len())
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestWriteValuesEmptyAndHeaderLines(t *testing.T) {
	h := header()
	h.Study = "a\nb"
	h.Command = "tune\n--budget  8c16g"
	h.File = "out/values-16c32g.yaml"
	var b bytes.Buffer
	if err := WriteValues(&b, nil, h); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 4 comment lines and {}:\n%s", len(lines), b.String())
	}
	for _, l := range lines[:4] {
		if !strings.HasPrefix(l, "# ") {
			t.Errorf("header line %q is not a comment", l)
		}
	}
	if lines[2] != "# made by: tune --budget 8c16g" || !strings.HasSuffix(lines[3], "-f out/values-16c32g.yaml") {
		t.Errorf("header:\n%s", b.String())
	}
	if lines[4] != "{}" {
		t.Errorf("empty overlay body %q, want {}", lines[4])
	}
}

// FuzzValuesString checks that any string value, however YAML-like, reads
// back from values.yaml as the same string, both through yaml.v3 and the
// way Helm reads values.
func FuzzValuesString(f *testing.F) {
	for _, s := range []string{"2", "1500m", "true", "null", "~", "0x1F", "1e3", "- a", "a: b", "#x", "'", "\"", "\t", "", "yes", "on", ".inf", "\u00a0", "a\r\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("values are text")
		}
		var b bytes.Buffer
		key := "k"
		if s == key {
			key = "other"
		}
		if err := WriteValues(&b, map[string]any{key: s, s: "v"}, Header{}); err != nil {
			t.Skipf("refused: %v", err)
		}
		var got map[string]any
		if err := yaml.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("yaml.v3 cannot read\n%s: %v", b.Bytes(), err)
		}
		if got[key] != s || got[s] != "v" {
			t.Fatalf("yaml.v3 read %#v for %q from\n%s", got, s, b.Bytes())
		}
		var helm map[string]any
		if err := k8syaml.Unmarshal(b.Bytes(), &helm); err != nil {
			t.Fatalf("sigs.k8s.io/yaml cannot read\n%s: %v", b.Bytes(), err)
		}
		if helm[key] != s || helm[s] != "v" {
			t.Fatalf("sigs.k8s.io/yaml read %#v for %q from\n%s", helm, s, b.Bytes())
		}
	})
}

// What tune deploys beside the chart travels in its own file, applied
// first; the values.yaml says so.
func TestWriteManifestBeside(t *testing.T) {
	h := header()
	h.Beside = []string{"pgbouncer.yaml"}
	var v bytes.Buffer
	if err := WriteValues(&v, overlay(), h); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.String(), "# first, beside the chart: kubectl apply -n <namespace> -f pgbouncer.yaml\n# apply with: helm upgrade") {
		t.Errorf("values.yaml does not say to apply pgbouncer.yaml first:\n%s", v.String())
	}
	h.File = "pgbouncer.yaml"
	manifest := "---\n# Source: pgbouncer/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: dify-pgbouncer"
	var m bytes.Buffer
	if err := WriteManifest(&m, manifest, "tune's pgbouncer", h); err != nil {
		t.Fatal(err)
	}
	golden(t, "manifest.golden.yaml", m.Bytes())
	var doc map[string]any
	if err := k8syaml.Unmarshal([]byte(strings.SplitN(m.String(), "---\n", 2)[1]), &doc); err != nil || doc["kind"] != "Service" {
		t.Errorf("the manifest does not read back: %v %v", doc, err)
	}
}
