package spaces

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    Millicores
		wantErr string // substring; "" means no error
	}{
		{"2", 2000, ""},
		{"1.5", 1500, ""},
		{"1500m", 1500, ""},
		{"0.25", 250, ""},
		{".5", 500, ""},
		{"0", 0, ""},
		{" 4 ", 4000, ""},
		{"1.001", 1001, ""},
		{"2.", 2000, ""},
		{"1.0005", 0, "finer than 1m"},
		{"1.5m", 0, "finer than 1m"},
		{"-1", 0, "must not be negative"},
		{"-500m", 0, "must not be negative"},
		{"", 0, "want cores"},
		{"m", 0, "want cores"},
		{"1e3", 0, "want cores"},
		{"2 cores", 0, "want cores"},
		{"1,5", 0, "want cores"},
		{"+1", 0, "want cores"},
		{"1000001", 0, "more than 1000000 cores"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCPU(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    Mebibytes
		wantErr string
	}{
		{"512Mi", 512, ""},
		{"2Gi", 2048, ""},
		{"1.5Gi", 1536, ""},
		{"2048", 2048, ""},
		{"0.5Mi", 0, "not a whole number of MiB"},
		{"0.1Gi", 0, "not a whole number of MiB"},
		{"16G", 0, "want Mi, Gi or a plain number of MiB"},
		{"512M", 0, "other units (M, G, Ki, Ti, ...) are not accepted"},
		{"1Ti", 0, "want Mi, Gi"},
		{"1024Ki", 0, "want Mi, Gi"},
		{"-1Gi", 0, "must not be negative"},
		{"Gi", 0, "want Mi"},
		{"", 0, "want Mi"},
		{"1048577Gi", 0, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMemory(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkParse[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil || got != want {
			t.Fatalf("got %v, %v; want %v", got, err, want)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("got %v, %v; want an error containing %q", got, err, wantErr)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not match ErrInvalid", err)
	}
}

func TestQuantityString(t *testing.T) {
	tests := []struct {
		q    interface{ String() string }
		want string
	}{
		{Millicores(2000), "2"},
		{Millicores(1500), "1500m"},
		{Millicores(0), "0"},
		{Millicores(250), "250m"},
		{Mebibytes(2048), "2Gi"},
		{Mebibytes(1536), "1536Mi"},
		{Mebibytes(0), "0"},
		{Mebibytes(100), "100Mi"},
	}
	for _, tt := range tests {
		if got := tt.q.String(); got != tt.want {
			t.Errorf("%T(%d).String() = %q, want %q", tt.q, tt.q, got, tt.want)
		}
	}
}

func TestQuantityYAML(t *testing.T) {
	var v struct {
		CPU []Millicores `yaml:"cpu"`
		Mem []Mebibytes  `yaml:"mem"`
	}
	in := `{cpu: [2, 1.5, "2", "1500m", 0.25], mem: [2048, "512Mi", 2Gi, 1.5Gi]}`
	if err := yaml.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	wantCPU := []Millicores{2000, 1500, 2000, 1500, 250}
	wantMem := []Mebibytes{2048, 512, 2048, 1536}
	for i := range wantCPU {
		if v.CPU[i] != wantCPU[i] {
			t.Errorf("cpu[%d] = %v, want %v", i, v.CPU[i], wantCPU[i])
		}
	}
	for i := range wantMem {
		if v.Mem[i] != wantMem[i] {
			t.Errorf("mem[%d] = %v, want %v", i, v.Mem[i], wantMem[i])
		}
	}
	for _, bad := range []string{`{cpu: [-1]}`, `{cpu: [{a: 1}]}`, `{mem: [16G]}`, `{mem: [[1]]}`} {
		if err := yaml.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	out, err := yaml.Marshal(struct {
		C Millicores
		M Mebibytes
	}{1500, 2048})
	if err != nil || string(out) != "c: 1500m\nm: 2Gi\n" {
		t.Errorf("marshal: %q, %v", out, err)
	}
}

func FuzzParseCPU(f *testing.F) {
	for _, s := range []string{"2", "1.5", "1500m", ".5", "0", "1.0005", "-1", "1e3", "999999.999", "m", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseCPU(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", s, err)
			}
			return
		}
		if m < 0 || m > maxMillicores {
			t.Fatalf("%q: %d out of bounds", s, m)
		}
		back, err := ParseCPU(m.String())
		if err != nil || back != m {
			t.Fatalf("%q → %d → %q → %d, %v", s, m, m.String(), back, err)
		}
	})
}

func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"512Mi", "2Gi", "1.5Gi", "2048", "16G", "0.1Gi", "-1Gi", "Gi", "0.0009765625Gi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMemory(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", s, err)
			}
			return
		}
		if m < 0 || m > maxMebibytes {
			t.Fatalf("%q: %d out of bounds", s, m)
		}
		back, err := ParseMemory(m.String())
		if err != nil || back != m {
			t.Fatalf("%q → %d → %q → %d, %v", s, m, m.String(), back, err)
		}
	})
}
