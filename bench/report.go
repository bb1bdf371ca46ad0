package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// SchemaVersion is the version of the JSON report; doc.go documents it.
const SchemaVersion = 1

// Report is the result of one run: printed as a table, or as one JSON
// document with --json. Durations are float64 milliseconds (fields ending
// in _ms), sizes are bytes (_bytes), rates are per second (_per_sec).
type Report struct {
	Schema          int              `json:"schema"`
	Scenario        Scenario         `json:"scenario"`
	URLs            []string         `json:"urls"`
	Transport       Transport        `json:"transport"`
	Sockets         int              `json:"sockets"`
	RoomSize        int              `json:"room_size"`
	Rooms           int              `json:"rooms"`
	Procs           int              `json:"procs"`
	Sources         int              `json:"sources"`
	RoomPrefix      string           `json:"room_prefix"`
	Started         time.Time        `json:"started"`
	ElapsedMS       float64          `json:"elapsed_ms"`
	Connect         ConnectReport    `json:"connect"`
	Join            *JoinReport      `json:"join,omitempty"`
	Memory          *MemoryReport    `json:"memory,omitempty"`
	Relay           *RelayReport     `json:"relay,omitempty"`
	Fanout          *FanoutReport    `json:"fanout,omitempty"`
	Close           CloseReport      `json:"close"`
	Violations      map[string]int64 `json:"violations"`
	ViolationsTotal int64            `json:"violations_total"`
	Errors          map[string]int64 `json:"errors"`
	ErrorsTotal     int64            `json:"errors_total"`
	OK              bool             `json:"ok"` // no violation and no error
}

// ConnectReport is the connect phase: every socket opened (Engine.IO
// handshake, Socket.IO CONNECT, and the upgrade with --transport upgrade).
type ConnectReport struct {
	Connected  int64   `json:"connected"`
	Failed     int64   `json:"failed"`
	DurationMS float64 `json:"duration_ms"`
	PerSec     float64 `json:"per_sec"`
	Latency    Latency `json:"latency"` // one socket's successful handshake
}

// JoinReport is the join phase: every socket emits join-room at one
// instant.
type JoinReport struct {
	Joined                int64   `json:"joined"`
	Failed                int64   `json:"failed"`
	DurationMS            float64 `json:"duration_ms"` // start instant → last join-ok
	JoinsPerSec           float64 `json:"joins_per_sec"`
	Latency               Latency `json:"latency"`    // own join-room → own join-ok
	InitOffer             Latency `json:"init_offer"` // newcomer's join-room → earlier member's init-offer
	InitOffersExpected    int64   `json:"init_offers_expected"`
	InitOffersReceived    int64   `json:"init_offers_received"`
	UserConnectedExpected int64   `json:"user_connected_expected"`
	UserConnectedReceived int64   `json:"user_connected_received"`
	TimedOut              bool    `json:"timed_out"` // some expected event never came within --timeout
}

// MemoryReport is hold's RSS sampling of the --pid processes.
type MemoryReport struct {
	Sockets   int64           `json:"sockets"` // the divisor of the per-socket figures
	Processes []ProcessMemory `json:"processes"`
	Total     ProcessMemory   `json:"total"` // the processes summed
}

// ProcessMemory is one process's VmRSS at each stage; per-socket figures
// are (stage − baseline) / sockets.
type ProcessMemory struct {
	Name               string  `json:"name"`
	PID                int     `json:"pid,omitempty"`
	BaselineBytes      uint64  `json:"baseline_bytes"`
	ConnectedBytes     uint64  `json:"connected_bytes"`
	JoinedBytes        uint64  `json:"joined_bytes"`
	SettledBytes       uint64  `json:"settled_bytes"`
	ConnectedPerSocket float64 `json:"connected_per_socket_bytes"`
	JoinedPerSocket    float64 `json:"joined_per_socket_bytes"`
	SettledPerSocket   float64 `json:"settled_per_socket_bytes"`
	Settled            bool    `json:"settled"` // false: --settle-timeout passed first
	SettleMS           float64 `json:"settle_ms"`
	Samples            int     `json:"samples"`
}

func (p *ProcessMemory) perSocket(n int64) {
	per := func(v uint64) float64 {
		if n == 0 {
			return 0
		}
		return (float64(v) - float64(p.BaselineBytes)) / float64(n)
	}
	p.ConnectedPerSocket, p.JoinedPerSocket, p.SettledPerSocket = per(p.ConnectedBytes), per(p.JoinedBytes), per(p.SettledBytes)
}

// RelayReport is the relay scenario: one step, or every step of
// --saturate.
type RelayReport struct {
	Pairs        int64       `json:"pairs"`
	PayloadBytes int         `json:"payload_bytes"`
	Saturate     bool        `json:"saturate"`
	Steps        []RelayStep `json:"steps"`
	// With --saturate: the best achieved rate among passing steps.
	SaturationRoundTripsPerSec float64 `json:"saturation_round_trips_per_sec"`
	SaturationRelayedPerSec    float64 `json:"saturation_relayed_per_sec"`
}

