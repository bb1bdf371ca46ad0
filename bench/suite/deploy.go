package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rtcmesh/rtcmesh/bench"
)

// readyTimeout bounds the wait for one process to become ready.
const readyTimeout = 60 * time.Second

// env is what every run shares: the built binary and the work directory.
type env struct {
	bin  string // the rtcmesh binary built for this run
	node string // the node executable
	repo string // the module root
	work string // temporary directory: stores and process logs
	log  *slog.Logger
}

// deployment is one started system under test.
type deployment struct {
	name  string
	urls  []string    // the bench's --url
	pids  []bench.PID // every process, for hold's --pid
	procs []*proc     // in start order
	cmds  []string    // how each process was started, for the report
	dir   string      // this deployment's stores and logs
}

// startDeployment starts the named deployment for run id and waits until
// every process is ready. On error it has stopped what it started.
func (e *env) startDeployment(ctx context.Context, name, id string) (_ *deployment, err error) {
	dir := filepath.Join(e.work, strings.ReplaceAll(id, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("deployment dir: %w", err)
	}
	d := &deployment{name: name, dir: dir}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	switch name {
	case depDev:
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		http, opsAddr := addr(ports[0]), addr(ports[2])
		if err := d.start(ctx, e, "dev", opsAddr, "dev", "--addr", http, "--nats-addr", addr(ports[1]), "--ops-addr", opsAddr,
			"--max-connections-per-ip", "0", "--max-connections", "0", // every bench client comes from loopback
			"--store", filepath.Join(dir, "store")); err != nil {
			return nil, err
		}
		d.urls = []string{"http://" + http}
	case depSplit1, depSplit2:
		gateways := 1
		if name == depSplit2 {
			gateways = 2
		}
		if err := d.startSplit(ctx, e, gateways); err != nil {
			return nil, err
		}
	case depNode:
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		if err := d.startNode(ctx, e, ports[0]); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown deployment %q", name)
	}
	return d, nil
}

func (d *deployment) startSplit(ctx context.Context, e *env, gateways int) error {
	// NATS, two room services' operations ports, then each gateway's
	// client and operations ports.
	ports, err := freePorts(1 + 2 + 2*gateways)
	if err != nil {
		return err
	}
	natsAddr := addr(ports[0])
	natsURL := "nats://" + natsAddr
	if err := d.start(ctx, e, "nats", "nats:"+natsAddr, "nats", "--addr", natsAddr,
		"--store", filepath.Join(d.dir, "store")); err != nil {
		return err
	}
	for i := range 2 {
		m := addr(ports[1+i])
		name := "roomsvc-" + strconv.Itoa(i+1)
		if err := d.start(ctx, e, name, m, "roomsvc", "--nats", natsURL, "--ops-addr", m); err != nil {
			return err
		}
	}
	for i := range gateways {
		a, opsAddr := addr(ports[3+2*i]), addr(ports[4+2*i])
		name := "gateway"
		if gateways > 1 {
			name += "-" + strconv.Itoa(i+1)
		}
		if err := d.start(ctx, e, name, opsAddr, "gateway", "--nats", natsURL, "--addr", a, "--ops-addr", opsAddr,
			"--max-connections-per-ip", "0", "--max-connections", "0"); err != nil {
			return err
		}
		d.urls = append(d.urls, "http://"+a)
	}
	return nil
}

// start runs `rtcmesh <args>` as the process name and waits until ready
// answers: an operations address (--ops-addr) whose /readyz must return
// 200, or "nats:addr".
func (d *deployment) start(ctx context.Context, e *env, name, ready string, args ...string) error {
	p, err := startProc(procSpec{name: name, path: e.bin, args: args, dir: e.repo,
		log: filepath.Join(d.dir, name+".log")})
	if err != nil {
		return err
	}
	d.add(p, e.display("rtcmesh "+shellJoin(args)))
	if natsAddr, ok := strings.CutPrefix(ready, "nats:"); ok {
		return waitReady(ctx, p, func(ctx context.Context) error { return probeNATS(ctx, natsAddr) })
	}
	return waitReady(ctx, p, func(ctx context.Context) error { return probeHTTP(ctx, "http://"+ready+"/readyz", true) })
}

func (d *deployment) startNode(ctx context.Context, e *env, port int) error {
	a := addr(port)
	p, err := startProc(procSpec{name: "node", path: e.node, args: []string{"bench/reference/server.mjs"}, dir: e.repo,
		env: []string{"PORT=" + strconv.Itoa(port), "HOST=127.0.0.1"}, log: filepath.Join(d.dir, "node.log")})
	if err != nil {
		return err
	}
	d.add(p, "PORT="+strconv.Itoa(port)+" HOST=127.0.0.1 node bench/reference/server.mjs")
	d.urls = []string{"http://" + a}
	// The reference answers anything outside /socket.io/ with 404: any
	// answer means it is listening.
	return waitReady(ctx, p, func(ctx context.Context) error { return probeHTTP(ctx, "http://"+a+"/", false) })
}

func (d *deployment) add(p *proc, cmd string) {
	d.procs = append(d.procs, p)
	d.pids = append(d.pids, bench.PID{Name: p.name, PID: p.pid()})
	d.cmds = append(d.cmds, cmd)
}

// pidFlag is hold's --pid value: every process of the deployment.
func (d *deployment) pidFlag() string {
	var parts []string
	for _, p := range d.pids {
		parts = append(parts, p.Name+"="+strconv.Itoa(p.PID))
	}
	return strings.Join(parts, ",")
}

// exits lists the processes that have ended on their own, with their
// logs' last lines: a server that crashed during the run.
func (d *deployment) exits() []string {
	var out []string
	for _, p := range d.procs {
		if p.exited() {
			out = append(out, fmt.Sprintf("%s exited (%v): %s", p.name, p.err, p.logTail(5)))
		}
	}
	return out
}

// stop kills every process, the last started first, and removes the
// stores. Errors are logged by the caller from exits; stopping continues.
func (d *deployment) stop() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		_ = d.procs[i].stop(stopGrace)
	}
	_ = os.RemoveAll(filepath.Join(d.dir, "store"))
}

// waitReady polls probe until it succeeds, the process exits or
// readyTimeout passes.
func waitReady(ctx context.Context, p *proc, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			cause := p.err
			if cause == nil {
				cause = errors.New("exit status 0")
			}
			return fmt.Errorf("%s exited before ready (%w): %s", p.name, cause, p.logTail(10))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last probe: %w)", p.name, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// probeHTTP GETs url; with want200 only a 200 counts, otherwise any
// response.
func probeHTTP(ctx context.Context, url string, want200 bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	res.Body.Close()
	if want200 && res.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s: %s", url, res.Status)
	}
	return nil
}

// probeNATS connects to a NATS server and reads its INFO greeting.
func probeNATS(ctx context.Context, a string) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", a)
	if err != nil {
		return fmt.Errorf("probe nats %s: %w", a, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("probe nats %s: %w", a, err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		return errors.New("probe nats " + a + ": no INFO greeting")
	}
	return nil
}

// freePorts finds n distinct free loopback ports. The listeners stay open
// until all are found so that no port is handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// display is a command line as the report shows it: the work directory
// as $WORK.
func (e *env) display(cmd string) string { return strings.ReplaceAll(cmd, e.work, "$WORK") }

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// shellJoin quotes args for display as a shell command line.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
