package bench

import (
	"context"
	"time"
)

// The fanout scenario, worker side: every member of a room sends
// media-state {roomId, mic, cam} and chat-message {roomId, text}
// alternately, each carrying the sender's global index (s), a sequence
// number (n), the step tag (e) and its scheduled send time (t); every other
// member should receive each one.

type fanState struct{ stepState }

// fanoutSenders are the joined members of rooms with at least two.
func (w *worker) fanoutSenders() []*sock {
	var out []*sock
	for r := range w.rooms {
		rm := &w.rooms[r]
		if rm.joined < 2 {
			continue
		}
		for p := range rm.size {
			if s := &w.socks[rm.first+p]; s.joined.Load() {
				out = append(out, s)
			}
		}
	}
	return out
}

func (w *worker) fanoutStep(ctx context.Context, cmd stepCmd) *stepResult {
	st := &w.fan.stepState
	return w.runStep(ctx, cmd, st, w.fanoutSenders(), func(s *sock, tag, ts int64) {
		rm := &w.rooms[s.room]
		buf := w.cl.getBuf()
		if s.seq%2 == 0 {
			buf.WriteString(`42["media-state",{"roomId":`)
			buf.Write(rm.idJSON)
			buf.WriteString([...]string{`,"mic":true,"cam":true`, `,"mic":false,"cam":true`}[s.seq/2%2])
		} else {
			buf.WriteString(`42["chat-message",{"roomId":`)
			buf.Write(rm.idJSON)
			buf.WriteString(`,"text":"hello from the load generator"`)
		}
		buf.WriteString(`,"s":`)
		appendInt(buf, s.gidx)
		buf.WriteString(`,"n":`)
		appendInt(buf, s.seq)
		buf.WriteString(`,"e":`)
		appendInt(buf, tag)
		buf.WriteString(`,"t":`)
		appendInt(buf, ts)
		buf.WriteString(`}]`)
		s.seq++
		if tag > 0 {
			st.expected.Add(int64(rm.joined - 1))
		}
		if err := s.write(w.cl, buf.Bytes()); err != nil {
			w.errs.inc("write:" + errKind(err))
		}
		w.cl.putBuf(buf)
	})
}

// onFanout handles media-state and chat-message.
func (w *worker) onFanout(s *sock, tab *idTable, ev event, at int64) {
	gidx, ok := intField(ev.arg0, "s")
	if !ok {
		// Not one of ours: a media-state backfilled at join. It must not
		// be about the receiver itself.
		id, _ := strField(ev.arg0, "id")
		p, known := tab.bySID[string(id)]
		switch {
		case string(ev.name) != "media-state":
			w.viol.inc("unexpected-event:" + string(ev.name))
		case p == s.idx && known:
			w.viol.inc(vAboutSelf)
		case !known || w.socks[p].room != s.room:
			w.viol.inc(vAboutNonMember)
		}
		return
	}
	if s.fanSeq == nil {
		w.viol.inc("unexpected-event:" + string(ev.name))
		return
	}
	i := gidx - w.set.FirstSocket
	switch {
	case i == int64(s.idx):
		w.viol.inc(vAboutSelf)
		return
	case i < 0 || i >= int64(len(w.socks)) || w.socks[i].room != s.room:
		w.viol.inc(vAboutNonMember)
		return
	}
	if id, ok := strField(ev.arg0, "id"); ok && string(ev.name) == "media-state" && string(id) != w.socks[i].sid {
		w.viol.inc("media-state-wrong-id") // rtcmesh stamps id with the sender's id
	}
	tag, ok1 := intField(ev.arg0, "e")
	n, ok2 := intField(ev.arg0, "n")
	t, ok3 := intField(ev.arg0, "t")
	if !ok1 || !ok2 || !ok3 {
		w.viol.inc("fanout-malformed")
		return
	}
	st := &w.fan.stepState
	if !st.accept(tag) {
		return
	}
	st.received(at, time.Duration(at-t))
	pos := w.socks[i].pos
	if n <= s.fanSeq[pos] {
		st.ooo.Add(1)
	} else {
		s.fanSeq[pos] = n
	}
}

// fanout runs the measured step and reports it.
func (r *run) fanout(ctx context.Context) error {
	cfg := r.cfg
	res, err := r.step(ctx, 1, cfg.Rate, cfg.Warmup, cfg.Duration, func(s workerSetup) float64 { return float64(s.Sockets) })
	if err != nil {
		return err
	}
	f := &FanoutReport{OfferedPerSec: cfg.Rate, DurationMS: ms(cfg.Duration), Sent: res.Sent,
		ExpectedDeliveries: res.Expected, Deliveries: res.Received, Lost: max(0, res.Expected-res.Received),
		OutOfOrder: res.OutOfOrder, Late: res.Late, Latency: res.Latency.Summary()}
	f.DeliveriesPerSec = res.rate(cfg.Duration)
	r.rep.Fanout = f
	return nil
}
