package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The relay scenario, worker side. Rooms of two are pairs: the member at
// position 0 (A) sends #rtcio:message {source, target, data} to B, with a
// tag, a sequence number and its scheduled send time inside data; B sends
// the same data back; A records the round trip.

// stepCmd starts one measured step of relay or fanout.
type stepCmd struct {
	Step       int64   `json:"step"`  // 1, 2, ...; tags the messages of this step
	AtNS       int64   `json:"at_ns"` // shared start instant (Unix ns)
	Rate       float64 `json:"rate"`  // this worker's share, messages per second
	WarmupMS   float64 `json:"warmup_ms"`
	DurationMS float64 `json:"duration_ms"`
	DrainMS    float64 `json:"drain_ms"`
}

// stepResult is one worker's measurements of a step. Only messages
// scheduled inside the measured window count.
type stepResult struct {
	Step       int64   `json:"step"`
	Sent       int64   `json:"sent"`
	Expected   int64   `json:"expected"` // deliveries expected (fanout) or echoes (relay)
	Received   int64   `json:"received"`
	OutOfOrder int64   `json:"out_of_order"`
	Late       int64   `json:"late"` // arrived after their step had ended
	Latency    *Hist   `json:"latency"`
	DurationMS float64 `json:"duration_ms"`
	StartNS    int64   `json:"start_ns"`     // the measured window's start (Unix ns)
	LastRecvNS int64   `json:"last_recv_ns"` // the last measured receipt (Unix ns); 0 if none
}

// stepState is what the reader goroutines of a step share.
type stepState struct {
	tag                             atomic.Int64 // the measured step; -tag during its warm-up
	hist                            atomic.Pointer[Hist]
	sent, expected, recv, ooo, late atomic.Int64
	lastRecv                        atomic.Int64 // worker clock
}

// received records one measured receipt at worker time at, latency d.
func (st *stepState) received(at int64, d time.Duration) {
	st.hist.Load().Record(d)
	st.recv.Add(1)
	for {
		m := st.lastRecv.Load()
		if at <= m || st.lastRecv.CompareAndSwap(m, at) {
			return
		}
	}
}

func (st *stepState) begin(tag int64) *Hist {
	h := new(Hist)
	st.hist.Store(h)
	for _, c := range []*atomic.Int64{&st.sent, &st.expected, &st.recv, &st.ooo, &st.late, &st.lastRecv} {
		c.Store(0)
	}
	st.tag.Store(tag)
	return h
}

// accept reports whether a message tagged tag belongs to the measured
// window of the current step, counting it as late when it belongs to an
// earlier step.
func (st *stepState) accept(tag int64) bool {
	cur := st.tag.Load()
	if tag == cur {
		return true
	}
	if tag != -cur {
		st.late.Add(1)
	}
	return false
}

type relayState struct {
	stepState
	payload []byte
}

// relayPayload is an ICE candidate of about n bytes, the typical relayed
// message.
func relayPayload(n int) []byte {
	const head = `{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.10 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag 4ZcD network-cost 999 `
	const tail = `","sdpMid":"0","sdpMLineIndex":0}`
	return []byte(head + strings.Repeat("x", max(0, n-len(head)-len(tail))) + tail)
}

// runStep runs a paced step over the given senders: send(i, s, tag, ts) sends
// the i-th message of sender s.
func (w *worker) runStep(ctx context.Context, cmd stepCmd, st *stepState, senders []*sock, send func(s *sock, tag, ts int64)) *stepResult {
	h := st.begin(cmd.Step)
	res := &stepResult{Step: cmd.Step, Latency: h, DurationMS: cmd.DurationMS}
	if len(senders) == 0 || cmd.Rate <= 0 {
		return res
	}
	// A start time with a monotonic reading, so pacing ignores clock steps.
	start := time.Now().Add(time.Until(time.Unix(0, cmd.AtNS)))
	startMono := int64(start.Sub(w.epoch))
	warm := time.Duration(cmd.WarmupMS * float64(time.Millisecond))
	end := warm + time.Duration(cmd.DurationMS*float64(time.Millisecond))
	select {
	case <-ctx.Done():
		return res
	case <-time.After(time.Until(start)):
	}
	n := shards(len(senders))
	var wg sync.WaitGroup
	for sh := range n {
		var mine []*sock
		for i := sh; i < len(senders); i += n {
			mine = append(mine, senders[i])
		}
		// Interleaved: shard sh's first event is sh events into the
		// worker's schedule.
		p := pacer{rate: cmd.Rate * float64(len(mine)) / float64(len(senders)),
			phase: time.Duration(float64(sh) * float64(time.Second) / cmd.Rate)}
		wg.Go(func() {
			paceLoop(ctx, start, p, 0, end, func(i int64, off time.Duration) {
				tag := -cmd.Step
				if off >= warm {
					tag = cmd.Step
					st.sent.Add(1)
				}
				send(mine[i%int64(len(mine))], tag, startMono+int64(off))
			})
		})
	}
	wg.Wait()
	// Drain: wait for what is still in flight, up to the drain time.
	deadline := time.Now().Add(time.Duration(cmd.DrainMS * float64(time.Millisecond)))
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for st.recv.Load() < st.expected.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		<-tick.C
	}
	st.tag.Store(0) // from now on everything of this step is late
	res.Sent, res.Expected, res.Received = st.sent.Load(), st.expected.Load(), st.recv.Load()
	res.OutOfOrder, res.Late = st.ooo.Load(), st.late.Load()
	res.StartNS = w.wall(startMono + int64(warm))
	if last := st.lastRecv.Load(); last > 0 {
		res.LastRecvNS = w.wall(last)
	}
	return res
}

