package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeReport(t *testing.T) {
	storm, hold := readTestdata(t, "storm.json"), readTestdata(t, "hold.json")
	for _, tc := range []struct {
		name    string
		in      []byte
		wantErr string
		check   func(t *testing.T, b []byte)
	}{
		{name: "storm", in: storm, check: func(t *testing.T, b []byte) {
			rep, _ := decodeReport(b)
			if rep.Join == nil || rep.Join.JoinsPerSec != 6434.8 || rep.Join.Latency.P99MS != 290.75 || rep.Join.Failed != 2 {
				t.Errorf("join = %+v", rep.Join)
			}
			if rep.ViolationsTotal != 3 || rep.Violations["missing-init-offer"] != 3 || rep.Errors["join-error:room-full"] != 2 || rep.OK {
				t.Errorf("violations %v errors %v ok %v", rep.Violations, rep.Errors, rep.OK)
			}
			if rep.Memory != nil || rep.Relay != nil {
				t.Error("storm report has memory or relay")
			}
		}},
		{name: "hold", in: hold, check: func(t *testing.T, b []byte) {
			rep, _ := decodeReport(b)
			m := rep.Memory
			if m == nil || len(m.Processes) != 3 || m.Processes[2].Name != "gateway" || m.Processes[2].SettledPerSocket != 5000 {
				t.Fatalf("memory = %+v", m)
			}
			if m.Total.SettledPerSocket != 6000 || m.Total.Settled || m.Processes[0].PID != 101 {
				t.Errorf("total = %+v", m.Total)
			}
		}},
		{name: "not json", in: []byte("rtcmesh: bench: connect: no socket connected"), wantErr: "decode report"},
		{name: "wrong schema", in: []byte(`{"schema": 2, "scenario": "storm"}`), wantErr: "schema 2"},
		{name: "no scenario", in: []byte(`{"schema": 1}`), wantErr: "no scenario"},
		{name: "empty", in: nil, wantErr: "decode report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeReport(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, tc.in)
		})
	}
}

func TestParseResults(t *testing.T) {
	res := &Results{Schema: resultsSchema, Params: newParams(false, 20000, 0, 0),
		Runs: []Run{
			{ID: "storm/2000/dev", Report: json.RawMessage(readTestdata(t, "storm.json"))},
			{ID: "storm/2000/node", Error: "start deployment: node exited"},
		}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseResults(b)
	if err != nil {
		t.Fatal(err)
	}
	if rep := got.report("storm/2000/dev"); rep == nil || rep.Join.Joined != 1998 {
		t.Errorf("dev report = %+v", rep)
	}
	if got.report("storm/2000/node") != nil || got.run("storm/2000/node").Error == "" {
		t.Error("failed run has a report or lost its error")
	}
	if got.run("storm/2000/split-1gw") != nil {
		t.Error("run that did not run found")
	}
	if got.Params.MaxSockets != 19848 {
		t.Errorf("params = %+v", got.Params)
	}

	for _, bad := range []string{`{"schema": 9}`, `{"schema": 1, "runs": [{"id": "x", "report": {"schema": 1}}]}`, `[`} {
		if _, err := parseResults([]byte(bad)); err == nil {
			t.Errorf("parseResults(%s) succeeded", bad)
		}
	}
}

func TestParseCPUInfo(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		model    string
		cores    int
	}{
		{"two", "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n", "Intel(R) Xeon(R) Processor", 2},
		{"no model (arm)", "processor\t: 0\nBogoMIPS\t: 50.00\n", "", 1},
		{"empty", "", "", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model, cores := parseCPUInfo([]byte(tc.in), 7)
			if model != tc.model || cores != tc.cores {
				t.Errorf("got %q, %d; want %q, %d", model, cores, tc.model, tc.cores)
			}
		})
	}
}

func TestParseMemTotal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"MemTotal:       24683584 kB\nMemFree:        1 kB\n", 24683584 << 10},
		{"MemFree:        1 kB\n", 0},
		{"MemTotal: lots\n", 0},
	} {
		if got := parseMemTotal([]byte(tc.in)); got != tc.want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
