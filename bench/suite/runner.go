package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rtcmesh/rtcmesh/bench"
)

// maxReport bounds a bench's stdout: one JSON report, a few kilobytes.
const maxReport = 64 << 20

// runSuite builds the binary, takes the benchmark lock with lock, runs
// every planned case and the Go benchmarks, and returns the results. It
// fails only when the suite itself cannot go on (no binary, interrupted);
// a failed run is recorded in its Run.
func runSuite(ctx context.Context, f flags, log *slog.Logger, lock func(context.Context) (func(), error)) (*Results, error) {
	soft, hard, err := raiseNoFile()
	if err != nil {
		log.Warn("cannot raise the file descriptor limit", "soft", soft, "hard", hard, "err", err)
	}
	repo := output(ctx, ".", "go", "list", "-m", "-f", "{{.Dir}}")
	if repo == "" {
		return nil, errors.New("find the module root: go list -m failed (run from the repository)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("find node: %w", err)
	}
	work, err := os.MkdirTemp("", "rtcmesh-suite-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	if f.keep {
		log.Info("keeping the work directory", "dir", work)
	} else {
		defer os.RemoveAll(work)
	}
	e := &env{bin: filepath.Join(work, "rtcmesh"), node: node, repo: repo, work: work, log: log}
	// Building and installing need no lock: they do not disturb a
	// benchmark much, and the lock is held for less time.
	if err := e.build(ctx); err != nil {
		return nil, err
	}
	if err := ensureNodeModules(ctx, repo, log); err != nil {
		return nil, err
	}
	unlock, err := lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	started := time.Now()
	res := &Results{Schema: resultsSchema, Started: started.UTC(), Machine: machineInfo(ctx, repo),
		Params: newParams(f.quick, hard, f.relayRate, f.fanoutRate), Build: "go build -o rtcmesh ./cmd/rtcmesh"}
	res.Machine.FDSoft, res.Machine.FDHard = soft, hard
	if f.only != nil {
		res.Only = f.only.String()
	}
	if load, err := strconv.ParseFloat(strings.Fields(res.Machine.LoadAvg + " 0")[0], 64); err == nil && load > 0.5 {
		log.Warn("the machine is busy: figures will be noisier", "load", res.Machine.LoadAvg)
	}
	cases := filter(res.Params.plan(), f.only)
	for i, c := range cases {
		log.Info("run", "n", strconv.Itoa(i+1)+"/"+strconv.Itoa(len(cases)), "case", c.describe())
		r := e.runCase(ctx, c)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted during %s: %w", c.ID, ctx.Err())
		}
		logRun(log, r)
		res.Runs = append(res.Runs, r)
	}
	if f.only == nil || f.only.MatchString(idGoBench) {
		log.Info("run", "case", idGoBench)
		res.GoBench = runGoBench(ctx, repo, f.quick)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted during %s: %w", idGoBench, ctx.Err())
		}
	}
	res.ElapsedMS = ms(time.Since(started))
	return res, nil
}

func logRun(log *slog.Logger, r Run) {
	switch {
	case r.Error != "":
		log.Warn("run failed", "id", r.ID, "err", r.Error, "exits", r.ServerExits)
	case !r.rep.OK:
		log.Warn("run done with errors or violations", "id", r.ID, "errors", r.rep.Errors, "violations", r.rep.Violations,
			"elapsed", time.Duration(r.ElapsedMS)*time.Millisecond)
	default:
		log.Info("run done", "id", r.ID, "elapsed", time.Duration(r.ElapsedMS)*time.Millisecond)
	}
}

// build compiles the working tree's rtcmesh once for the whole run.
func (e *env) build(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/rtcmesh")
	cmd.Dir = e.repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/rtcmesh: %w\n%s", err, out)
	}
	return nil
}

// ensureNodeModules installs the reference server's dependencies when
// they are missing (a fresh clone).
func ensureNodeModules(ctx context.Context, repo string, log *slog.Logger) error {
	dir := filepath.Join(repo, "bench", "reference")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return nil
	}
	log.Info("installing the reference server's dependencies", "dir", dir)
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in bench/reference: %w\n%s", err, out)
	}
	return nil
}