// relaySenders are the A members of the complete pairs.
func (w *worker) relaySenders() []*sock {
	var out []*sock
	for r := range w.rooms {
		if rm := &w.rooms[r]; rm.size == 2 && rm.joined == 2 {
			out = append(out, &w.socks[rm.first])
		}
	}
	return out
}

func (w *worker) relayStep(ctx context.Context, cmd stepCmd) *stepResult {
	st := &w.relay.stepState
	return w.runStep(ctx, cmd, st, w.relaySenders(), func(a *sock, tag, ts int64) {
		b := &w.socks[a.idx+1]
		buf := w.cl.getBuf()
		buf.WriteString(`42["#rtcio:message",{"source":"`)
		buf.WriteString(a.sid)
		buf.WriteString(`","target":"`)
		buf.WriteString(b.sid)
		buf.WriteString(`","data":{"e":`)
		appendInt(buf, tag)
		buf.WriteString(`,"seq":`)
		appendInt(buf, a.seq)
		buf.WriteString(`,"ts":`)
		appendInt(buf, ts)
		buf.WriteString(`,"candidate":`)
		buf.Write(w.relay.payload)
		buf.WriteString(`}}]`)
		a.seq++
		if tag > 0 {
			st.expected.Add(1)
		}
		if err := a.write(w.cl, buf.Bytes()); err != nil {
			w.errs.inc("write:" + errKind(err))
		}
		w.cl.putBuf(buf)
	})
}

// onRelay handles #rtcio:message: B echoes, A records.
func (w *worker) onRelay(s *sock, ev event, at int64) {
	rm := &w.rooms[s.room]
	if rm.size != 2 || ev.nargs < 1 {
		w.viol.inc("unexpected-event:#rtcio:message")
		return
	}
	partner := &w.socks[rm.first+1-s.pos]
	if src, ok := strField(ev.arg0, "source"); !ok || string(src) != partner.sid {
		w.viol.inc("relay-wrong-source")
		return
	}
	data := field(ev.arg0, "data")
	if s.pos == 1 {
		buf := w.cl.getBuf()
		buf.WriteString(`42["#rtcio:message",{"source":"`)
		buf.WriteString(s.sid)
		buf.WriteString(`","target":"`)
		buf.WriteString(partner.sid)
		buf.WriteString(`","data":`)
		buf.Write(data)
		buf.WriteString(`}]`)
		if err := s.write(w.cl, buf.Bytes()); err != nil && !s.closing.Load() {
			w.errs.inc("write:" + errKind(err))
		}
		w.cl.putBuf(buf)
		return
	}
	tag, ok1 := intField(data, "e")
	seq, ok2 := intField(data, "seq")
	ts, ok3 := intField(data, "ts")
	if !ok1 || !ok2 || !ok3 {
		w.viol.inc("relay-malformed-data")
		return
	}
	st := &w.relay.stepState
	if !st.accept(tag) {
		return
	}
	st.received(at, time.Duration(at-ts))
	if seq <= s.maxSeq {
		st.ooo.Add(1)
	} else {
		s.maxSeq = seq
	}
}

