package main

import (
	"fmt"
	"strings"

	"github.com/rtcmesh/rtcmesh/bench"
)

// latRef is node's value of one latency figure, nil without node.
func latRef(node *bench.Latency, f func(bench.Latency) float64) *float64 {
	if node == nil {
		return nil
	}
	v := f(*node)
	return &v
}

// latCells are p50, p90, p99 and max with node's ratios.
func latCells(l bench.Latency, node *bench.Latency) []string {
	var out []string
	for _, f := range []func(bench.Latency) float64{
		func(x bench.Latency) float64 { return x.P50MS },
		func(x bench.Latency) float64 { return x.P90MS },
		func(x bench.Latency) float64 { return x.P99MS },
		func(x bench.Latency) float64 { return x.MaxMS },
	} {
		out = append(out, withRatio(fmtMS(f(l)), f(l), latRef(node, f)))
	}
	return out
}

func stepVerdict(s bench.RelayStep) string {
	if s.Pass {
		return "pass"
	}
	return "fail: " + s.Reason
}

func writeRelay(b *strings.Builder, res *Results) {
	p := res.Params
	b.WriteString("## Relay round trip at a fixed rate\n\n")
	fmt.Fprintf(b, "`rtcmesh bench relay`: %s sockets in pairs (rooms of 2). A sends `#rtcio:message` with a %s to B, B "+
		"echoes its data, A records the round trip. Open loop: %s round trips/s in total are offered on a schedule for %s "+
		"and every round trip is measured from its scheduled send time, so a server that falls behind shows it in the "+
		"latency instead of slowing the sender. The rate is one every deployment sustains on this machine.\n\n",
		fmtInt(p.RelaySockets), "200-byte ICE candidate", groupDigits(int64(p.RelayRate)), p.Duration)
	t := newTable("deployment", "offered>", "achieved>", "RTT p50>", "RTT p90>", "RTT p99>", "RTT max>", "lost>", "step", "violations", "errors")
	var nodeLat *bench.Latency
	if s := relayStep(res.report(caseID(groupRelay, p.RelaySockets, depNode))); s != nil {
		nodeLat = &s.RTT
	}
	var ids []string
	for _, d := range allDeps {
		id := caseID(groupRelay, p.RelaySockets, d)
		ids = append(ids, id)
		rep := res.report(id)
		s := relayStep(rep)
		if s == nil {
			t.add(d, statusCell(res.run(id)))
			continue
		}
		ref := nodeLat
		if d == depNode {
			ref = nil
		}
		row := []string{d, fmtRate(s.OfferedPerSec), fmtRate(s.RoundTripsPerSec)}
		row = append(row, latCells(s.RTT, ref)...)
		row = append(row, groupDigits(s.Lost), stepVerdict(*s), countsCell(rep.Violations), countsCell(rep.Errors))
		t.add(row...)
	}
	b.WriteString(t.String() + "\n")
	writeProblems(b, res, ids)
	writeCommands(b, res, ids)
}

