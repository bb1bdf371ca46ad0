package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtcmesh/rtcmesh/shared"
)

// workerSetup is one worker's share of a run: whole rooms, so that every
// latency measured between two sockets is measured inside one process.
// It is the first message of the worker protocol.
type workerSetup struct {
	Index           int       `json:"index"`
	Scenario        Scenario  `json:"scenario"`
	URLs            []string  `json:"urls"`
	Transport       Transport `json:"transport"`
	Sources         []string  `json:"sources,omitempty"`
	RoomSize        int       `json:"room_size"`
	FirstSocket     int64     `json:"first_socket"` // global index of the first socket; a multiple of RoomSize
	Sockets         int       `json:"sockets"`
	RoomPrefix      string    `json:"room_prefix"`
	NamePrefix      string    `json:"name_prefix"`
	DialConcurrency int       `json:"dial_concurrency"`
	ConnectRetries  int       `json:"connect_retries"`
	TimeoutMS       float64   `json:"timeout_ms"`
	GraceMS         float64   `json:"grace_ms"`
	ProgressMS      float64   `json:"progress_ms"`
	PayloadBytes    int       `json:"payload_bytes"`
}

// room is one room of the worker.
type room struct {
	mu     sync.Mutex
	first  int32      // local index of the first member
	size   int32      // members
	idJSON []byte     // the room id as a JSON string
	live   []bool     // per position: connected when the join phase began
	log    [][]logRec // per position: join events received; nil once checked
	joined int32      // members whose join completed (set after the join phase)
}

// worker owns a share of the sockets and runs the scenario's phases on
// them when the parent says so (see workers.go).
type worker struct {
	set     workerSetup
	log     *slog.Logger
	epoch   time.Time // the worker clock: nanoseconds since epoch (monotonic)
	timeout time.Duration
	grace   time.Duration
	cl      *client
	targets []target
	socks   []sock
	rooms   []room
	tab     atomic.Pointer[idTable] // published after connecting
	viol    *counters
	errs    *counters
	closing atomic.Bool // closing every socket: what arrives now (departures of the others) is not counted

	join  joinState
	relay relayState
	fan   fanState
}

// idTable maps socket ids to local indices; it is built once every socket
// has connected and published atomically, which also publishes every sid.
type idTable struct {
	bySID map[string]int32
}

func newWorker(set workerSetup, log *slog.Logger) (*worker, error) {
	if set.RoomSize < 1 || set.Sockets < 0 || set.FirstSocket%int64(set.RoomSize) != 0 {
		return nil, fmt.Errorf("worker %d: bad share: %d sockets from %d in rooms of %d", set.Index, set.Sockets, set.FirstSocket, set.RoomSize)
	}
	w := &worker{set: set, log: log.With("worker", set.Index), epoch: time.Now(),
		timeout: time.Duration(set.TimeoutMS * float64(time.Millisecond)),
		grace:   time.Duration(set.GraceMS * float64(time.Millisecond)),
		viol:    newCounters(), errs: newCounters()}
	var hosts []string
	for _, u := range set.URLs {
		t, err := newTarget(u)
		if err != nil {
			return nil, err
		}
		w.targets = append(w.targets, t)
		hosts = append(hosts, t.hostport)
	}
	if len(w.targets) == 0 {
		return nil, fmt.Errorf("worker %d: no url", set.Index)
	}
	var sources []netip.Addr
	for _, s := range set.Sources {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s, err)
		}
		sources = append(sources, a)
	}
	idle := set.DialConcurrency
	if set.Transport == TransportPolling {
		idle = 2*set.Sockets + set.DialConcurrency
	}
	w.cl = newClient(clientConfig{transport: set.Transport, timeout: w.timeout,
		dialer: newDialer(sources, w.timeout, hosts), idleConns: idle,
		onEvent: w.onEvent, viol: w.viol, errs: w.errs})
	w.relay.payload = relayPayload(set.PayloadBytes)
	w.layout()
	return w, nil
}

// layout builds the sockets and rooms before any goroutine reads them.
func (w *worker) layout() {
	k := w.set.RoomSize
	w.socks = make([]sock, w.set.Sockets)
	w.rooms = make([]room, (w.set.Sockets+k-1)/k)
	firstRoom := w.set.FirstSocket / int64(k)
	for r := range w.rooms {
		rm := &w.rooms[r]
		rm.first = int32(r * k)
		rm.size = int32(min(k, w.set.Sockets-r*k))
		rm.idJSON = appendJSONString(nil, w.set.RoomPrefix+"-"+strconv.FormatInt(firstRoom+int64(r), 10))
	}
	for i := range w.socks {
		s := &w.socks[i]
		s.idx, s.room, s.pos = int32(i), int32(i/k), int32(i%k)
		s.gidx = w.set.FirstSocket + int64(i)
		s.target = int32(s.gidx % int64(len(w.targets)))
		s.maxSeq = -1
		if w.set.Scenario == ScenarioFanout {
			s.fanSeq = make([]int64, k)
			for j := range s.fanSeq {
				s.fanSeq[j] = -1
			}
		}
	}
}