// runCase starts the deployment, warms it up, runs the bench and stops
// the deployment.
func (e *env) runCase(ctx context.Context, c Case) Run {
	r := Run{ID: c.ID, Group: c.Group, Scenario: string(c.Scenario), Deployment: c.Deployment,
		Sockets: c.Sockets, RoomSize: c.RoomSize, Started: time.Now().UTC()}
	e.runDeployed(ctx, c, &r)
	r.ElapsedMS = ms(time.Since(r.Started))
	return r
}

func (e *env) runDeployed(ctx context.Context, c Case, r *Run) {
	d, err := e.startDeployment(ctx, c.Deployment, c.ID)
	if err != nil {
		r.Error = "start deployment: " + err.Error()
		return
	}
	defer d.stop()
	r.Servers = d.cmds
	if err := e.warmUp(ctx, d); err != nil {
		r.Error, r.ServerExits = err.Error(), d.exits()
		return
	}
	args := benchArgs(c, d)
	r.Bench = e.display("rtcmesh " + shellJoin(args))
	out, err := e.runBench(ctx, args, c.Timeout, filepath.Join(d.dir, "bench.log"))
	r.ServerExits = d.exits()
	if err == nil {
		r.rep, err = decodeReport(out)
	}
	if err != nil {
		r.Error, r.Log = err.Error(), fileTail(filepath.Join(d.dir, "bench.log"), 20)
		return
	}
	r.Report = out
}

// benchArgs is the bench command line of a case against d.
func benchArgs(c Case, d *deployment) []string {
	args := []string{"bench", string(c.Scenario), "--url", strings.Join(d.urls, ","),
		"--sockets", strconv.Itoa(c.Sockets), "--json"}
	if c.Scenario != bench.ScenarioRelay { // relay's rooms are pairs
		args = append(args, "--room-size", strconv.Itoa(c.RoomSize))
	}
	args = append(args, c.Args...)
	if c.PIDs {
		args = append(args, "--pid", d.pidFlag())
	}
	return args
}

// warmUp runs small storms until one passes: every process answers, the
// room service has taken its partitions, and the first-use costs are
// paid before anything is measured.
func (e *env) warmUp(ctx context.Context, d *deployment) error {
	args := []string{"bench", "storm", "--url", strings.Join(d.urls, ","), "--sockets", "8", "--room-size", "4",
		"--json", "--progress", "0", "--timeout", "10s"}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		out, err := e.runBench(ctx, args, time.Minute, filepath.Join(d.dir, "warmup-"+strconv.Itoa(i)+".log"))
		if err == nil {
			var rep *bench.Report
			if rep, err = decodeReport(out); err == nil && !rep.OK {
				err = fmt.Errorf("errors %v, violations %v", rep.Errors, rep.Violations)
			}
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("warm-up storm: %w", err)
		}
		if exits := d.exits(); len(exits) > 0 {
			return fmt.Errorf("warm-up storm: %w; %s", err, strings.Join(exits, "; "))
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// runBench runs `rtcmesh <args>` and returns its stdout; stderr goes to
// logPath. The bench and its worker processes are killed when ctx ends or
// timeout passes.
func (e *env) runBench(ctx context.Context, args []string, timeout time.Duration, logPath string) ([]byte, error) {
	out := &limitedBuffer{max: maxReport}
	p, err := startProc(procSpec{name: "bench", path: e.bin, args: args, dir: e.repo, stdout: out, log: logPath})
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.stop(stopGrace)
		return nil, fmt.Errorf("bench: %w", ctx.Err())
	case <-timer.C:
		_ = p.stop(stopGrace)
		return nil, fmt.Errorf("bench: no result within %s", timeout)
	}
	if err := p.stop(0); err != nil {
		return nil, fmt.Errorf("bench: %w: %s", err, fileTail(logPath, 5))
	}
	if out.truncated {
		return nil, fmt.Errorf("bench: more than %d bytes of output", maxReport)
	}
	return out.Bytes(), nil
}

// ms is a duration in float64 milliseconds, as in the bench's reports.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
