package loader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tune-dify/tune/spaces"
)

// Mix drives several apps at once, as the users of one Dify deployment do
// (a chatflow, an agent and a knowledge base behind the same api): each
// virtual user runs one part's scenario for all its requests, with that
// app's key, the users split among the parts by weight in the order they
// spawn (spaces.Split, the split the embedded model makes too). In an open
// loop the in-flight slots are split the same way. Make one with NewMix.
type Mix struct {
	parts []MixPart
	split spaces.Split
}

// MixPart is one app of a mixed load.
type MixPart struct {
	Name     string   // the scenario's name (chatflow, agent, ...), for messages
	Weight   int      // its share of the users, relative to the other parts'
	Scenario Scenario // how its requests are built and judged
	// Key is the app's API key (each Dify app has its own); empty: the
	// run's Config.APIKey.
	Key Secret
}

// ErrMix: a mix needs parts, each with a scenario and a positive weight.
var ErrMix = errors.New("loader: a mix needs parts, each with a scenario and a weight of at least 1")

// NewMix is the mixed load of parts, in the order given (the split
// depends on it: list them as spaces.Mix.Parts does).
func NewMix(parts []MixPart) (*Mix, error) {
	if len(parts) == 0 {
		return nil, ErrMix
	}
	weights := make([]spaces.Part, len(parts))
	for i, p := range parts {
		if p.Scenario == nil || p.Weight < 1 {
			return nil, fmt.Errorf("%w: part %d (%s)", ErrMix, i+1, p.Name)
		}
		if strings.ContainsAny(string(p.Key), "\r\n") {
			return nil, fmt.Errorf("loader: mix part %s: the key holds a line break", p.Name)
		}
		weights[i] = spaces.Part{Scenario: p.Name, Weight: p.Weight}
	}
	return &Mix{parts: parts, split: spaces.NewSplit(weights)}, nil
}

// Parts are the mix's parts.
func (m *Mix) Parts() []MixPart { return m.parts }

// Validate checks every part's scenario, for Config.Validate.
func (m *Mix) Validate() error {
	if m == nil || len(m.parts) == 0 {
		return ErrMix
	}
	var errs []error
	for _, p := range m.parts {
		if v, ok := p.Scenario.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("mix part %s: %w", p.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// partKey carries a request's part from Request to Read.
type partKey struct{}

// Part is the index of the part that user (Call.User, "tune-<n>") runs.
func (m *Mix) Part(user string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(user, "tune-"))
	if err != nil || n < 1 {
		return 0
	}
	return m.split.Of(n - 1)
}

// Request builds the request of c's user's part, with the part's key.
func (m *Mix) Request(ctx context.Context, base string, c Call) (*http.Request, error) {
	i := m.Part(c.User)
	p := m.parts[i]
	req, err := p.Scenario.Request(context.WithValue(ctx, partKey{}, i), base, c)
	if err != nil {
		return nil, err
	}
	if p.Key != "" {
		req.Header.Set("Authorization", "Bearer "+string(p.Key))
	}
	return req, nil
}

// Read judges the response as the request's part does.
func (m *Mix) Read(s *Stream) error {
	if s.Resp == nil || s.Resp.Request == nil {
		return errorf(KindMalformed, "mix: a response without its request")
	}
	i, ok := s.Resp.Request.Context().Value(partKey{}).(int)
	if !ok || i < 0 || i >= len(m.parts) {
		return errorf(KindMalformed, "mix: a response to a request the mix did not build")
	}
	return m.parts[i].Scenario.Read(s)
}
