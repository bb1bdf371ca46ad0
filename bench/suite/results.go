package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rtcmesh/rtcmesh/bench"
)

// resultsSchema is the version of results.json.
const resultsSchema = 1

// Results is one suite run: what results.json holds, and everything the
// report is written from.
type Results struct {
	Schema    int       `json:"schema"`
	Started   time.Time `json:"started"`
	ElapsedMS float64   `json:"elapsed_ms"`
	Only      string    `json:"only,omitempty"` // the -only filter, if any
	Machine   Machine   `json:"machine"`
	Params    Params    `json:"params"`
	Build     string    `json:"build"` // how the binary was built
	Runs      []Run     `json:"runs"`
	GoBench   *GoBench  `json:"go_bench,omitempty"`
}

// Machine is where the suite ran.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	RAMBytes uint64 `json:"ram_bytes"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Node     string `json:"node"`
	FDSoft   uint64 `json:"fd_soft"`
	FDHard   uint64 `json:"fd_hard"`
	LoadAvg  string `json:"load_avg"` // /proc/loadavg when the run began
	Commit   string `json:"commit"`
	Dirty    bool   `json:"dirty"` // uncommitted changes in the working tree
}

// Run is one case's outcome. Report is the bench's --json output as it
// was printed.
type Run struct {
	ID          string          `json:"id"`
	Group       string          `json:"group"`
	Scenario    string          `json:"scenario"`
	Deployment  string          `json:"deployment"`
	Sockets     int             `json:"sockets"`
	RoomSize    int             `json:"room_size"`
	Servers     []string        `json:"servers"` // each process's command line
	Bench       string          `json:"bench"`   // the bench's command line
	Started     time.Time       `json:"started"`
	ElapsedMS   float64         `json:"elapsed_ms"`
	Error       string          `json:"error,omitempty"`        // the run did not produce a report
	Log         string          `json:"log,omitempty"`          // the bench's last stderr lines, on error
	ServerExits []string        `json:"server_exits,omitempty"` // processes that died during the run
	Report      json.RawMessage `json:"report,omitempty"`

	rep *bench.Report // Report decoded
}

// decodeReport parses a bench --json document and checks its schema.
func decodeReport(b []byte) (*bench.Report, error) {
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	if r.Schema != bench.SchemaVersion {
		return nil, fmt.Errorf("decode report: schema %d, want %d", r.Schema, bench.SchemaVersion)
	}
	if r.Scenario == "" {
		return nil, errors.New("decode report: no scenario")
	}
	return &r, nil
}

// run returns the run with that id, nil if it did not run.
func (r *Results) run(id string) *Run {
	for i := range r.Runs {
		if r.Runs[i].ID == id {
			return &r.Runs[i]
		}
	}
	return nil
}

// report returns the decoded report of a run, nil if it did not run or
// failed.
func (r *Results) report(id string) *bench.Report {
	if x := r.run(id); x != nil {
		return x.rep
	}
	return nil
}

func saveResults(path string, res *Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save results: %w", err)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("save results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save results: %w", err)
	}
	return nil
}

func loadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load results: %w", err)
	}
	return parseResults(b)
}

// parseResults decodes results.json and every report in it.
func parseResults(b []byte) (*Results, error) {
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("parse results: %w", err)
	}
	if res.Schema != resultsSchema {
		return nil, fmt.Errorf("parse results: schema %d, want %d", res.Schema, resultsSchema)
	}
	for i := range res.Runs {
		x := &res.Runs[i]
		if len(x.Report) == 0 {
			continue
		}
		rep, err := decodeReport(x.Report)
		if err != nil {
			return nil, fmt.Errorf("parse results: run %s: %w", x.ID, err)
		}
		x.rep = rep
	}
	return &res, nil
}

// machineInfo describes this machine; missing pieces stay empty.
func machineInfo(ctx context.Context, repo string) Machine {
	m := Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU, m.Cores = parseCPUInfo(b, m.Cores)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.RAMBytes = parseMemTotal(b)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	m.Go = output(ctx, repo, "go", "env", "GOVERSION")
	m.Node = output(ctx, repo, "node", "--version")
	m.Commit = output(ctx, repo, "git", "rev-parse", "HEAD")
	m.Dirty = output(ctx, repo, "git", "status", "--porcelain", "--untracked-files=no") != ""
	return m
}

// output runs a command and returns its trimmed stdout, "" on error.
func output(ctx context.Context, dir, name string, args ...string) string {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// parseCPUInfo returns the first model name and the processor count of a
// /proc/cpuinfo (def when it lists none).
func parseCPUInfo(b []byte, def int) (model string, cores int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			cores++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if cores == 0 {
		cores = def
	}
	return model, cores
}

// parseMemTotal returns MemTotal of a /proc/meminfo in bytes, 0 if absent.
func parseMemTotal(b []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
