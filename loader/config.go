package loader

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Secret is an API key. It prints, formats and marshals as [REDACTED] so a
// Config can be logged; only the request's Authorization header sees it.
type Secret string

const redacted = "[REDACTED]"

// String returns [REDACTED].
func (Secret) String() string { return redacted }

// GoString returns [REDACTED], for %#v.
func (Secret) GoString() string { return redacted }

// Format writes [REDACTED] whatever the verb, so no fmt verb reveals the key.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText returns [REDACTED], for JSON, YAML and the like.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Stage is one step of a closed-loop load: Users for Duration. The users
// ramp from the previous stage's count at the spawn rate.
type Stage struct {
	Users    int
	Duration time.Duration
}

// Config describes one load run. Zero values take the defaults documented
// on each field.
type Config struct {
	BaseURL  string // e.g. http://host/v1
	APIKey   Secret
	Scenario Scenario
	Queries  []string // default DefaultQueries
	Seed     uint64   // seeds query choice and think time

	// Closed loop: Users users for Duration, or Stages. SpawnRate is users
	// started per second (0: all at once); think time is uniform in
	// [ThinkMin, ThinkMax], like Locust's between.
	Users     int
	SpawnRate float64
	ThinkMin  time.Duration
	ThinkMax  time.Duration
	Stages    []Stage

	// Open loop: Rate requests per second start on schedule whatever the
	// server does; at most MaxInFlight run at once (default 1000), and a
	// start beyond that is recorded as an "overload" error.
	Rate        float64
	MaxInFlight int

	// Duration is the whole run, warm-up included (ignored with Stages,
	// whose durations add up). The measured window starts after the first
	// stage's spawn ramp plus WarmUp and ends with the run.
	Duration time.Duration
	WarmUp   time.Duration

	Timeout       time.Duration // whole request, default 60s
	HeaderTimeout time.Duration // to response headers, default Timeout
	DialTimeout   time.Duration // default 5s
	// TLS configures https connections (a private CA, a client
	// certificate); nil verifies the server against the system's roots.
	TLS          *tls.Config
	MaxEventSize int // bytes, default sse.DefaultMaxEventSize

	// Progress, if set, is called after each second of the run with that
	// second's figures so far (a request recorded just after the tick shows
	// only in Summary.Timeline), from a goroutine of Run's; it must not
	// block long.
	Progress func(Second)
}

// defaults returns c with every zero field set to its default, in one place.
func (c Config) defaults() Config {
	if len(c.Queries) == 0 {
		c.Queries = DefaultQueries
	}
	if c.Rate > 0 && c.MaxInFlight == 0 {
		c.MaxInFlight = 1000
	}
	if c.Rate == 0 && len(c.Stages) == 0 {
		c.Stages = []Stage{{Users: c.Users, Duration: c.Duration}}
	}
	if len(c.Stages) > 0 {
		c.Duration = 0
		for _, s := range c.Stages {
			c.Duration += s.Duration
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = c.Timeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	return c
}

// rampTime is how long the first stage's users take to spawn.
// keys are every key the run sends: its own and a mix's apps', all to be
// kept out of what it reports.
func (c Config) keys() []Secret {
	keys := []Secret{c.APIKey}
	if m, ok := c.Scenario.(*Mix); ok {
		for _, p := range m.parts {
			keys = append(keys, p.Key)
		}
	}
	return keys
}

func (c Config) rampTime() time.Duration {
	if c.Rate > 0 || c.SpawnRate <= 0 || len(c.Stages) == 0 {
		return 0
	}
	return time.Duration(float64(c.Stages[0].Users) / c.SpawnRate * float64(time.Second))
}

// Validate returns every problem with c at once. It checks c as given,
// defaults aside.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("loader: base url %q: want http(s)://host[/path]", c.BaseURL)
	}
	if c.Scenario == nil {
		bad("loader: no scenario")
	} else if v, ok := c.Scenario.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Rate < 0 || c.SpawnRate < 0 || c.Users < 0 || c.MaxInFlight < 0 {
		bad("loader: rate, spawn rate, users and max in-flight must not be negative")
	}
	open := c.Rate > 0
	switch {
	case open && (len(c.Stages) > 0 || c.Users > 0):
		bad("loader: an arrival rate excludes users and stages")
	case !open && len(c.Stages) == 0 && c.Users == 0:
		bad("loader: need users, stages or a rate")
	case len(c.Stages) > 0 && (c.Duration != 0 || c.Users != 0):
		bad("loader: stages set the users and the duration; leave Users and Duration zero")
	case len(c.Stages) == 0 && c.Duration <= 0:
		bad("loader: duration must be positive")
	}
	for i, s := range c.Stages {
		if s.Users < 0 || s.Duration <= 0 {
			bad("loader: stage %d: want users >= 0 and a positive duration", i+1)
		}
	}
	if c.ThinkMin < 0 || c.ThinkMax < c.ThinkMin {
		bad("loader: think time: want 0 <= min <= max")
	}
	if c.Timeout < 0 || c.HeaderTimeout < 0 || c.DialTimeout < 0 || c.WarmUp < 0 {
		bad("loader: timeouts and warm-up must not be negative")
	}
	if len(errs) == 0 {
		d := c.defaults()
		if w := d.rampTime() + d.WarmUp; w >= d.Duration {
			bad("loader: spawn ramp plus warm-up (%v) leaves no measured window in %v", w, d.Duration)
		}
	}
	return errors.Join(errs...)
}
