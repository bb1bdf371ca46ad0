package ops

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func metricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "# TYPE test_total counter\ntest_total 7\n")
	})
}

func TestRoutes(t *testing.T) {
	notReady := errors.New("nats disconnected")
	for _, tc := range []struct {
		name     string
		pprof    bool
		ready    error
		path     string
		code     int
		contains string
	}{
		{"metrics", false, nil, "/metrics", 200, "test_total 7"},
		{"healthz", false, nil, "/healthz", 200, `"ok"`},
		{"healthz while not ready", false, notReady, "/healthz", 200, `"ok"`},
		{"readyz", false, nil, "/readyz", 200, `"ready"`},
		{"readyz not ready", false, notReady, "/readyz", 503, "nats disconnected"},
		{"pprof off", false, nil, "/debug/pprof/", 404, "not found"},
		{"pprof cmdline off", false, nil, "/debug/pprof/cmdline", 404, "not found"},
		{"pprof on", true, nil, "/debug/pprof/", 200, "goroutine"},
		{"pprof cmdline on", true, nil, "/debug/pprof/cmdline", 200, ""},
		{"unknown path", true, nil, "/socket.io/", 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Addr: "127.0.0.1:0", Metrics: metricsHandler(), Pprof: tc.pprof,
				Ready: func() error { return tc.ready }})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("GET %s: status %d, want %d: %s", tc.path, rec.Code, tc.code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Fatalf("GET %s: body %q does not contain %q", tc.path, rec.Body, tc.contains)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{Metrics: metricsHandler()}); err == nil {
		t.Error("New without Addr: want an error")
	}
	if _, err := New(Config{Addr: ":0"}); err == nil {
		t.Error("New without Metrics: want an error")
	}
}

// TestServeUntilCancelled serves on a real listener, follows readiness
// changes, and returns nil once ctx is cancelled.
func TestServeUntilCancelled(t *testing.T) {
	var ready atomic.Bool
	s, err := New(Config{Addr: "127.0.0.1:0", Metrics: metricsHandler(), Ready: func() error {
		if !ready.Load() {
			return errors.New("starting")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	status := func() int {
		res, err := http.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz before ready: %d, want 503", got)
	}
	ready.Store(true)
	if got := status(); got != http.StatusOK {
		t.Fatalf("readyz when ready: %d, want 200", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
