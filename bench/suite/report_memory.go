package main

import (
	"fmt"
	"strings"
)

func holdIDs(res *Results) []string {
	var ids []string
	for _, n := range res.Params.HoldCounts {
		for _, d := range threeDeps {
			ids = append(ids, caseID(groupHold, n, d))
		}
	}
	return ids
}

// nodeSettled is node's settled per-socket figure at n sockets, nil if
// missing.
func nodeSettled(res *Results, n int) *float64 {
	if v, ok := settledPerSocket(res.report(caseID(groupHold, n, depNode)), anyProcess); ok {
		return &v
	}
	return nil
}

func writeMemory(b *strings.Builder, res *Results, refs chartRefs) {
	p := res.Params
	b.WriteString("## Memory per socket (hold)\n\n")
	fmt.Fprintf(b, "`rtcmesh bench hold --pid ...`: the sockets connect over WebSocket, join rooms of 4, then stay idle "+
		"answering pings. The bench samples the VmRSS of every process of the deployment before connecting, once every "+
		"socket is connected, 2 s after every socket joined, and once settled (the last %s within 1 %%, or %s at most). "+
		"A per-socket figure is (stage − baseline) / connected sockets. The largest count is %s, the most one server "+
		"process can hold (see File descriptors above).\n\n", p.SettleWindow, p.SettleTimeout, fmtInt(p.MaxSockets))
	b.WriteString("Settled memory per joined socket, whole deployment unless noted:\n\n")
	t := newTable("sockets>", "dev>", "split-1gw, all processes>", "split-1gw gateway>", "split-1gw nats + roomsvc>", "node>")
	for _, n := range p.HoldCounts {
		ref := nodeSettled(res, n)
		cell := func(d string, keep func(string) bool, withRef bool) string {
			rep := res.report(caseID(groupHold, n, d))
			v, ok := settledPerSocket(rep, keep)
			if !ok {
				return statusCell(res.run(caseID(groupHold, n, d)))
			}
			s := fmtKB(v) + noteSettled(rep)
			if withRef {
				s = withRatio(s, v, ref)
			}
			return s
		}
		t.add(fmtInt(n), cell(depDev, anyProcess, true), cell(depSplit1, anyProcess, true), cell(depSplit1, isGateway, false),
			cell(depSplit1, notGateway, false), cell(depNode, anyProcess, false))
	}
	b.WriteString(t.String() + "\n")
	refs.chart(b, chartMemory, "memory per socket against sockets",
		"Settled VmRSS growth per joined socket against the number of sockets (log scale), for each deployment as a whole "+
			"and for split-1gw's gateway process alone (dashed). Flat lines mean memory grows linearly with the sockets.")
	for _, d := range threeDeps {
		writeMemoryDeployment(b, res, d)
	}
	ids := holdIDs(res)
	writeProblems(b, res, ids)
	writeCommands(b, res, ids)
}

// writeMemoryDeployment is one deployment's table: every process at
// every count.
func writeMemoryDeployment(b *strings.Builder, res *Results, d string) {
	fmt.Fprintf(b, "### %s\n\n", d)
	t := newTable("sockets>", "process", "baseline>", "settled>", "connected /socket>", "joined /socket>", "settled /socket>",
		"settle time>", "connected>", "errors")
	for _, n := range res.Params.HoldCounts {
		id := caseID(groupHold, n, d)
		rep := res.report(id)
		if rep == nil || rep.Memory == nil {
			t.add(fmtInt(n), statusCell(res.run(id)))
			continue
		}
		procs := rep.Memory.Processes
		if len(procs) > 1 {
			procs = append(procs, rep.Memory.Total)
		}
		ref := nodeSettled(res, n)
		if d == depNode {
			ref = nil
		}
		for _, pm := range procs {
			r := ref
			if len(rep.Memory.Processes) > 1 && pm.Name != "total" {
				r = nil // ratios only for the whole deployment
			}
			settled, settleTime := fmtKB(pm.SettledPerSocket), fmtMS(pm.SettleMS)
			if !pm.Settled {
				settled += " (not settled)"
				settleTime = "over " + res.Params.SettleTimeout // the bench reports 0 then
			}
			t.add(fmtInt(n), pm.Name, fmtMB(float64(pm.BaselineBytes)), fmtMB(float64(pm.SettledBytes)),
				fmtKB(pm.ConnectedPerSocket), fmtKB(pm.JoinedPerSocket), withRatio(settled, pm.SettledPerSocket, r),
				settleTime, groupDigits(rep.Connect.Connected), countsCell(rep.Errors))
		}
	}
	b.WriteString(t.String() + "\n")
}

