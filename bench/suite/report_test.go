package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtcmesh/rtcmesh/bench"
)

func TestRenderReport(t *testing.T) {
	res := fakeResults(map[string]*bench.Report{
		"storm/2000/node":         stormReport(1000, 200, 0),
		"storm/2000/dev":          stormReport(3500, 90, 0),
		"hold/3000/dev":           holdReport(mem("dev", 7900)),
		"hold/3000/node":          holdReport(mem("node", 25000)),
		"relay-saturate/200/dev":  relayReport(1, 2, 30000),
		"relay-saturate/200/node": relayReport(2, 4, 10000),
	})
	res.Runs = append(res.Runs, Run{ID: "storm/2000/split-1gw", Error: "start deployment: gateway exited before ready"})
	res.Machine = Machine{CPU: "Test CPU", Cores: 2, Commit: "0123456789abcdef", Dirty: true, FDHard: 20000}
	refs := chartRefs{have: map[string]bool{chartMemory: true}, dir: "bench", results: "bench/results.json"}
	md := renderReport(res, refs)
	for _, want := range []string{
		"# Benchmarks", "`make bench`", "commit `0123456789ab` (with uncommitted changes", "Test CPU",
		"**19,848 sockets**", "## Targets", "## Memory per socket (hold)", "![memory per socket against sockets](bench/memory.svg)",
		"| dev | 2,000 / 2,000 | 3,500/s (3.50×) |", "failed (see below)", "- `storm/2000/split-1gw` failed: start deployment",
		"## Relay saturation", "30,000/s (3.00×)", "## Go benchmarks", "Not run.", "## Appendix",
		"go test -run '^$' -bench . -benchmem ./gateway/sio/ ./gateway/eio/",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "relay-rtt.svg") {
		t.Error("report embeds a chart that was not drawn")
	}
}

func TestRenderEmpty(t *testing.T) {
	for _, quick := range []bool{false, true} {
		res := &Results{Schema: resultsSchema, Params: newParams(quick, 20000, 0, 0)}
		md := renderReport(res, chartRefs{})
		if !strings.Contains(md, "## Targets") || !strings.Contains(md, "not run") {
			t.Errorf("quick=%v: empty report:\n%s", quick, md)
		}
		if quick != strings.Contains(md, "Partial run") {
			t.Errorf("quick=%v: partial-run banner wrong", quick)
		}
	}
}

func TestWriteCharts(t *testing.T) {
	res := fakeResults(map[string]*bench.Report{
		"hold/1000/dev":  holdReport(mem("dev", 9000)),
		"hold/3000/dev":  holdReport(mem("dev", 7900)),
		"hold/3000/node": holdReport(mem("node", 25000)),
	})
	sat := relayReport(0, 0, 3000)
	sat.Relay.Steps = []bench.RelayStep{
		{Step: 1, OfferedPerSec: 1000, RTT: bench.Latency{P50MS: 0.5, P99MS: 2}},
		{Step: 2, OfferedPerSec: 1500, RTT: bench.Latency{P50MS: 0.7, P99MS: 0}}, // zero: dropped on the log axis
	}
	res.Runs = append(res.Runs, Run{ID: "relay-saturate/200/node", rep: sat})
	dir := t.TempDir()
	have, err := writeCharts(res, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !have[chartMemory] || !have[chartRelay] || have[chartRoomsJoins] {
		t.Errorf("charts = %v", have)
	}
	b, err := os.ReadFile(filepath.Join(dir, chartMemory))
	if err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("memory chart: %v, %.100s", err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, chartRoomsP99)); err == nil {
		t.Error("chart without data written")
	}
}

func TestRelPath(t *testing.T) {
	for _, tc := range []struct{ dir, target, want string }{
		{"docs", "docs/bench", "bench"},
		{"docs", "docs/bench/results.json", "bench/results.json"},
		{"/tmp/a", "/tmp/b", "../b"},
	} {
		if got := relPath(tc.dir, tc.target); got != tc.want {
			t.Errorf("relPath(%s, %s) = %s, want %s", tc.dir, tc.target, got, tc.want)
		}
	}
}
