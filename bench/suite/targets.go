package main

import (
	"fmt"
	"strings"

	"github.com/rtcmesh/rtcmesh/bench"
)

// verdict is a target's outcome.
type verdict int

const (
	noData verdict = iota // a run it needs is missing or failed
	met
	notMet
)

func (v verdict) String() string {
	switch v {
	case met:
		return "met"
	case notMet:
		return "**not met**"
	}
	return "no data"
}

// targetRow is one line of the targets table.
type targetRow struct {
	Target   string
	Measured string
	Goal     string
	Verdict  verdict
}

// The targets of the performance issue (DESIGN.md §7), in bytes and
// ratios to the Node reference.
const (
	goalDevBytes      = 8000 // whole dev process, per joined socket, settled
	goalDevVsNode     = 0.4
	goalGatewayBytes  = 5000 // the gateway process alone
	goalBackendBytes  = 3000 // nats and every roomsvc process together
	goalJoinsVsNode   = 3.0  // at least
	goalJoinP99VsNode = 0.5  // at most
	goalRTTVsNode     = 0.5  // at most, p50 and p99
	goalSatVsNode     = 3.0  // at least
)

func atMost(v, goal float64) verdict {
	if v <= goal {
		return met
	}
	return notMet
}

func atLeast(v, goal float64) verdict {
	if v >= goal {
		return met
	}
	return notMet
}

// ratioRow compares a mesh figure with node's: "measured vs node = r×".
func ratioRow(target string, v, ref float64, format func(float64) string, goal float64, higherBetter bool) targetRow {
	sign := "≤"
	if higherBetter {
		sign = "≥"
	}
	row := targetRow{Target: target, Goal: fmt.Sprintf("%s %g× node", sign, goal)}
	r, ok := ratio(v, ref)
	if !ok {
		row.Measured = format(v) + ", node " + format(ref)
		return row
	}
	row.Measured = fmt.Sprintf("%s vs %s = %s", format(v), format(ref), fmtRatio(r))
	if higherBetter {
		row.Verdict = atLeast(r, goal)
	} else {
		row.Verdict = atMost(r, goal)
	}
	return row
}

// settledPerSocket sums the settled per-socket RSS of the processes that
// keep; ok is false without memory figures.
func settledPerSocket(rep *bench.Report, keep func(name string) bool) (float64, bool) {
	if rep == nil || rep.Memory == nil {
		return 0, false
	}
	sum, n := 0.0, 0
	for _, p := range rep.Memory.Processes {
		if keep(p.Name) {
			sum += p.SettledPerSocket
			n++
		}
	}
	return sum, n > 0
}

func isGateway(name string) bool  { return strings.HasPrefix(name, "gateway") }
func notGateway(name string) bool { return !isGateway(name) }
func anyProcess(string) bool      { return true }
func noteSettled(rep *bench.Report) string {
	if rep.Memory != nil && !rep.Memory.Total.Settled {
		return " (not settled)"
	}
	return ""
}

// targets evaluates every target against the results.
func targets(res *Results) []targetRow {
	var rows []targetRow
	p := res.Params
	for _, n := range p.HoldTargets {
		rows = append(rows, memoryTargets(res, n)...)
	}
	for _, n := range p.StormCounts {
		rows = append(rows, stormTargets(res, n)...)
	}
	rows = append(rows, relayTargets(res)...)
	if p.BigSockets > 0 {
		rows = append(rows, bigTarget(res))
	}
	return rows
}

func memoryTargets(res *Results, n int) []targetRow {
	at := fmtInt(n) + " sockets"
	dev, split, node := res.report(caseID(groupHold, n, depDev)), res.report(caseID(groupHold, n, depSplit1)), res.report(caseID(groupHold, n, depNode))
	abs := func(target string, rep *bench.Report, keep func(string) bool, goal float64) targetRow {
		row := targetRow{Target: target, Goal: "≤ " + fmtKB(goal)}
		if v, ok := settledPerSocket(rep, keep); ok {
			row.Measured, row.Verdict = fmtKB(v)+noteSettled(rep), atMost(v, goal)
		}
		return row
	}
	rows := []targetRow{abs("Memory per joined socket, dev process, settled, "+at, dev, anyProcess, goalDevBytes)}
	vs := targetRow{Target: "Memory per joined socket, dev vs node, settled, " + at, Goal: "≤ 0.4× node"}
	if d, ok := settledPerSocket(dev, anyProcess); ok {
		if nd, ok := settledPerSocket(node, anyProcess); ok {
			vs = ratioRow(vs.Target, d, nd, fmtKB, goalDevVsNode, false)
		}
	}
	return append(rows, vs,
		abs("Memory per joined socket, gateway process (split-1gw), "+at, split, isGateway, goalGatewayBytes),
		abs("Memory per joined socket, nats + both roomsvc (split-1gw), "+at, split, notGateway, goalBackendBytes))
}

