package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// PID is a process whose memory the hold scenario samples.
type PID struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
}

// ParsePIDs parses --pid: "name=PID[,name=PID...]". A lone bare PID is
// named "server"; bare PIDs in a list are named "pid<PID>".
func ParsePIDs(s string) ([]PID, error) {
	var out []PID
	seen := map[string]bool{}
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, num, ok := strings.Cut(item, "=")
		if !ok {
			name, num = "pid"+item, item
			if len(items) == 1 {
				name = "server"
			}
		}
		pid, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("pid %q: want name=PID or PID", item)
		}
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			return nil, fmt.Errorf("pid %q: empty or repeated name", item)
		}
		seen[name] = true
		out = append(out, PID{Name: name, PID: pid})
	}
	return out, nil
}

// ReadRSS returns a process's resident set size (VmRSS) in bytes.
func ReadRSS(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read rss of %d: %w", pid, err)
	}
	return parseVmRSS(b)
}

func parseVmRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("bad VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad VmRSS line %q: %w", sc.Text(), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS (a kernel thread, or not Linux)")
}

// sample is one reading at an offset from the first.
type sample struct {
	at time.Duration
	v  uint64
}

// stable reports whether the samples of the last window vary by less than
// 1 % of their maximum; the samples must span the whole window.
func stable(ss []sample, window time.Duration) bool {
	if len(ss) < 2 || ss[len(ss)-1].at-ss[0].at < window {
		return false
	}
	from := ss[len(ss)-1].at - window
	lo, hi := ^uint64(0), uint64(0)
	for i := len(ss) - 1; i >= 0 && ss[i].at >= from; i-- {
		lo, hi = min(lo, ss[i].v), max(hi, ss[i].v)
	}
	return hi > 0 && float64(hi-lo) < 0.01*float64(hi)
}

// settleResult is the outcome of waiting for a process's RSS to settle.
type settleResult struct {
	v       uint64
	settled bool
	after   time.Duration
	samples int
}

// settle samples every interval until every target's last window is stable
// or timeout passes; it returns the last reading of each.
func settle(ctx context.Context, pids []PID, read func(int) (uint64, error), interval, window, timeout time.Duration) ([]settleResult, error) {
	hist := make([][]sample, len(pids))
	res := make([]settleResult, len(pids))
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		all := true
		for i, p := range pids {
			v, err := read(p.PID)
			if err != nil {
				return nil, err
			}
			hist[i] = append(hist[i], sample{time.Since(start), v})
			r := &res[i]
			r.v, r.samples = v, len(hist[i])
			if !r.settled && stable(hist[i], window) {
				r.settled, r.after = true, time.Since(start)
			}
			all = all && r.settled
		}
		if all || time.Since(start) >= timeout {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
	}
}
