package main

import (
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	got := parseGoBench(string(readTestdata(t, "gobench.txt")))
	want := []GoBenchmark{
		{Package: "github.com/rtcmesh/rtcmesh/gateway/eio", Name: "BenchmarkDecodePayload", Procs: 2, Iterations: 5000000,
			NsPerOp: 240.1, BytesPerOp: 160, AllocsPerOp: 4, Extra: map[string]float64{"MB/s": 525}},
		{Package: "github.com/rtcmesh/rtcmesh/test/bench", Name: "BenchmarkRelayRoundTrip", Procs: 2, Iterations: 6000,
			NsPerOp: 181234, BytesPerOp: 12345, AllocsPerOp: 120},
		{Package: "github.com/rtcmesh/rtcmesh/test/bench", Name: "BenchmarkJoin/members=1", Procs: 2, Iterations: 1300,
			NsPerOp: 812345, BytesPerOp: -1, AllocsPerOp: -1},
		{Package: "github.com/rtcmesh/rtcmesh/test/bench", Name: "BenchmarkJoin/members=8", Procs: 2, Iterations: 1000,
			NsPerOp: 1050000, BytesPerOp: 99999, AllocsPerOp: 1500, Extra: map[string]float64{"msgs/op": 12.5}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Package != w.Package || g.Name != w.Name || g.Procs != w.Procs || g.Iterations != w.Iterations ||
			g.NsPerOp != w.NsPerOp || g.BytesPerOp != w.BytesPerOp || g.AllocsPerOp != w.AllocsPerOp || len(g.Extra) != len(w.Extra) {
			t.Errorf("result %d = %+v, want %+v", i, g, w)
		}
		for k, v := range w.Extra {
			if g.Extra[k] != v {
				t.Errorf("result %d: %s = %v, want %v", i, k, g.Extra[k], v)
			}
		}
	}
}

func TestParseGoBenchNoSuffix(t *testing.T) {
	got := parseGoBench("BenchmarkX 	 10 	 5 ns/op\n")
	if len(got) != 1 || got[0].Name != "BenchmarkX" || got[0].Procs != 1 || got[0].NsPerOp != 5 {
		t.Errorf("got %+v", got)
	}
}

func TestFailureLines(t *testing.T) {
	got := string(failureLines(readTestdata(t, "gobench.txt")))
	if !strings.Contains(got, "--- FAIL: BenchmarkBroken") || !strings.Contains(got, "oops") {
		t.Errorf("failure lost: %q", got)
	}
	if strings.Contains(got, "BenchmarkRelayRoundTrip") || strings.Contains(got, "goos:") {
		t.Errorf("result lines kept: %q", got)
	}
}

func TestGoBenchArgs(t *testing.T) {
	full, quick := strings.Join(goBenchArgs(false), " "), strings.Join(goBenchArgs(true), " ")
	if full != "test -run ^$ -bench . -benchmem ./gateway/... ./roomsvc/ ./shared/ ./test/bench/" {
		t.Errorf("full = %s", full)
	}
	if !strings.Contains(quick, "-benchtime 100x") {
		t.Errorf("quick = %s", quick)
	}
}
