package helm

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// healthRequestTimeout bounds one health request.
const healthRequestTimeout = 10 * time.Second

// settleAndCheck waits the settle time, then polls the health endpoint
// until it answers 2xx or the health timeout passes.
func (d *Deployer) settleAndCheck(ctx context.Context) error {
	if s := d.timeouts.Settle; s > 0 {
		d.log("settle %v", s)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s):
		}
	}
	if d.healthURL == "" {
		return nil
	}
	return checkHealth(ctx, healthURL(d.healthURL, d.health), d.timeouts.Health)
}

// healthURL joins the endpoint and the path.
func healthURL(base, path string) string {
	return strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(path, "/")
}

// checkHealth polls GET u every second until a 2xx answer or timeout.
func checkHealth(ctx context.Context, u string, timeout time.Duration) error {
	shown := u
	if pu, err := url.Parse(u); err == nil {
		shown = pu.Redacted()
	}
	client := &http.Client{Timeout: healthRequestTimeout}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("health check %s: %w", shown, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = resp.Status
		} else {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			last = err.Error()
			if ue, ok := err.(*url.Error); ok {
				last = ue.Err.Error()
			}
		}
		if time.Now().After(deadline) {
			return &HealthError{URL: shown, Timeout: timeout, Last: last}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
