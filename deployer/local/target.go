package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// Target evaluates a configuration for real over HTTP: it starts the
// emulator with the configuration, drives it with the loader exactly as
// `tune load` would drive a Dify, and stops it. Its measurement is what the
// loader saw, with the model's per-service utilisation.
type Target struct {
	Seed int64 // the model's noise and the loader's draws
	// Progress, if set, receives each second of each trial's load.
	Progress func(loader.Second)
}

// Scenario is the loader scenario for a workload scenario name.
func Scenario(name string) (loader.Scenario, error) {
	switch name {
	case "chatflow", "agent":
		return &loader.Chat{}, nil
	case "workflow":
		return &loader.Workflow{}, nil
	case "retrieval":
		return &loader.Retrieval{DatasetID: "tune-emulate"}, nil
	}
	return nil, fmt.Errorf("scenario %q: want chatflow, agent, workflow or retrieval", name)
}

// LoadConfig is the loader configuration that reproduces w against base:
// the same users, spawn rate and think time, and a run of the spawn ramp
// plus w.Duration, so the loader's measured window is the model's.
func LoadConfig(base string, key loader.Secret, w spaces.Workload, seed int64) (loader.Config, error) {
	sc, err := Scenario(w.Scenario)
	if err != nil {
		return loader.Config{}, err
	}
	cfg := loader.Config{BaseURL: base, APIKey: key, Scenario: sc, Seed: uint64(seed),
		Users: w.Users, SpawnRate: w.SpawnRate, ThinkMin: w.ThinkMin, ThinkMax: w.ThinkMax,
		Duration: w.Duration}
	if w.SpawnRate > 0 {
		cfg.Duration += time.Duration(float64(w.Users) / w.SpawnRate * float64(time.Second))
	}
	return cfg, cfg.Validate()
}

// Evaluate implements the study's evaluator. A configuration whose pods
// cannot start, or that the model OOM-kills under the load, fails with the
// model's *sim.OOMError, as on the embedded model.
func (t *Target) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	key := NewKey()
	app := w.Scenario
	if app != "agent" {
		app = "chatflow"
	}
	srv, err := Start("127.0.0.1:0", Options{System: sys, App: app, Seed: t.Seed, Keys: []string{string(key)}})
	if err != nil {
		return results.Measurement{}, err
	}
	defer srv.Close()
	cfg, err := LoadConfig(srv.URL(), key, w, t.Seed)
	if err != nil {
		return results.Measurement{}, err
	}
	cfg.Progress = t.Progress
	sum, err := loader.Run(ctx, cfg)
	if err != nil {
		return results.Measurement{}, err
	}
	if err := srv.Err(); err != nil {
		return results.Measurement{}, err
	}
	m := sum.Measurement()
	m.Utilisation = srv.Utilisation()
	return m, nil
}

// NewKey is a fresh random app key for an emulator and its loader.
func NewKey() loader.Secret {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return loader.Secret("app-" + hex.EncodeToString(b))
}