func writeSaturate(b *strings.Builder, res *Results, refs chartRefs) {
	p := res.Params
	b.WriteString("## Relay saturation\n\n")
	fmt.Fprintf(b, "`rtcmesh bench relay --saturate`: %s sockets in pairs; the offered rate starts at 1,000 round trips/s "+
		"and grows ×1.5 every %s step until a step fails: achieved < 90 %% of offered, p99 > 250 ms, or more than 0.1 %% "+
		"lost. Saturation is the best achieved rate of a passing step, so it is resolved to one ×1.5 step: the true "+
		"saturation lies between the last passing step and the failing one, and two deployments that fail at the same "+
		"step show the same figure. dev and split-1gw relay through one gateway; split-2gw's pairs cross between two.\n\n", fmtInt(p.SaturateSockets), p.SaturateStep)
	t := newTable("deployment", "saturation round trips/s>", "relayed messages/s>", "steps>", "last step")
	var nodeSat *float64
	if rep := res.report(caseID(groupSaturate, p.SaturateSockets, depNode)); rep != nil && rep.Relay != nil {
		nodeSat = &rep.Relay.SaturationRoundTripsPerSec
	}
	var ids []string
	for _, d := range allDeps {
		id := caseID(groupSaturate, p.SaturateSockets, d)
		ids = append(ids, id)
		rep := res.report(id)
		if rep == nil || rep.Relay == nil || len(rep.Relay.Steps) == 0 {
			t.add(d, statusCell(res.run(id)))
			continue
		}
		rl := rep.Relay
		ref := nodeSat
		if d == depNode {
			ref = nil
		}
		last := rl.Steps[len(rl.Steps)-1]
		t.add(d, withRatio(fmtRate(rl.SaturationRoundTripsPerSec), rl.SaturationRoundTripsPerSec, ref),
			fmtRate(rl.SaturationRelayedPerSec), fmt.Sprint(len(rl.Steps)), stepVerdict(last))
	}
	b.WriteString(t.String() + "\n")
	refs.chart(b, chartRelay, "relay RTT against offered load",
		"Round-trip p50 (solid) and p99 (dashed) against the offered rate of every saturation step, per deployment "+
			"(both axes log scale). A line ends at the step that failed; the knee is where the server stops keeping up.")
	for _, d := range allDeps {
		rep := res.report(caseID(groupSaturate, p.SaturateSockets, d))
		if rep == nil || rep.Relay == nil {
			continue
		}
		fmt.Fprintf(b, "### %s steps\n\n", d)
		st := newTable("step>", "offered>", "achieved>", "p50>", "p99>", "lost>", "out of order>", "verdict")
		for _, s := range rep.Relay.Steps {
			st.add(fmt.Sprint(s.Step), fmtRate(s.OfferedPerSec), fmtRate(s.RoundTripsPerSec), fmtMS(s.RTT.P50MS),
				fmtMS(s.RTT.P99MS), fmt.Sprintf("%s (%.2f %%)", groupDigits(s.Lost), 100*s.LossRatio),
				groupDigits(s.OutOfOrder), stepVerdict(s))
		}
		b.WriteString(st.String() + "\n")
	}
	writeProblems(b, res, ids)
	writeCommands(b, res, ids)
}

func writeFanout(b *strings.Builder, res *Results) {
	p := res.Params
	b.WriteString("## Room fanout\n\n")
	fmt.Fprintf(b, "`rtcmesh bench fanout`: %s sockets in rooms of 4; the members send `media-state` and `chat-message` "+
		"in turn, %s messages/s in total for %s, and every other member of the room must receive each one (3 deliveries "+
		"per message). Latency is from the scheduled send time to each delivery. That is %.1f messages per socket per "+
		"second, well under rtcmesh's per-socket room-event limit (`--room-event-rate`, 50/s).\n\n",
		fmtInt(p.FanoutSockets), groupDigits(int64(p.FanoutRate)), p.Duration, p.FanoutRate/float64(max(p.FanoutSockets, 1)))
	t := newTable("deployment", "sent/s>", "deliveries/s>", "delivered>", "p50>", "p90>", "p99>", "max>", "lost>", "violations", "errors")
	var nodeLat *bench.Latency
	var nodeRate *float64
	if rep := res.report(caseID(groupFanout, p.FanoutSockets, depNode)); rep != nil && rep.Fanout != nil {
		nodeLat, nodeRate = &rep.Fanout.Latency, &rep.Fanout.DeliveriesPerSec
	}
	var ids []string
	for _, d := range threeDeps {
		id := caseID(groupFanout, p.FanoutSockets, d)
		ids = append(ids, id)
		rep := res.report(id)
		if rep == nil || rep.Fanout == nil {
			t.add(d, statusCell(res.run(id)))
			continue
		}
		f := rep.Fanout
		lat, rate := nodeLat, nodeRate
		if d == depNode {
			lat, rate = nil, nil
		}
		row := []string{d, fmtRate(f.OfferedPerSec), withRatio(fmtRate(f.DeliveriesPerSec), f.DeliveriesPerSec, rate),
			fmt.Sprintf("%s / %s", groupDigits(f.Deliveries), groupDigits(f.ExpectedDeliveries))}
		row = append(row, latCells(f.Latency, lat)...)
		row = append(row, groupDigits(f.Lost), countsCell(rep.Violations), countsCell(rep.Errors))
		t.add(row...)
	}
	b.WriteString(t.String() + "\n")
	writeProblems(b, res, ids)
	writeCommands(b, res, ids)
}
