package spaces

import (
	"errors"
	"strings"
	"testing"
)

func sysOf(budget string, reserved Resources, services map[string]Alloc, settings map[string]any) System {
	b, err := ParseBudget(budget)
	if err != nil {
		panic(err)
	}
	return System{Budget: b, Reserved: reserved, Services: services, Settings: settings}
}

func TestCheckAndUsage(t *testing.T) {
	var s Space // Check and Usage read only the System
	res := Resources{CPU: 1000, Memory: 2048}
	tests := []struct {
		name    string
		sys     System
		usage   Resources
		wantErr []string // substrings; nil means it fits
	}{
		{
			name:  "fits",
			sys:   sysOf("16c32g", res, map[string]Alloc{"api": {3, 2000, 2048}, "db": {1, 2000, 4096}}, nil),
			usage: Resources{9000, 12288},
		},
		{
			name:    "over cpu",
			sys:     sysOf("16c32g", res, map[string]Alloc{"api": {6, 2500, 2048}, "db": {1, 1500, 2048}}, nil),
			usage:   Resources{17500, 16384},
			wantErr: []string{"needs 17.5 CPU, budget 16c32g has 16"},
		},
		{
			name:    "over both",
			sys:     sysOf("8c16g", res, map[string]Alloc{"api": {4, 2000, 4096}}, nil),
			usage:   Resources{9000, 18432},
			wantErr: []string{"needs 9 CPU, budget 8c16g has 8", "needs 18 GiB memory, budget 8c16g has 16 GiB"},
		},
		{
			name: "dedicated rounds up without nodes",
			sys: sysOf("16c32g", res, map[string]Alloc{"weaviate": {1, 1500, 1536}, "api": {1, 1000, 1024}},
				map[string]any{"weaviate.placement": Dedicated}),
			usage: Resources{1000 + 2000 + 1000, 2048 + 2048 + 1024},
		},
		{
			name: "shared placement counts exactly",
			sys: sysOf("16c32g", res, map[string]Alloc{"weaviate": {1, 1500, 1536}},
				map[string]any{"weaviate.placement": "shared"}),
			usage: Resources{2500, 3584},
		},
		{
			name:  "pool packs",
			sys:   sysOf("2x8c16g", res, map[string]Alloc{"api": {2, 3500, 4096}, "db": {2, 3500, 4096}}, nil),
			usage: Resources{15000, 18432},
		},
		{
			name:    "pool fragments",
			sys:     sysOf("2x8c16g", res, map[string]Alloc{"api": {3, 4000, 1024}}, nil),
			usage:   Resources{13000, 5120},
			wantErr: []string{"1 api pod(s) of 4 CPU, 1 GiB find no node of 2x8c16g with room left (most on one node: 3.5 CPU, 14 GiB)"},
		},
		{
			name:    "pod larger than a node",
			sys:     sysOf("2x8c16g", res, map[string]Alloc{"api": {1, 8000, 1024}}, nil),
			usage:   Resources{9000, 3072},
			wantErr: []string{"a api pod needs 8 CPU, 1 GiB, a node of 2x8c16g has 7.5 CPU, 15 GiB after reserved"},
		},
		{
			name: "dedicated node strands its capacity",
			sys: sysOf("2x8c16g", res, map[string]Alloc{"weaviate": {1, 1000, 2048}, "api": {2, 3000, 2048}},
				map[string]any{"weaviate.placement": Dedicated}),
			usage: Resources{1000 + 7500 + 6000, 2048 + 15360 + 4096},
		},
		{
			name: "dedicated node leaves too little",
			sys: sysOf("2x8c16g", res, map[string]Alloc{"weaviate": {1, 1000, 2048}, "api": {3, 3000, 2048}},
				map[string]any{"weaviate.placement": Dedicated}),
			usage:   Resources{1000 + 7500 + 9000, 2048 + 15360 + 6144},
			wantErr: []string{"needs 17.5 CPU, budget 2x8c16g has 16"},
		},
		{
			name: "dedicated pods need more nodes than exist",
			sys: sysOf("2x8c16g", res, map[string]Alloc{"weaviate": {3, 4000, 2048}},
				map[string]any{"weaviate.placement": Dedicated}),
			usage:   Resources{1000 + 15000 + 7500, 2048 + 30720 + 15360},
			wantErr: []string{"needs 23.5 CPU, budget 2x8c16g has 16"},
		},
		{
			name: "dedicated pods fill every node",
			sys: sysOf("4x2c4g", Resources{}, map[string]Alloc{"weaviate": {7, 1000, 512}, "api": {1, 100, 64}},
				map[string]any{"weaviate.placement": Dedicated}),
			usage:   Resources{8000 + 100, 16384 + 64},
			wantErr: []string{"needs 8.1 CPU, budget 4x2c4g has 8"},
		},
		{
			name: "dedicated pods share their nodes",
			sys: sysOf("4x2c4g", Resources{}, map[string]Alloc{"weaviate": {5, 1000, 512}, "api": {1, 100, 64}},
				map[string]any{"weaviate.placement": Dedicated}),
			usage: Resources{6000 + 100, 12288 + 64},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Usage(tt.sys); got != tt.usage {
				t.Errorf("usage %+v, want %+v", got, tt.usage)
			}
			err := s.Check(tt.sys)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInfeasible) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInfeasible and ErrInvalid, got %v", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// Usage never undercounts: it is at least reserved + Σ replicas × pod.
func TestUsageCoversAllocations(t *testing.T) {
	s := loadDefault(t)
	for _, budget := range []string{"8c16g", "16c32g", "2x8c16g", "3x4c8g"} {
		for _, placement := range []string{"shared", Dedicated} {
			c := s.Baseline()
			c["weaviate.placement"] = placement
			sys, err := s.Resolve(mustBudget(t, budget), c)
			if err != nil {
				t.Fatal(err)
			}
			floor := sys.Reserved
			for _, a := range sys.Services {
				floor = floor.Add(a.Total())
			}
			if u := s.Usage(sys); !floor.Fits(u) {
				t.Errorf("%s %s: usage %+v below allocations %+v", budget, placement, u, floor)
			}
		}
	}
}
