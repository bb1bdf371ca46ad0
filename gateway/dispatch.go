package gateway

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Delivery policy (docs/architecture.md, "Dispatch"):
//
//   - nats.go's reader hands each sock.<sid> message to the socket's shard
//     channel without blocking (ChanSubscribe); a full channel makes it drop
//     the message and report nats.ErrSlowConsumer.
//   - A shard goroutine only moves a message into the socket's Engine.IO
//     queue, which never blocks and never does I/O (a socket that
//     overflows its byte budget is closed there, by its own writer). So a
//     shard can only fall behind for lack of CPU, and its channel is deep
//     enough to ride that out.
//   - If a message is dropped anyway, the socket it was for has lost
//     signaling it cannot recover; it is disconnected (its client
//     reconnects and rejoins with a fresh roster) and the drop is counted,
//     never silent. Other sockets on the shard are unaffected.
const (
	dispatchShards = 16
	shardQueue     = 8192
)

// Dispatch drop reasons (rtcmesh_gateway_dispatch_dropped_total).
const (
	dropNoSocket   = "no_socket"   // the socket left this gateway
	dropClosed     = "closed"      // the socket is closing
	dropSlowClient = "slow_client" // the socket's queue overflowed; it was closed
	dropShardFull  = "shard_full"  // nats.go dropped it: the shard channel was full
)

type dispatchMetrics struct {
	dropped *metrics.CounterVec
	// by reason, resolved once
	noSocket, closed, slowClient, shardFull *metrics.Counter
	refused                                 *metrics.CounterVec
	sessionsClosed                          *metrics.CounterVec
}

func (g *Gateway) initDispatchMetrics() {
	r, m := g.reg, &g.m.dispatch
	m.dropped = r.CounterVec("rtcmesh_gateway_dispatch_dropped_total",
		"NATS messages for sockets not delivered, by reason (no_socket, closed, slow_client, shard_full).", "reason")
	m.noSocket = m.dropped.With(dropNoSocket)
	m.closed = m.dropped.With(dropClosed)
	m.slowClient = m.dropped.With(dropSlowClient)
	m.shardFull = m.dropped.With(dropShardFull)
	m.refused = r.CounterVec("rtcmesh_gateway_connections_refused_total",
		"Engine.IO handshakes refused by the connection caps, by reason.", "reason")
	m.sessionsClosed = r.CounterVec("rtcmesh_gateway_sessions_closed_total",
		"Engine.IO sessions ended, by cause (slow_client, write_timeout, ping_timeout, attachment_timeout, ...).", "cause")
	r.GaugeFunc("rtcmesh_gateway_dispatch_queue_max", "Deepest dispatch shard channel, in messages.", func() float64 {
		n := 0
		for _, s := range g.shards {
			n = max(n, len(s.ch))
		}
		return float64(n)
	})
}

// engineCounters feeds the Engine.IO layer's counts into the metrics.
func (g *Gateway) engineCounters() eio.Counters {
	m := &g.m.dispatch
	return eio.Counters{
		Refused: func(reason string) { m.refused.With(reason).Inc() },
		Closed:  func(cause string) { m.sessionsClosed.With(cause).Inc() },
	}
}

// watchSlowConsumers chains an async error handler onto the connection:
// a slow-consumer report for a socket subscription counts the drop and
// disconnects that socket; everything else goes to the previous handler.
// Reports are logged at most once per interval.
func (g *Gateway) watchSlowConsumers() {
	prev := g.nc.ErrorHandler()
	lim := &logLimiter{every: 10 * time.Second}
	g.nc.SetErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if sub == nil || !errors.Is(err, nats.ErrSlowConsumer) || !strings.HasPrefix(sub.Subject, shared.Sock("")) {
			if prev != nil {
				prev(nc, sub, err)
			}
			return
		}
		g.m.dispatch.shardFull.Inc()
		sid := shared.SockID(sub.Subject)
		if n, ok := lim.allow(time.Now()); ok {
			g.log.Warn("gateway: dispatch shard full, messages dropped; disconnecting the sockets concerned",
				shared.KeySID, sid, "reports_since_last_log", n)
		}
		if c := g.clients.get(sid); c != nil {
			c.sock.CloseConn()
		}
	})
}

// logLimiter lets one log line through per interval and counts the rest.
type logLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	n     int
}

// allow reports whether to log now, and how many events it stands for.
func (l *logLimiter) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		return 0, false
	}
	n := l.n
	l.last, l.n = now, 0
	return n, true
}

// shard delivers the messages of the sockets hashed to it, in order.
type shard struct {
	g  *Gateway
	ch chan *nats.Msg
}

func (s *shard) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-s.ch:
			s.g.deliver(msg)
		}
	}
}

func (g *Gateway) shardFor(sid string) *shard {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sid))
	return g.shards[h.Sum32()%uint32(len(g.shards))]
}

// deliver writes one NATS message to its socket's queue. It never blocks.
func (g *Gateway) deliver(msg *nats.Msg) {
	sid := shared.SockID(msg.Subject)
	c := g.clients.get(sid)
	if c == nil {
		g.m.undeliverable.Inc()
		g.m.dispatch.noSocket.Inc()
		return
	}
	if from := msg.Header.Get(shared.HeaderFrom); from != "" {
		c.noteCorrespondent(from)
	} else if msg.Header != nil && !c.observe(msg.Header) {
		g.m.duplicates.Inc()
		return
	}
	if err := c.sock.EmitRaw(msg.Data); err != nil {
		g.m.undeliverable.Inc()
		if errors.Is(err, eio.ErrSlow) {
			g.m.dispatch.slowClient.Inc()
		} else {
			g.m.dispatch.closed.Inc()
		}
		return
	}
	g.m.delivered.Inc()
}
