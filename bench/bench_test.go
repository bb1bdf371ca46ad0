package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
)

// TestMain fails the package if a goroutine started by the bench outlives
// the tests: closing must be prompt and complete.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if stacks := leaked(10 * time.Second); stacks != "" {
			fmt.Fprintf(os.Stderr, "goroutines of the bench package outlived the tests:\n%s\n", stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked polls until no goroutine runs bench code (other than the test
// runner itself), or returns their stacks at the deadline.
func leaked(within time.Duration) string {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
		var bad []string
		for _, g := range strings.Split(buf.String(), "\n\n") {
			if strings.Contains(g, "rtcmesh/bench.") && !strings.Contains(g, "bench.TestMain") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		<-tick.C
	}
}

// testLogger writes to the test log only on failure (via t.Log).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

// mesh starts two gateways and two room-service replicas.
func mesh(t *testing.T) []string {
	m := meshtest.Start(t, meshtest.Options{})
	var urls []string
	for _, g := range m.Gateways {
		urls = append(urls, g.URL)
	}
	return urls
}

// runBench runs cfg and fails on any violation or error.
func runBench(t *testing.T, cfg Config) (*Report, string) {
	t.Helper()
	cfg.Logger = testLogger(t)
	cfg.Timeout = max(cfg.Timeout, 15*time.Second)
	cfg.Grace = 100 * time.Millisecond
	var progress bytes.Buffer // written by one goroutine, which Run waits for
	cfg.ProgressOut = &progress
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rep, err := b.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	if rep.ViolationsTotal != 0 || rep.ErrorsTotal != 0 || !rep.OK {
		t.Errorf("violations %v, errors %v", rep.Violations, rep.Errors)
	}
	if rep.Connect.Connected != int64(cfg.Sockets) || rep.Join == nil || rep.Join.Joined != int64(cfg.Sockets) {
		t.Errorf("connected %d, joined %+v; want all %d", rep.Connect.Connected, rep.Join, cfg.Sockets)
	}
	if rep.Close.Live != int64(cfg.Sockets) {
		t.Errorf("%d sockets live at the end, want %d", rep.Close.Live, cfg.Sockets)
	}
	return rep, progress.String()
}

func TestStorm(t *testing.T) {
	cases := []struct {
		name      string
		transport Transport
		sockets   int
		roomSize  int
		procs     int
	}{
		{"websocket two workers", TransportWebSocket, 40, 4, 2},
		{"upgrade", TransportUpgrade, 24, 4, 1},
		{"polling rooms of 3", TransportPolling, 15, 3, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			urls := mesh(t)
			rep, _ := runBench(t, Config{Scenario: ScenarioStorm, URLs: urls, Sockets: tc.sockets, RoomSize: tc.roomSize,
				Transport: tc.transport, Procs: tc.procs, Spawn: InProcess(testLogger(t))})
			j := rep.Join
			rooms := int64(tc.sockets / tc.roomSize)
			pairs := rooms * int64(tc.roomSize*(tc.roomSize-1)/2)
			if rep.Procs != tc.procs || j.InitOffersExpected != pairs || j.InitOffersReceived != pairs ||
				j.UserConnectedReceived != 2*pairs || j.InitOffer.Count != pairs || j.Latency.Count != int64(tc.sockets) {
				t.Errorf("procs %d, join %+v; want %d init-offers", rep.Procs, j, pairs)
			}
			if j.JoinsPerSec <= 0 || j.Latency.P50MS <= 0 || j.Latency.MaxMS < j.Latency.P99MS || j.TimedOut {
				t.Errorf("implausible join figures: %+v", j)
			}
		})
	}
}

func TestRelay(t *testing.T) {
	t.Parallel()
	urls := mesh(t)
	rep, progress := runBench(t, Config{Scenario: ScenarioRelay, URLs: urls, Sockets: 24, Rate: 400,
		Warmup: 200 * time.Millisecond, Duration: 600 * time.Millisecond, Procs: 2, Spawn: InProcess(testLogger(t)),
		Progress: 100 * time.Millisecond})
	if !strings.Contains(progress, "bench relay: relay") || !strings.Contains(progress, "connected 24/24") {
		t.Errorf("progress lines:\n%s", progress)
	}
	rl := rep.Relay
	if rl == nil || len(rl.Steps) != 1 {
		t.Fatalf("relay report %+v", rl)
	}
	s := rl.Steps[0]
	if s.Sent < 200 || s.Received != s.Sent || s.Lost != 0 || s.OutOfOrder != 0 || s.RTT.Count != s.Sent || !s.Pass {
		t.Errorf("step %+v", s)
	}
	if s.RoundTripsPerSec < 300 || s.RelayedPerSec != 2*s.RoundTripsPerSec || s.RTT.P50MS <= 0 {
		t.Errorf("rates: %+v", s)
	}
}

func TestRelaySaturate(t *testing.T) {
	t.Parallel()
	urls := mesh(t)
	rep, _ := runBench(t, Config{Scenario: ScenarioRelay, URLs: urls[:1], Sockets: 8, Rate: 100, Saturate: true,
		Warmup: 100 * time.Millisecond, StepDuration: 300 * time.Millisecond, MaxSteps: 3, Transport: TransportUpgrade})
	rl := rep.Relay
	if len(rl.Steps) != 3 || !rl.Saturate {
		t.Fatalf("%d steps, want 3 (MaxSteps)", len(rl.Steps))
	}
	for i, s := range rl.Steps {
		if want := 100 * []float64{1, 1.5, 2.25}[i]; s.OfferedPerSec != want || !s.Pass || s.Lost != 0 {
			t.Errorf("step %d: %+v, want offered %v", i+1, s, want)
		}
	}
	if rl.SaturationRoundTripsPerSec < 0.9*225 {
		t.Errorf("saturation %v, want the last step's rate", rl.SaturationRoundTripsPerSec)
	}
}

func TestFanout(t *testing.T) {
	t.Parallel()
	urls := mesh(t)
	rep, _ := runBench(t, Config{Scenario: ScenarioFanout, URLs: urls, Sockets: 24, RoomSize: 4, Rate: 240,
		Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond, Transport: TransportUpgrade,
		Procs: 2, Spawn: InProcess(testLogger(t))})
	f := rep.Fanout
	if f.Sent < 100 || f.ExpectedDeliveries != 3*f.Sent || f.Deliveries != f.ExpectedDeliveries || f.Lost != 0 ||
		f.OutOfOrder != 0 || f.Latency.Count != f.Deliveries || f.DeliveriesPerSec <= 0 {
		t.Errorf("fanout %+v", f)
	}
}

func TestHold(t *testing.T) {
	t.Parallel()
	urls := mesh(t)
	rep, _ := runBench(t, Config{Scenario: ScenarioHold, URLs: urls, Sockets: 24,
		PIDs:           []PID{{"test", os.Getpid()}},
		JoinedDelay:    50 * time.Millisecond,
		SampleInterval: 10 * time.Millisecond, SettleWindow: 50 * time.Millisecond, SettleTimeout: 300 * time.Millisecond})
	m := rep.Memory
	if m == nil || len(m.Processes) != 1 || m.Sockets != 24 {
		t.Fatalf("memory %+v", m)
	}
	p := m.Processes[0]
	if p.BaselineBytes == 0 || p.ConnectedBytes == 0 || p.JoinedBytes == 0 || p.SettledBytes == 0 || p.Samples == 0 || m.Total.SettledBytes != p.SettledBytes {
		t.Errorf("memory %+v", m)
	}
	if rep.Connect.Latency.Count != 24 || rep.Connect.DurationMS <= 0 {
		t.Errorf("connect %+v", rep.Connect)
	}
}
