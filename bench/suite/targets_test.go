package main

import (
	"strings"
	"testing"

	"github.com/rtcmesh/rtcmesh/bench"
)

// fakeResults is a full-size run holding the given reports by run id.
func fakeResults(reps map[string]*bench.Report) *Results {
	res := &Results{Schema: resultsSchema, Params: newParams(false, 20000, 0, 0)}
	for id, rep := range reps {
		res.Runs = append(res.Runs, Run{ID: id, rep: rep})
	}
	return res
}

func holdReport(procs ...bench.ProcessMemory) *bench.Report {
	m := &bench.MemoryReport{Processes: procs, Total: bench.ProcessMemory{Name: "total", Settled: true}}
	for _, p := range procs {
		m.Total.SettledPerSocket += p.SettledPerSocket
		m.Total.Settled = m.Total.Settled && p.Settled
	}
	return &bench.Report{Scenario: bench.ScenarioHold, Memory: m, OK: true}
}

func mem(name string, perSocket float64) bench.ProcessMemory {
	return bench.ProcessMemory{Name: name, SettledPerSocket: perSocket, Settled: true}
}

func stormReport(joinsPerSec, p99 float64, violations int64) *bench.Report {
	return &bench.Report{Scenario: bench.ScenarioStorm, Sockets: 2000, ViolationsTotal: violations,
		Join: &bench.JoinReport{Joined: 2000, JoinsPerSec: joinsPerSec, Latency: bench.Latency{P99MS: p99}}}
}

func relayReport(p50, p99, saturation float64) *bench.Report {
	return &bench.Report{Scenario: bench.ScenarioRelay, Relay: &bench.RelayReport{
		Steps:                      []bench.RelayStep{{Step: 1, Pass: true, RTT: bench.Latency{P50MS: p50, P99MS: p99}}},
		SaturationRoundTripsPerSec: saturation}}
}

// verdicts indexes the rows by target.
func verdicts(rows []targetRow) map[string]targetRow {
	out := map[string]targetRow{}
	for _, r := range rows {
		out[r.Target] = r
	}
	return out
}

func TestMemoryTargets(t *testing.T) {
	res := fakeResults(map[string]*bench.Report{
		"hold/3000/dev":       holdReport(mem("dev", 7900)),
		"hold/3000/node":      holdReport(mem("node", 25000)),
		"hold/3000/split-1gw": holdReport(mem("nats", 1000), mem("roomsvc-1", 1500), mem("roomsvc-2", 600), mem("gateway", 4900)),
		"hold/19848/dev":      holdReport(mem("dev", 8100)),
		"hold/19848/node":     holdReport(mem("node", 19000)),
	})
	v := verdicts(targets(res))
	for _, tc := range []struct {
		target string
		want   verdict
		inMeas string
	}{
		{"Memory per joined socket, dev process, settled, 3,000 sockets", met, "7.9 KB"},
		{"Memory per joined socket, dev vs node, settled, 3,000 sockets", met, "= 0.32×"},
		{"Memory per joined socket, gateway process (split-1gw), 3,000 sockets", met, "4.9 KB"},
		{"Memory per joined socket, nats + both roomsvc (split-1gw), 3,000 sockets", notMet, "3.1 KB"},
		{"Memory per joined socket, dev process, settled, 19,848 sockets", notMet, "8.1 KB"},
		{"Memory per joined socket, dev vs node, settled, 19,848 sockets", notMet, "= 0.43×"},
		{"Memory per joined socket, gateway process (split-1gw), 19,848 sockets", noData, ""},
	} {
		r, ok := v[tc.target]
		if !ok {
			t.Errorf("no row %q", tc.target)
			continue
		}
		if r.Verdict != tc.want || !strings.Contains(r.Measured, tc.inMeas) {
			t.Errorf("%s: %v %q, want %v with %q", tc.target, r.Verdict, r.Measured, tc.want, tc.inMeas)
		}
	}
}

