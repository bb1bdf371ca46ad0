package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/internal/memtrim"
)

// serverCommands hold sockets and state for long: they get the memory
// tuning below. The tools and the load generator keep Go's defaults (the
// load generator shares the cores with what it measures, so it should not
// pay for a tighter heap).
var serverCommands = map[string]bool{"dev": true, "nats": true, "gateway": true, "roomsvc": true}

func memoryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "gc-percent", Value: 50, EnvVars: []string{"RTCMESH_GC_PERCENT"},
			Usage: "Go GC target for the servers (GOGC): lower holds less memory per socket for more CPU per join; GOGC in the environment wins"},
		&cli.BoolFlag{Name: "no-memory-trim", EnvVars: []string{"RTCMESH_NO_MEMORY_TRIM"},
			Usage: "do not hand idle heap back to the OS every few seconds"},
	}
}

// background owns the goroutines that outlive one command's setup but
// not the process: main cancels and waits for them after the command.
type background struct {
	ctx context.Context
	wg  sync.WaitGroup
}

func (b *background) Go(fn func(context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn(b.ctx)
	}()
}

// tuneMemory applies --gc-percent and starts the trimmer for the server
// commands.
func tuneMemory(c *cli.Context, bg *background) {
	if !serverCommands[c.Args().First()] {
		return
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(c.Int("gc-percent"))
	}
	if c.Bool("no-memory-trim") {
		return
	}
	t := memtrim.New(memtrim.Config{Logger: slog.Default()})
	bg.Go(func(ctx context.Context) { _ = t.Run(ctx) })
}
