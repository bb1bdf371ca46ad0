// Command suite is `make bench`: it runs every `rtcmesh bench` scenario
// against four deployments in one run and writes docs/benchmarks.md, SVG
// charts and the raw JSON reports (results.json) from the results.
//
//	go run ./bench/suite -out docs/benchmarks.md -charts docs/bench    # make bench, about 20 min
//	go run ./bench/suite -quick -out /tmp/b.md -charts /tmp/b          # every scenario, small, a few minutes
//	go run ./bench/suite -quick -only 'storm/.*/(dev|node)$' ...       # a subset, by run id
//	go run ./bench/suite -from docs/bench/results.json ...             # rewrite the report only
//
// # Deployments
//
// dev (`rtcmesh dev`), split-1gw (`rtcmesh nats`, two `rtcmesh roomsvc`,
// one `rtcmesh gateway`), split-2gw (the same with two gateways) and node
// (the Node reference server in bench/reference). Each is started fresh
// for every run, on free loopback ports with a temporary JetStream store,
// polled until ready, warmed up by an 8-socket storm that must pass, and
// killed afterwards. The four deployments of a scenario run back to back,
// so their figures come from the same conditions.
//
// # Locking
//
// The machine is shared and has two cores, so two benchmarks running at
// once would spoil each other's figures. The suite holds an exclusive
// flock(2) on /tmp/rtcmesh-bench.lock for its whole run (waiting for it
// first), and everyone running a server-plus-bench pair on this machine
// must do the same, for example (flock(1) passes the descriptor to its
// command, so a server left running keeps the lock; the suite's own
// descriptor is close-on-exec and never reaches its children):
//
//	flock /tmp/rtcmesh-bench.lock rtcmesh bench storm ...
//
// # Processes
//
// Every process the suite starts gets its own process group, which is
// killed (SIGTERM, then SIGKILL after a grace period) when its run ends, on
// every exit path; SIGINT and SIGTERM cancel the run and go through the
// same path. The file descriptor soft limit is raised to the hard limit
// first, so that the servers (Node included) inherit it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// lockPath is the machine-wide benchmark lock; see the package comment.
const lockPath = "/tmp/rtcmesh-bench.lock"

// flags are the command line.
type flags struct {
	out, charts, results string
	from                 string
	quick, keep          bool
	only                 *regexp.Regexp
	relayRate            float64
	fanoutRate           float64
}

func parseFlags(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.StringVar(&f.out, "out", "docs/benchmarks.md", "markdown report to write")
	fs.StringVar(&f.charts, "charts", "docs/bench", "directory for the SVG charts")
	fs.StringVar(&f.results, "results", "", "raw results file (default: <charts>/results.json)")
	fs.StringVar(&f.from, "from", "", "write the report from this results file instead of running")
	fs.BoolVar(&f.quick, "quick", false, "shrink every count and duration (a few minutes; skips 100k)")
	fs.BoolVar(&f.keep, "keep", false, "keep the work directory (binary, stores, process logs)")
	fs.Float64Var(&f.relayRate, "relay-rate", 0, "round trips/s offered by the fixed-rate relay (default 5000, quick 500)")
	fs.Float64Var(&f.fanoutRate, "fanout-rate", 0, "messages/s sent by the fanout (default 2000, quick 200)")
	only := fs.String("only", "", "run only the runs whose id matches this regexp (ids: hold/3000/dev, go-bench, ...)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.results == "" {
		f.results = filepath.Join(f.charts, "results.json")
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return f, fmt.Errorf("-only: %w", err)
		}
		f.only = re
	}
	return f, nil
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, f, log)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags, log *slog.Logger) error {
	if f.from != "" {
		res, err := loadResults(f.from)
		if err != nil {
			return err
		}
		return writeOutputs(res, f, log)
	}
	res, err := runSuite(ctx, f, log, func(ctx context.Context) (func(), error) { return acquireLock(ctx, lockPath, log) })
	if err != nil {
		return err
	}
	if err := saveResults(f.results, res); err != nil {
		return err
	}
	return writeOutputs(res, f, log)
}

// acquireLock takes the exclusive benchmark lock, polling so that a
// signal can end the wait (a blocking flock would restart after it).
func acquireLock(ctx context.Context, path string, log *slog.Logger) (func(), error) {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	warned := false
	for {
		err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			fh.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !warned {
			log.Info("waiting for the benchmark lock (another benchmark is running)", "lock", path)
			warned = true
		}
		select {
		case <-ctx.Done():
			fh.Close()
			return nil, fmt.Errorf("wait for lock: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	log.Info("holding the benchmark lock", "lock", path)
	return func() {
		_ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
		fh.Close()
	}, nil
}

// raiseNoFile lifts this process's descriptor soft limit to the hard one,
// so every server started inherits it, and returns both.
func raiseNoFile() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return rl.Cur, rl.Max, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return rl.Cur, rl.Max, nil
}
