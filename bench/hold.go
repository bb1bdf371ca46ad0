package bench

import (
	"context"
	"time"
)

// The hold scenario: every socket connects, joins its room, then stays
// idle, answering pings. With --pid the parent samples each target's VmRSS:
// a baseline before connecting, once every socket connected, JoinedDelay
// after every socket joined, and "settled": every SampleInterval until the
// last SettleWindow varies by less than 1 %, or SettleTimeout passes.

// memory is the parent's sampling of the target processes.
type memory struct {
	pids  []PID
	read  func(int) (uint64, error)
	procs []ProcessMemory
}

// newMemory takes the baseline.
func newMemory(pids []PID, read func(int) (uint64, error)) (*memory, error) {
	m := &memory{pids: pids, read: read, procs: make([]ProcessMemory, len(pids))}
	for i, p := range pids {
		m.procs[i].Name, m.procs[i].PID = p.Name, p.PID
	}
	return m, m.sample(func(p *ProcessMemory, v uint64) { p.BaselineBytes = v })
}

// sample reads every target and stores the value with set.
func (m *memory) sample(set func(*ProcessMemory, uint64)) error {
	for i, p := range m.pids {
		v, err := m.read(p.PID)
		if err != nil {
			return err
		}
		set(&m.procs[i], v)
	}
	return nil
}

// report sums the processes and computes the per-socket figures.
func (m *memory) report(sockets int64) *MemoryReport {
	rep := &MemoryReport{Sockets: sockets, Total: ProcessMemory{Name: "total", Settled: true}}
	t := &rep.Total
	for _, p := range m.procs {
		p.perSocket(sockets)
		rep.Processes = append(rep.Processes, p)
		t.BaselineBytes += p.BaselineBytes
		t.ConnectedBytes += p.ConnectedBytes
		t.JoinedBytes += p.JoinedBytes
		t.SettledBytes += p.SettledBytes
		t.Settled = t.Settled && p.Settled
		t.SettleMS = max(t.SettleMS, p.SettleMS)
		t.Samples += p.Samples
	}
	t.perSocket(sockets)
	return rep
}

func (r *run) hold(ctx context.Context) error {
	cfg := r.cfg
	if r.mem != nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.JoinedDelay):
		}
		if err := r.mem.sample(func(p *ProcessMemory, v uint64) { p.JoinedBytes = v }); err != nil {
			return err
		}
		res, err := settle(ctx, cfg.PIDs, cfg.ReadRSS, cfg.SampleInterval, cfg.SettleWindow, cfg.SettleTimeout)
		if err != nil {
			return err
		}
		for i, s := range res {
			p := &r.mem.procs[i]
			p.SettledBytes, p.Settled, p.SettleMS, p.Samples = s.v, s.settled, ms(s.after), s.samples
		}
		r.rep.Memory = r.mem.report(r.rep.Connect.Connected)
	}
	if cfg.Hold > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.Hold):
		}
	}
	return nil
}