// now is the worker clock.
func (w *worker) now() int64 { return int64(time.Since(w.epoch)) }

// wall converts a worker clock reading to Unix nanoseconds.
func (w *worker) wall(mono int64) int64 { return w.epoch.UnixNano() + mono }

// connectResult is the connect phase of one worker.
type connectResult struct {
	Connected  int64            `json:"connected"`
	Failed     int64            `json:"failed"`
	DurationMS float64          `json:"duration_ms"`
	Latency    *Hist            `json:"latency"`
	Errors     map[string]int64 `json:"errors,omitempty"` // errors so far
}

// connect opens every socket, dial-concurrency at a time.
func (w *worker) connect(ctx context.Context) *connectResult {
	res := &connectResult{Latency: new(Hist)}
	start := time.Now()
	var next, ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range min(max(w.set.DialConcurrency, 1), len(w.socks)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(w.socks)) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := w.dial(ctx, &w.socks[i]); err != nil {
					failed.Add(1)
					continue
				}
				res.Latency.Record(time.Since(t0))
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	tab := &idTable{bySID: make(map[string]int32, len(w.socks))}
	for i := range w.socks {
		if s := &w.socks[i]; s.sid != "" {
			tab.bySID[s.sid] = int32(i)
		}
	}
	w.tab.Store(tab)
	res.Connected, res.Failed = ok.Load(), int64(len(w.socks))-ok.Load()
	res.DurationMS = ms(time.Since(start))
	res.Errors = w.errs.snapshot()
	return res
}

// dial connects one socket, retrying a few times: under a connection storm
// a listen backlog can overflow, and a real client would retry too.
func (w *worker) dial(ctx context.Context, s *sock) error {
	var err error
	for attempt := 0; attempt <= w.set.ConnectRetries; attempt++ {
		if attempt > 0 {
			w.errs.inc("connect-retry:" + errKind(err))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		s.sid = ""
		if err = w.cl.connect(ctx, s, &w.targets[s.target]); err == nil {
			return nil
		}
	}
	s.sid = ""
	w.errs.inc("connect:" + errKind(err))
	return err
}

// onEvent routes an event; it runs on the socket's reader goroutine.
func (w *worker) onEvent(s *sock, ev event) {
	at := w.now()
	if w.closing.Load() {
		return
	}
	tab := w.tab.Load()
	if tab == nil {
		w.viol.inc("unexpected-event:" + trunc(ev.Name()))
		return
	}
	switch string(ev.name) {
	case shared.EventJoinOK:
		w.onJoinEvent(s, tab, recJoinOK, ev, at)
	case shared.EventUserConnected:
		w.onJoinEvent(s, tab, recUserConnected, ev, at)
	case shared.EventInitOffer:
		w.onJoinEvent(s, tab, recInitOffer, ev, at)
	case shared.EventRTCMessage:
		w.onRelay(s, ev, at)
	case shared.EventMediaState, shared.EventChatMessage:
		w.onFanout(s, tab, ev, at)
	case shared.EventJoinError:
		reason, _ := strField(ev.arg0, "reason")
		w.errs.inc("join-error:" + trunc(string(reason)))
		if !s.refused.Swap(true) && !s.joined.Load() {
			w.join.pending.dec()
		}
	case shared.EventError:
		code, _ := strField(ev.arg0, "code")
		w.errs.inc("error:" + trunc(string(code)))
	case shared.EventUserDisconnected, shared.EventPeerLeft:
		// A consequence of a disconnect, which is counted as a violation
		// where it happened.
		w.errs.inc("event:" + string(ev.name))
	default:
		w.viol.inc("unexpected-event:" + trunc(ev.Name()))
	}
}

// trunc bounds server-chosen strings used as counter keys.
func trunc(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

// shards is how many sender goroutines a phase uses for n sockets.
func shards(n int) int { return max(1, min(n, 2*runtime.GOMAXPROCS(0))) }

// closeAll closes every socket and waits for their goroutines.
func (w *worker) closeAll() {
	w.closing.Store(true)
	n := shards(len(w.socks))
	var wg sync.WaitGroup
	for j := range n {
		wg.Go(func() {
			for i := j; i < len(w.socks); i += n {
				if w.socks[i].sid != "" {
					w.cl.close(&w.socks[i])
				}
			}
		})
	}
	wg.Wait()
	w.cl.wait()
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendInt appends n in decimal to a buffer without allocating.
func appendInt(b *bytes.Buffer, n int64) { b.Write(strconv.AppendInt(b.AvailableBuffer(), n, 10)) }
