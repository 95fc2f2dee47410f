package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tune-dify/tune/deployer/local"
	"github.com/tune-dify/tune/loader"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// Local evaluates a configuration for real over HTTP: it starts the
// emulator with the configuration, drives it with the loader exactly as
// `tune load` would drive a Dify, and stops it. Its measurement is what the
// loader saw, with the model's per-service utilisation.
type Local struct {
	Seed int64 // the model's noise and the loader's draws
	// Progress, if set, receives each second of each trial's load.
	Progress func(loader.Second)
}

// Evaluate implements the study's evaluator. A configuration whose pods
// cannot start, or that the model OOM-kills under the load, fails with the
// model's *sim.OOMError, as on the embedded model.
func (t *Local) Evaluate(ctx context.Context, sys spaces.System, w spaces.Workload) (results.Measurement, error) {
	return Emulate(ctx, sys, w, t.Seed, t.Progress)
}

// Emulate serves sys as Dify's service API on loopback for the length of
// w's load, drives it with the loader and returns what the loader measured
// with the model's utilisation. It is the one emulate-and-load path of
// --target local and --target helm --emulate. A mixed load is served as
// one Dify serves several apps: each app behind its own key, on the same
// system.
func Emulate(ctx context.Context, sys spaces.System, w spaces.Workload, seed int64, progress func(loader.Second)) (results.Measurement, error) {
	keys := AppKeys{}
	served := map[string]string{}
	for _, p := range w.Parts() {
		key := NewKey()
		keys[p.Scenario] = key
		served[string(key)] = emulatedApp(p.Scenario)
	}
	srv, err := local.Start("127.0.0.1:0", local.Options{System: sys, App: emulatedApp(w.Parts()[0].Scenario),
		LLM: w.LLM, Seed: seed, AppKeys: served})
	if err != nil {
		return results.Measurement{}, err
	}
	defer srv.Close()
	cfg, err := AppsLoadConfig(srv.URL(), keys, w, seed)
	if err != nil {
		return results.Measurement{}, err
	}
	cfg.Progress = progress
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

// emulatedApp is the app the emulator answers as for a workload scenario:
// the app of that name, or the plain chatflow (retrieval needs no app).
func emulatedApp(scenario string) string {
	if slices.Contains(local.Apps, scenario) {
		return scenario
	}
	return local.AppChatflow
}

// emulatedDataset is the knowledge base id the emulator answers for.
const emulatedDataset = "tune-emulate"

// ErrNeedAppKeys: a mixed load drives each app with that app's own key
// (in Dify every app has its own), which one key cannot do.
var ErrNeedAppKeys = errors.New("a mixed load needs an API key for each of its apps")

// AppKeys are the API keys of a load's apps, by scenario name.
type AppKeys map[string]loader.Secret

// LoadConfig is the loader configuration that reproduces w against base
// with one app's key: the same users, spawn rate and think time, and a run
// of the spawn ramp plus w.Duration, so the loader's measured window is
// the model's. A mixed load needs AppsLoadConfig (ErrNeedAppKeys).
func LoadConfig(base string, key loader.Secret, w spaces.Workload, seed int64) (loader.Config, error) {
	if parts := w.Parts(); len(parts) > 1 {
		return loader.Config{}, fmt.Errorf("load %s: %w", w.Name(), ErrNeedAppKeys)
	}
	return AppsLoadConfig(base, AppKeys{w.Parts()[0].Scenario: key}, w, seed)
}

// AppsLoadConfig is LoadConfig with each app's key: a mixed load's users
// split by weight (loader.Mix), each driving its app with its key.
func AppsLoadConfig(base string, keys AppKeys, w spaces.Workload, seed int64) (loader.Config, error) {
	opts := loader.ScenarioOptions{DatasetID: emulatedDataset}
	parts := w.Parts()
	var mix []loader.MixPart
	for _, p := range parts {
		sc, err := loader.NamedScenario(p.Scenario, opts)
		if err != nil {
			return loader.Config{}, err
		}
		if keys[p.Scenario] == "" {
			return loader.Config{}, fmt.Errorf("load %s: no key for %s: %w", w.Name(), p.Scenario, ErrNeedAppKeys)
		}
		mix = append(mix, loader.MixPart{Name: p.Scenario, Weight: p.Weight, Scenario: sc, Key: keys[p.Scenario]})
	}
	sc := mix[0].Scenario
	if len(mix) > 1 {
		m, err := loader.NewMix(mix)
		if err != nil {
			return loader.Config{}, err
		}
		sc = m
	}
	cfg := loader.Config{BaseURL: base, APIKey: mix[0].Key, Scenario: sc, Seed: uint64(seed),
		Users: w.Users, SpawnRate: w.SpawnRate, ThinkMin: w.ThinkMin, ThinkMax: w.ThinkMax,
		Duration: w.Duration}
	if w.SpawnRate > 0 {
		cfg.Duration += time.Duration(float64(w.Users) / w.SpawnRate * float64(time.Second))
	}
	return cfg, cfg.Validate()
}

// NewKey is a fresh random app key for an emulator and its loader.
func NewKey() loader.Secret {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return loader.Secret("app-" + hex.EncodeToString(b))
}
