package main

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// goBenchPackages are the packages whose Go benchmarks the suite runs.
var goBenchPackages = []string{"./gateway/...", "./roomsvc/", "./shared/", "./test/bench/"}

// GoBench is the Go benchmarks' run: the command, its results, and the
// raw output for reproducibility.
type GoBench struct {
	Command   string        `json:"command"`
	ElapsedMS float64       `json:"elapsed_ms"`
	Error     string        `json:"error,omitempty"` // go test failed (results may be partial)
	Results   []GoBenchmark `json:"results"`
	Output    string        `json:"output"`
}

// GoBenchmark is one line of `go test -bench` output.
type GoBenchmark struct {
	Package     string             `json:"package"` // import path
	Name        string             `json:"name"`    // without the -GOMAXPROCS suffix
	Procs       int                `json:"procs"`   // the suffix; 1 when absent
	Iterations  int64              `json:"iterations"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`  // -1: not reported
	AllocsPerOp float64            `json:"allocs_per_op"` // -1: not reported
	Extra       map[string]float64 `json:"extra,omitempty"`
}

// goBenchArgs is the go test command line; quick runs each benchmark a
// fixed, small number of times.
func goBenchArgs(quick bool) []string {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem"}
	if quick {
		args = append(args, "-benchtime", "100x")
	}
	return append(args, goBenchPackages...)
}

// runGoBench runs the Go benchmarks in repo. Benchmarks hold the machine
// too, so they run under the suite's lock like everything else.
func runGoBench(ctx context.Context, repo string, quick bool) *GoBench {
	args := goBenchArgs(quick)
	gb := &GoBench{Command: "go " + shellJoin(args)}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	gb.ElapsedMS = ms(time.Since(start))
	gb.Output = string(out)
	gb.Results = parseGoBench(gb.Output)
	if err != nil {
		gb.Error = err.Error() + ": " + tailLines(failureLines(out), 15)
	}
	return gb
}

// failureLines keeps the lines of go test output that explain a failure.
func failureLines(out []byte) []byte {
	var b strings.Builder
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "goos:") || strings.HasPrefix(line, "goarch:") ||
			strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "pkg:") || line == "PASS" || strings.HasPrefix(line, "ok ") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String())
}

// parseGoBench reads the result lines of `go test -bench` output. A
// result line is "BenchmarkName-P  N  v unit  v unit ..."; the package is
// the last "pkg:" line before it.
func parseGoBench(out string) []GoBenchmark {
	var res []GoBenchmark
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := GoBenchmark{Package: pkg, Name: f[0], Procs: 1, Iterations: n, BytesPerOp: -1, AllocsPerOp: -1}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if p, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name, b.Procs = b.Name[:i], p
			}
		}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				b.NsPerOp = v
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			default:
				if b.Extra == nil {
					b.Extra = map[string]float64{}
				}
				b.Extra[unit] = v
			}
		}
		if ok {
			res = append(res, b)
		}
	}
	return res
}