func TestStormAndRelayTargets(t *testing.T) {
	res := fakeResults(map[string]*bench.Report{
		"storm/2000/node":              stormReport(1000, 200, 0),
		"storm/2000/dev":               stormReport(3500, 90, 0),
		"storm/2000/split-1gw":         stormReport(2900, 101, 2),
		"relay/2000/node":              relayReport(2, 10, 0),
		"relay/2000/dev":               relayReport(0.9, 5, 0),
		"relay/2000/split-2gw":         relayReport(1.2, 4, 0),
		"relay-saturate/200/node":      relayReport(0, 0, 10000),
		"relay-saturate/200/dev":       relayReport(0, 0, 30000),
		"relay-saturate/200/split-1gw": relayReport(0, 0, 29999),
	})
	v := verdicts(targets(res))
	for _, tc := range []struct {
		target string
		want   verdict
	}{
		{"Joins/s, storm 2,000 sockets, dev", met},
		{"Join p99, storm 2,000 sockets, dev", met},
		{"Violations, storm 2,000 sockets, dev", met},
		{"Joins/s, storm 2,000 sockets, split-1gw", notMet},
		{"Join p99, storm 2,000 sockets, split-1gw", notMet},
		{"Violations, storm 2,000 sockets, split-1gw", notMet},
		{"Joins/s, storm 2,000 sockets, split-2gw", noData},
		{"Joins/s, storm 19,848 sockets, dev", noData},
		{"Relay RTT p50, 2,000 sockets at 5,000 round trips/s, dev", met},
		{"Relay RTT p99, 2,000 sockets at 5,000 round trips/s, dev", met},
		{"Relay RTT p50, 2,000 sockets at 5,000 round trips/s, split-2gw", notMet},
		{"Relay RTT p99, 2,000 sockets at 5,000 round trips/s, split-2gw", met},
		{"Relay RTT p50, 2,000 sockets at 5,000 round trips/s, split-1gw", noData},
		{"Relay saturation through one gateway, dev", met},
		{"Relay saturation through one gateway, split-1gw", notMet},
		{"100,000 sockets on dev, connected and joined", noData},
	} {
		r, ok := v[tc.target]
		if !ok {
			t.Errorf("no row %q", tc.target)
			continue
		}
		if r.Verdict != tc.want {
			t.Errorf("%s: %v (%s), want %v", tc.target, r.Verdict, r.Measured, tc.want)
		}
	}
}

func TestBigTarget(t *testing.T) {
	partial := &bench.Report{Scenario: bench.ScenarioHold, Sockets: 100000,
		Connect: bench.ConnectReport{Connected: 19850, Failed: 80150}, Join: &bench.JoinReport{Joined: 19850},
		Errors: map[string]int64{"connect:timeout": 80150}, ErrorsTotal: 80150}
	full := &bench.Report{Scenario: bench.ScenarioHold, Sockets: 100000,
		Connect: bench.ConnectReport{Connected: 100000}, Join: &bench.JoinReport{Joined: 100000}, OK: true}
	for _, tc := range []struct {
		name   string
		run    *Run
		want   verdict
		inMeas string
	}{
		{"partial", &Run{rep: partial}, notMet, "19,850 connected, 19,850 joined"},
		{"all", &Run{rep: full}, met, "100,000 connected"},
		{"failed", &Run{Error: "bench: no result within 30m0s"}, notMet, "run failed"},
		{"not run", nil, noData, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := fakeResults(nil)
			if tc.run != nil {
				tc.run.ID = "hold-100k/100000/dev"
				res.Runs = append(res.Runs, *tc.run)
			}
			r := bigTarget(res)
			if r.Verdict != tc.want || !strings.Contains(r.Measured, tc.inMeas) {
				t.Errorf("got %v %q, want %v with %q", r.Verdict, r.Measured, tc.want, tc.inMeas)
			}
		})
	}
}

func TestRatioRow(t *testing.T) {
	for _, tc := range []struct {
		name         string
		v, ref, goal float64
		higher       bool
		want         verdict
	}{
		{"at least, met at the goal", 30, 10, 3, true, met},
		{"at least, just under", 29.9, 10, 3, true, notMet},
		{"at most, met at the goal", 5, 10, 0.5, false, met},
		{"at most, just over", 5.01, 10, 0.5, false, notMet},
		{"no reference", 5, 0, 0.5, false, noData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ratioRow("x", tc.v, tc.ref, fmtMS, tc.goal, tc.higher); got.Verdict != tc.want {
				t.Errorf("verdict %v (%s), want %v", got.Verdict, got.Measured, tc.want)
			}
		})
	}
}
