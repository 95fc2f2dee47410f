package spaces

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in      string
		want    Budget
		wantErr string
	}{
		{"8c16g", Budget{Name: "8c16g", Total: Resources{8000, 16384}}, ""},
		{"16c32g", Budget{Name: "16c32g", Total: Resources{16000, 32768}}, ""},
		{"24c48g", Budget{Name: "24c48g", Total: Resources{24000, 49152}}, ""},
		{"1.5c3.5g", Budget{Name: "1.5c3.5g", Total: Resources{1500, 3584}}, ""},
		{"2x8c16g", Budget{Name: "2x8c16g", Nodes: 2, Node: Resources{8000, 16384}, Total: Resources{16000, 32768}}, ""},
		{"1x4c8g", Budget{Name: "1x4c8g", Nodes: 1, Node: Resources{4000, 8192}, Total: Resources{4000, 8192}}, ""},
		{" 16C32G ", Budget{Name: "16C32G", Total: Resources{16000, 32768}}, ""},
		{"16cores", Budget{}, `budget "16cores": want <cores>c<GiB>g or <nodes>x<cores>c<GiB>g, e.g. 16c32g or 2x8c16g`},
		{"16c32", Budget{}, "want <cores>c<GiB>g"},
		{"16c32gi", Budget{}, "want <cores>c<GiB>g"},
		{"", Budget{}, "want <cores>c<GiB>g"},
		{"-2c4g", Budget{}, "want <cores>c<GiB>g"},
		{"0x8c16g", Budget{}, "node count must be 1..10000"},
		{"0c16g", Budget{}, "must be > 0"},
		{"8c0g", Budget{}, "must be > 0"},
		{"1..5c2g", Budget{}, "want cores"},
		{"8c0.0001g", Budget{}, "not a whole number of MiB"},
		{"1.0001c2g", Budget{}, "finer than 1m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBudget(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %+v, %v; want an ErrInvalid containing %q", got, err, tt.wantErr)
			}
		})
	}
}

func TestBudgetString(t *testing.T) {
	for _, b := range []Budget{
		{Total: Resources{16000, 32768}},
		{Nodes: 2, Node: Resources{8000, 16384}, Total: Resources{16000, 32768}},
		{Total: Resources{1500, 3584}},
	} {
		s := b.String()
		back, err := ParseBudget(s)
		back.Name = ""
		if err != nil || back != b {
			t.Errorf("%+v → %q → %+v, %v", b, s, back, err)
		}
	}
}

func ExampleParseBudget() {
	b, _ := ParseBudget("2x8c16g")
	fmt.Println(b.Nodes, b.Node.CPU, b.Node.Memory, b.Total.CPU, b.Total.Memory)
	_, err := ParseBudget("16cores")
	fmt.Println(err)
	// Output:
	// 2 8 16Gi 16 32Gi
	// budget "16cores": want <cores>c<GiB>g or <nodes>x<cores>c<GiB>g, e.g. 16c32g or 2x8c16g
}

func FuzzParseBudget(f *testing.F) {
	for _, s := range []string{"8c16g", "16c32g", "24c48g", "1.5c3.5g", "2x8c16g", "16cores", "0x1c1g", "10000x1000000c1g", "1.c.5g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBudget(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v does not match ErrInvalid", s, err)
			}
			return
		}
		if b.Total.CPU <= 0 || b.Total.Memory <= 0 || b.Total.CPU > maxMillicores || b.Total.Memory > maxMebibytes {
			t.Fatalf("%q: total %+v out of bounds", s, b.Total)
		}
		if b.Nodes > 0 && b.Node.Times(b.Nodes) != b.Total {
			t.Fatalf("%q: %d × %+v != %+v", s, b.Nodes, b.Node, b.Total)
		}
		b.Name = ""
		back, err := ParseBudget(b.String())
		back.Name = ""
		if err != nil || back != b {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, b, b.String(), back, err)
		}
	})
}