// RelayStep is one offered rate.
type RelayStep struct {
	Step             int64   `json:"step"`
	OfferedPerSec    float64 `json:"offered_per_sec"`     // round trips offered
	RoundTripsPerSec float64 `json:"round_trips_per_sec"` // completed
	RelayedPerSec    float64 `json:"relayed_per_sec"`     // messages relayed: 2 per round trip
	DurationMS       float64 `json:"duration_ms"`
	Sent             int64   `json:"sent"`
	Received         int64   `json:"received"`
	Lost             int64   `json:"lost"`
	LossRatio        float64 `json:"loss_ratio"`
	OutOfOrder       int64   `json:"out_of_order"`
	Late             int64   `json:"late"`
	RTT              Latency `json:"rtt"` // from the scheduled send time
	Pass             bool    `json:"pass"`
	Reason           string  `json:"reason,omitempty"` // why it did not pass
}

// FanoutReport is the fanout scenario.
type FanoutReport struct {
	OfferedPerSec      float64 `json:"offered_per_sec"` // messages sent
	DurationMS         float64 `json:"duration_ms"`
	Sent               int64   `json:"sent"`
	ExpectedDeliveries int64   `json:"expected_deliveries"`
	Deliveries         int64   `json:"deliveries"`
	Lost               int64   `json:"lost"`
	DeliveriesPerSec   float64 `json:"deliveries_per_sec"`
	OutOfOrder         int64   `json:"out_of_order"`
	Late               int64   `json:"late"`
	Latency            Latency `json:"latency"` // scheduled send → delivery
}

// CloseReport is the final close of every socket.
type CloseReport struct {
	Live       int64   `json:"live"` // sockets still connected at the end
	DurationMS float64 `json:"duration_ms"`
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("rtcmesh bench %s\t%s, %d sockets, rooms of %d, %d procs, %s\t", r.Scenario, r.Transport, r.Sockets, r.RoomSize, r.Procs, strings.Join(r.URLs, " "))
	p("")
	p("phase\tcount\tduration\trate\tp50\tp90\tp99\tmax")
	lat := func(l Latency) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s", fmtMS(l.P50MS), fmtMS(l.P90MS), fmtMS(l.P99MS), fmtMS(l.MaxMS))
	}
	c := r.Connect
	p("connect\t%d (%d failed)\t%s\t%.0f/s\t%s", c.Connected, c.Failed, fmtMS(c.DurationMS), c.PerSec, lat(c.Latency))
	if j := r.Join; j != nil {
		p("join-ok\t%d (%d failed)\t%s\t%.0f/s\t%s", j.Joined, j.Failed, fmtMS(j.DurationMS), j.JoinsPerSec, lat(j.Latency))
		p("init-offer\t%d of %d\t\t\t%s", j.InitOffersReceived, j.InitOffersExpected, lat(j.InitOffer))
	}
	if rl := r.Relay; rl != nil {
		for _, s := range rl.Steps {
			verdict := "pass"
			if !s.Pass {
				verdict = "FAIL: " + s.Reason
			}
			p("relay rtt\t%d of %d\t%s\t%.0f of %.0f/s\t%s\t%s", s.Received, s.Sent, fmtMS(s.DurationMS), s.RoundTripsPerSec, s.OfferedPerSec, lat(s.RTT), verdict)
		}
	}
	if f := r.Fanout; f != nil {
		p("fanout\t%d of %d\t%s\t%.0f/s\t%s", f.Deliveries, f.ExpectedDeliveries, fmtMS(f.DurationMS), f.DeliveriesPerSec, lat(f.Latency))
	}
	p("close\t%d live\t%s", r.Close.Live, fmtMS(r.Close.DurationMS))
	if rl := r.Relay; rl != nil {
		p("")
		last := rl.Steps[len(rl.Steps)-1]
		p("relay\t%d pairs: %d lost, %d out of order, %d late (last step)", rl.Pairs, last.Lost, last.OutOfOrder, last.Late)
		if rl.Saturate {
			p("saturation\t%.0f round trips/s (%.0f relayed messages/s)", rl.SaturationRoundTripsPerSec, rl.SaturationRelayedPerSec)
		}
	}
	if f := r.Fanout; f != nil {
		p("")
		p("fanout\t%d sent at %.0f/s: %d lost, %d out of order, %d late", f.Sent, f.OfferedPerSec, f.Lost, f.OutOfOrder, f.Late)
	}
	if m := r.Memory; m != nil {
		p("")
		p("VmRSS\tbaseline\tconnected\tjoined\tsettled\tper socket (connected/joined/settled)")
		for _, pm := range append(slices.Clone(m.Processes), m.Total) {
			settled := fmtBytes(float64(pm.SettledBytes))
			if !pm.Settled {
				settled += " (not settled)"
			}
			p("%s\t%s\t%s\t%s\t%s\t%s / %s / %s", pm.Name, fmtBytes(float64(pm.BaselineBytes)), fmtBytes(float64(pm.ConnectedBytes)),
				fmtBytes(float64(pm.JoinedBytes)), settled, fmtBytes(pm.ConnectedPerSocket), fmtBytes(pm.JoinedPerSocket), fmtBytes(pm.SettledPerSocket))
		}
	}
	p("")
	counts := func(title string, m map[string]int64) {
		if len(m) == 0 {
			p("%s\tnone", title)
			return
		}
		for i, k := range slices.Sorted(maps.Keys(m)) {
			if i > 0 {
				title = ""
			}
			p("%s\t%s\t%d", title, k, m[k])
		}
	}
	counts("violations", r.Violations)
	counts("errors", r.Errors)
	return w.Flush()
}

func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v < 100:
		return fmt.Sprintf("%.2fms", v)
	case v < 10000:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.1fs", v/1000)
}

func fmtBytes(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
