package loader_test

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tune-dify/tune/internal/leakcheck"
	"github.com/tune-dify/tune/loader"
)

// countConns counts the connections srv accepts.
func countConns(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

// TestEachUserKeepsItsConnection: many streams, one connection per user.
func TestEachUserKeepsItsConnection(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 5}
	d.users = map[string]int{}
	srv := httptest.NewUnstartedServer(d)
	conns := countConns(srv)
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Duration = 3, 700*time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed < 10 || s.Failed > 0 || conns.Load() != 3 {
		t.Errorf("%d streams (%d failed %v) over %d connections, want many over 3", s.Completed, s.Failed, s.Errors, conns.Load())
	}
}

// TestIdleCloseRetried: a server that closes kept-alive connections while
// they idle (a short keep-alive timeout) costs a new connection, not a
// failed request.
func TestIdleCloseRetried(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 3}
	d.users = map[string]int{}
	srv := httptest.NewUnstartedServer(d)
	srv.Config.IdleTimeout = time.Millisecond
	conns := countConns(srv)
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Duration, cfg.ThinkMin, cfg.ThinkMax = 2, 600*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed < 5 || s.Failed > 0 || conns.Load() < 4 {
		t.Errorf("%d streams (%d failed %v) over %d connections", s.Completed, s.Failed, s.Errors, conns.Load())
	}
}

// TestHTTPS: https base URLs, the server verified against Config.TLS's
// roots.
func TestHTTPS(t *testing.T) {
	leakcheck.Check(t)
	d := &dify{chunks: 3}
	d.users = map[string]int{}
	srv := httptest.NewTLSServer(d)
	t.Cleanup(srv.Close)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Duration = 2, 500*time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed != 0 || s.Errors[loader.KindConnection] == 0 {
		t.Errorf("an unknown CA: %d completed, errors %v; want connection failures", s.Completed, s.Errors)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.TLS.RootCAs = pool
	if s, err = loader.Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if s.Completed == 0 || s.Failed > 0 {
		t.Errorf("%d completed, %d failed %v", s.Completed, s.Failed, s.Errors)
	}
}

// TestHugeHeadersRefused: a server sending endless headers fails the
// request without the client holding them.
func TestHugeHeadersRefused(t *testing.T) {
	leakcheck.Check(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			w.Header().Set("X-Big-"+string(rune('a'+i)), strings.Repeat("x", 600<<10))
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	cfg := config(srv.URL, &loader.Chat{})
	cfg.Users, cfg.Duration = 1, 300*time.Millisecond
	s, err := loader.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed != 0 || s.Errors[loader.KindConnection] == 0 || !strings.Contains(s.ErrorExamples[loader.KindConnection], "headers over") {
		t.Errorf("%d completed, errors %v %v", s.Completed, s.Errors, s.ErrorExamples)
	}
}