func writeBig(b *strings.Builder, res *Results) {
	p := res.Params
	if p.BigSockets == 0 {
		return
	}
	id := caseID(groupBig, p.BigSockets, depDev)
	fmt.Fprintf(b, "## %s sockets on dev\n\n", fmtInt(p.BigSockets))
	fmt.Fprintf(b, "`rtcmesh bench hold --sockets %d --source %s` against `dev`: the bench spreads its sockets over %s "+
		"and over worker processes, but the `dev` process must hold every one of them, and its descriptor limit is %s. "+
		"So this run cannot succeed on this machine: the sockets beyond the limit cannot be accepted and time out. It uses a 10 s "+
		"connect timeout and no retries so that those failures take minutes, not hours; what follows is what it measured.\n\n",
		p.BigSockets, p.BigSources, p.BigSources, groupDigits(int64(p.FDHardLimit)))
	r := res.run(id)
	switch {
	case r == nil:
		b.WriteString("Not run.\n\n")
		return
	case r.rep == nil:
		writeProblems(b, res, []string{id})
		writeCommands(b, res, []string{id})
		return
	}
	rep := r.rep
	t := newTable("measure", "value")
	t.add("sockets connected", fmt.Sprintf("%s of %s (%s failed)", groupDigits(rep.Connect.Connected), fmtInt(rep.Sockets),
		groupDigits(rep.Connect.Failed)))
	t.add("connect phase", fmt.Sprintf("%s, %s", fmtMS(rep.Connect.DurationMS), fmtRate(rep.Connect.PerSec)))
	if j := rep.Join; j != nil {
		joined := fmt.Sprintf("%s (%s failed)", groupDigits(j.Joined), groupDigits(j.Failed))
		if j.Joined > 0 {
			joined += ", join phase " + fmtMS(j.DurationMS)
		}
		t.add("sockets joined", joined)
	}
	if m := rep.Memory; m != nil {
		t.add("dev VmRSS settled", fmt.Sprintf("%s (%s per connected socket%s)", fmtMB(float64(m.Total.SettledBytes)),
			fmtKB(m.Total.SettledPerSocket), noteSettled(rep)))
	}
	t.add("whole run", fmtMS(rep.ElapsedMS))
	t.add("bench worker processes, source addresses", fmt.Sprintf("%d, %d", rep.Procs, rep.Sources))
	b.WriteString(t.String() + "\n")
	b.WriteString("Errors by kind (from the report):\n\n")
	writeCounts(b, rep.Errors)
	if rep.ViolationsTotal > 0 {
		b.WriteString("Violations by kind:\n\n")
		writeCounts(b, rep.Violations)
	}
	writeProblems(b, res, []string{id})
	writeCommands(b, res, []string{id})
}

// writeCounts is a {kind: count} map as a table, largest first.
func writeCounts(b *strings.Builder, m map[string]int64) {
	if len(m) == 0 {
		b.WriteString("none\n\n")
		return
	}
	t := newTable("kind", "count>")
	for _, part := range strings.Split(countsCell(m), ", ") {
		i := strings.LastIndexByte(part, ' ')
		t.add("`"+part[:i]+"`", part[i+1:])
	}
	b.WriteString(t.String() + "\n")
}