// step runs one measured step on every worker, the rate split by weight.
func (r *run) step(ctx context.Context, step int64, rate float64, warm, dur time.Duration, weight func(workerSetup) float64) (*stepResult, error) {
	cfg := r.cfg
	var total float64
	for _, s := range r.setups {
		total += weight(s)
	}
	delay := max(200*time.Millisecond, time.Duration(r.procs)*50*time.Millisecond)
	at := time.Now().Add(delay)
	for i, s := range r.setups {
		share := 0.0
		if total > 0 {
			share = rate * weight(s) / total
		}
		c := command{Cmd: "step", Step: &stepCmd{Step: step, AtNS: at.UnixNano(), Rate: share,
			WarmupMS: ms(warm), DurationMS: ms(dur), DrainMS: ms(cfg.Drain)}}
		if err := r.f.send(i, c); err != nil {
			return nil, err
		}
	}
	rs, err := r.f.await(ctx, "step", delay+warm+dur+cfg.Drain+cfg.Timeout)
	if err != nil {
		return nil, err
	}
	out := &stepResult{Step: step, Latency: new(Hist), DurationMS: ms(dur)}
	for _, x := range rs {
		y := x.Step
		out.Sent += y.Sent
		out.Expected += y.Expected
		out.Received += y.Received
		out.OutOfOrder += y.OutOfOrder
		out.Late += y.Late
		out.Latency.Merge(y.Latency)
		out.StartNS = y.StartNS // the same instant everywhere, up to clock reading
		out.LastRecvNS = max(out.LastRecvNS, y.LastRecvNS)
	}
	return out, nil
}

// relaySteps runs the relay: one step at Rate, or with Saturate steps of
// ×1.5 until one fails.
func (r *run) relaySteps(ctx context.Context) error {
	cfg := r.cfg
	rep := &RelayReport{Pairs: int64(cfg.Sockets / 2), PayloadBytes: len(relayPayload(cfg.PayloadBytes)), Saturate: cfg.Saturate}
	r.rep.Relay = rep
	pairs := func(s workerSetup) float64 { return float64(s.Sockets / 2) }
	rate, dur := cfg.Rate, cfg.Duration
	if cfg.Saturate {
		dur = cfg.StepDuration
	}
	for step := int64(1); ; step++ {
		warm := time.Duration(0)
		if step == 1 {
			warm = cfg.Warmup
		}
		res, err := r.step(ctx, step, rate, warm, dur, pairs)
		if err != nil {
			return err
		}
		s := relayStepReport(res, rate, dur, cfg.MaxP99)
		rep.Steps = append(rep.Steps, s)
		r.cfg.Logger.Info("bench: relay step", "step", step, "offered", rate, "achieved", s.RoundTripsPerSec,
			"p99_ms", s.RTT.P99MS, "lost", s.Lost, "pass", s.Pass, "reason", s.Reason)
		if cfg.Saturate && s.Pass && s.RoundTripsPerSec > rep.SaturationRoundTripsPerSec {
			rep.SaturationRoundTripsPerSec, rep.SaturationRelayedPerSec = s.RoundTripsPerSec, s.RelayedPerSec
		}
		if !cfg.Saturate || !s.Pass || int(step) >= cfg.MaxSteps {
			return nil
		}
		rate *= 1.5
	}
}

// rate is completions per second over the window, or over the time until
// the last completion when that was longer: a server that falls behind
// completes the window's messages late, and that shows as a lower rate.
func (res *stepResult) rate(dur time.Duration) float64 {
	if res.LastRecvNS > 0 && res.StartNS > 0 {
		dur = max(dur, time.Duration(res.LastRecvNS-res.StartNS))
	}
	if dur <= 0 {
		return 0
	}
	return float64(res.Received) / dur.Seconds()
}

// relayStepReport judges a step: it passes when at least 90 % of the
// offered rate was achieved, p99 stayed within maxP99 and at most 0.1 %
// was lost.
func relayStepReport(res *stepResult, offered float64, dur time.Duration, maxP99 time.Duration) RelayStep {
	s := RelayStep{Step: res.Step, OfferedPerSec: offered, DurationMS: ms(dur), Sent: res.Sent,
		Received: res.Received, OutOfOrder: res.OutOfOrder, Late: res.Late, RTT: res.Latency.Summary()}
	s.RoundTripsPerSec = res.rate(dur)
	s.RelayedPerSec = 2 * s.RoundTripsPerSec
	s.Lost = max(0, res.Sent-res.Received)
	if res.Sent > 0 {
		s.LossRatio = float64(s.Lost) / float64(res.Sent)
	}
	switch {
	case s.RoundTripsPerSec < 0.9*offered:
		s.Reason = fmt.Sprintf("achieved %.0f/s of %.0f/s offered", s.RoundTripsPerSec, offered)
	case res.Latency.Quantile(0.99) > maxP99:
		s.Reason = fmt.Sprintf("p99 %s over %s", res.Latency.Quantile(0.99).Round(time.Microsecond), maxP99)
	case s.LossRatio > 0.001:
		s.Reason = fmt.Sprintf("lost %.2f%%", 100*s.LossRatio)
	default:
		s.Pass = true
	}
	return s
}