func stormTargets(res *Results, n int) []targetRow {
	var rows []targetRow
	node := res.report(caseID(groupStorm, n, depNode))
	for _, d := range meshDeps {
		rep := res.report(caseID(groupStorm, n, d))
		at := fmt.Sprintf("storm %s sockets, %s", fmtInt(n), d)
		joins := targetRow{Target: "Joins/s, " + at, Goal: "≥ 3× node"}
		p99 := targetRow{Target: "Join p99, " + at, Goal: "≤ 0.5× node"}
		viol := targetRow{Target: "Violations, " + at, Goal: "0"}
		if rep != nil && rep.Join != nil {
			viol.Measured, viol.Verdict = groupDigits(rep.ViolationsTotal), atMost(float64(rep.ViolationsTotal), 0)
			if rep.ErrorsTotal > 0 {
				viol.Measured += fmt.Sprintf(" (errors: %s)", countsCell(rep.Errors))
			}
			if node != nil && node.Join != nil {
				joins = ratioRow(joins.Target, rep.Join.JoinsPerSec, node.Join.JoinsPerSec, fmtRate, goalJoinsVsNode, true)
				p99 = ratioRow(p99.Target, rep.Join.Latency.P99MS, node.Join.Latency.P99MS, fmtMS, goalJoinP99VsNode, false)
			}
			if rep.Join.Failed > 0 {
				joins.Measured += fmt.Sprintf(" (%s joins failed)", groupDigits(rep.Join.Failed))
			}
		}
		rows = append(rows, joins, p99, viol)
	}
	return rows
}

// relayStep is the single step of a fixed-rate relay.
func relayStep(rep *bench.Report) *bench.RelayStep {
	if rep == nil || rep.Relay == nil || len(rep.Relay.Steps) == 0 {
		return nil
	}
	return &rep.Relay.Steps[0]
}

func relayTargets(res *Results) []targetRow {
	var rows []targetRow
	p := res.Params
	node := relayStep(res.report(caseID(groupRelay, p.RelaySockets, depNode)))
	at := fmt.Sprintf("%s sockets at %s round trips/s", fmtInt(p.RelaySockets), groupDigits(int64(p.RelayRate)))
	for _, d := range meshDeps {
		s := relayStep(res.report(caseID(groupRelay, p.RelaySockets, d)))
		p50 := targetRow{Target: "Relay RTT p50, " + at + ", " + d, Goal: "≤ 0.5× node"}
		p99 := targetRow{Target: "Relay RTT p99, " + at + ", " + d, Goal: "≤ 0.5× node"}
		if s != nil && node != nil {
			p50 = ratioRow(p50.Target, s.RTT.P50MS, node.RTT.P50MS, fmtMS, goalRTTVsNode, false)
			p99 = ratioRow(p99.Target, s.RTT.P99MS, node.RTT.P99MS, fmtMS, goalRTTVsNode, false)
			if !node.Pass {
				note := " (node's step failed: " + node.Reason + ")"
				p50.Measured, p99.Measured = p50.Measured+note, p99.Measured+note
			}
		}
		rows = append(rows, p50, p99)
	}
	nodeSat := res.report(caseID(groupSaturate, p.SaturateSockets, depNode))
	for _, d := range []string{depDev, depSplit1} {
		rep := res.report(caseID(groupSaturate, p.SaturateSockets, d))
		row := targetRow{Target: "Relay saturation through one gateway, " + d, Goal: "≥ 3× node"}
		if rep != nil && rep.Relay != nil && nodeSat != nil && nodeSat.Relay != nil {
			row = ratioRow(row.Target, rep.Relay.SaturationRoundTripsPerSec, nodeSat.Relay.SaturationRoundTripsPerSec,
				func(v float64) string { return fmtRate(v) }, goalSatVsNode, true)
		}
		rows = append(rows, row)
	}
	return rows
}

func bigTarget(res *Results) targetRow {
	n := res.Params.BigSockets
	id := caseID(groupBig, n, depDev)
	row := targetRow{Target: fmt.Sprintf("%s sockets on dev, connected and joined", fmtInt(n)), Goal: "all, without error"}
	r := res.run(id)
	switch {
	case r == nil:
		return row
	case r.rep == nil:
		row.Measured, row.Verdict = "run failed: "+clip(r.Error, 120), notMet
		return row
	}
	rep := r.rep
	joined := int64(0)
	if rep.Join != nil {
		joined = rep.Join.Joined
	}
	row.Measured = fmt.Sprintf("%s connected, %s joined; connect %s", groupDigits(rep.Connect.Connected), groupDigits(joined),
		fmtMS(rep.Connect.DurationMS))
	if rep.Memory != nil {
		row.Measured += fmt.Sprintf("; %s RSS settled (%s per socket)", fmtMB(float64(rep.Memory.Total.SettledBytes)),
			fmtKB(rep.Memory.Total.SettledPerSocket))
	}
	if rep.ErrorsTotal > 0 {
		row.Measured += fmt.Sprintf("; %s errors", groupDigits(rep.ErrorsTotal))
	}
	row.Verdict = notMet
	if rep.Connect.Connected == int64(n) && joined == int64(n) && rep.OK {
		row.Verdict = met
	}
	return row
}
