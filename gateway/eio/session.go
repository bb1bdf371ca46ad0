package eio

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtcmesh/rtcmesh/internal/sched"
)

type transportKind uint8

const (
	tPolling transportKind = iota
	tWebSocket
)

type sessionState uint8

const (
	stateOpen    sessionState = iota
	stateClosing              // closed for the application; flushing its last packets
	stateClosed
)

// tombstoneTTL is how long a session closed by the client's "1" over
// polling keeps answering one racing GET with a noop. The reference
// answers the GET that was pending when the close arrived with "6"; in Go
// the POST may be handled first, and without the tombstone that GET would
// get a 400 instead.
const tombstoneTTL = 500 * time.Millisecond

// upgradeGrace is how long a GET that arrives during an upgrade waits for
// it to finish. A client that sent "5" on the WebSocket and then polled
// must see 400 (the session moved to WebSocket), but the GET and the "5"
// are read by different goroutines and may be handled in either order.
const upgradeGrace = 100 * time.Millisecond

// Session is one Engine.IO client session. Its methods are safe for
// concurrent use.
type Session struct {
	srv  *Server
	id   string
	info atomic.Pointer[RequestInfo]
	h    SessionHandler

	// dispatchMu serialises handler calls: packets from a POST, from the
	// WebSocket reader, and OnClose.
	dispatchMu sync.Mutex

	mu          sync.Mutex
	state       sessionState
	transport   transportKind
	queue       []Packet
	queueBytes  int
	poll        chan struct{} // set while a GET waits; signalled when there is news
	postBusy    bool
	probing     bool          // a probe WebSocket is attached
	upgrading   bool          // the probe answered "3probe"; polls get noops
	upgradeDone chan struct{} // closed when the probe ends either way
	ws          *websocket.Conn
	probeConn   *websocket.Conn // the WebSocket being probed, until it takes over
	writing     bool            // a flushWS goroutine owns the WebSocket writer
	hb          *sched.Timer
	awaitPong   bool
	deadline    time.Time // no request may be served after this without a pong
	byClient    bool      // closed by the client's close packet over polling
	tombstoned  bool      // the racing GET was already answered
}

// ID returns the Engine.IO session id.
func (s *Session) ID() string { return s.id }

// Request returns the request that opened the session.
// After TrimRequest it returns the bounded extract.
func (s *Session) Request() *RequestInfo { return s.info.Load() }

// Transport returns "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.transport == tWebSocket {
		return "websocket"
	}
	return "polling"
}

// Send queues packets for the client, atomically and in order. It never
// blocks, and never does I/O: it may be called from a shared goroutine
// (a NATS dispatch shard). The packets' data must not be modified
// afterwards. It returns ErrClosed after the session closed, and ErrSlow
// (after closing the session) when the queue would exceed its byte budget
// (MaxQueuedBytes). The budget covers only what the transport has not
// taken yet, so a client that keeps reading is never closed for a burst
// that fits it; one that stops reading fills it, or has its write time
// out, and is closed for its own slowness.
func (s *Session) Send(pkts ...Packet) error {
	n := 0
	for _, p := range pkts {
		n += len(p.Data) + PacketOverhead
	}
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.queueBytes+n > s.srv.cfg.MaxQueuedBytes {
		queued, bytes := len(s.queue), s.queueBytes
		s.mu.Unlock()
		s.srv.log.Warn("eio: slow client, closing session", "sid", s.id, "queued", queued, "queued_bytes", bytes)
		s.terminate(ReasonSlowClient, false)
		return ErrSlow
	}
	s.queue = append(s.queue, pkts...)
	s.queueBytes += n
	s.kickLocked()
	s.mu.Unlock()
	return nil
}

// Abort ends the session at once with reason, dropping anything queued.
// Use it for protocol violations.
func (s *Session) Abort(reason string) { s.terminate(reason, false) }

// Close ends the session from the server side after flushing what is
// queued: a WebSocket gets the rest of its queue then a close; a polling
// client gets its queue followed by a close packet on its next GET.
func (s *Session) Close() {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.state = stateClosing
	s.queue = append(s.queue, Packet{Type: Close})
	s.kickLocked()
	if s.hb != nil {
		// Reuse the heartbeat slot as the drain deadline: a client that
		// does not collect its last packets is cut off.
		s.hb.Reset(s.srv.cfg.PingTimeout)
	}
	s.mu.Unlock()
	s.notifyClose(ReasonForcedClose)
}

// kickLocked wakes whoever delivers the queue: the WebSocket writer or a
// waiting GET.
func (s *Session) kickLocked() {
	if s.transport == tWebSocket {
		if !s.writing && s.ws != nil && len(s.queue) > 0 {
			s.writing = true
			s.srv.spawn(s.flushWS)
		}
		return
	}
	s.wakePollLocked()
}

func (s *Session) wakePollLocked() {
	if s.poll != nil {
		select {
		case s.poll <- struct{}{}:
		default:
		}
	}
}

// takeLocked removes and returns the queued packets.
func (s *Session) takeLocked() []Packet {
	q := s.queue
	s.queue = nil
	s.queueBytes = 0
	return q
}

// startHeartbeat arms the first ping. It runs before the handshake is
// written, so the deadline a request is checked against starts with the
// session.
func (s *Session) startHeartbeat() {
	cfg := &s.srv.cfg
	s.mu.Lock()
	s.deadline = time.Now().Add(cfg.PingInterval + cfg.PingTimeout)
	s.hb = s.srv.sched.AfterFunc(cfg.PingInterval, s.onHeartbeat)
	s.mu.Unlock()
}

// onHeartbeat runs on the scheduler goroutine: it sends a ping, or closes
// the session when the previous ping went unanswered, or ends a drain.
func (s *Session) onHeartbeat() {
	s.mu.Lock()
	switch {
	case s.state == stateClosing:
		s.mu.Unlock()
		s.terminate(ReasonForcedClose, false)
		return
	case s.state != stateOpen:
		s.mu.Unlock()
		return
	case s.awaitPong:
		s.mu.Unlock()
		s.terminate(ReasonPingTimeout, false)
		return
	}
	s.awaitPong = true
	// A ping is never refused for queue bounds: it is tiny and a client that
	// is that far behind will time out anyway.
	s.queue = append(s.queue, Packet{Type: Ping})
	s.queueBytes += PacketOverhead
	s.kickLocked()
	s.hb.Reset(time.Until(s.deadline))
	s.mu.Unlock()
}

// onPong records a pong and schedules the next ping.
func (s *Session) onPong() {
	cfg := &s.srv.cfg
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen || !s.awaitPong {
		return
	}
	s.awaitPong = false
	s.deadline = time.Now().Add(cfg.PingInterval + cfg.PingTimeout)
	s.hb.Reset(cfg.PingInterval)
}

// expiredLocked reports whether the heartbeat deadline has passed. Requests
// check it themselves rather than trusting the scheduler to have fired.
func (s *Session) expiredLocked() bool {
	return s.state == stateOpen && time.Now().After(s.deadline)
}

// dispatch hands received packets to the handler in order. It stops at the
// first packet that ends the session and reports whether the session is
// still open.
func (s *Session) dispatch(pkts []Packet) bool {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	for _, p := range pkts {
		s.mu.Lock()
		open := s.state == stateOpen
		s.mu.Unlock()
		if !open {
			return false
		}
		switch p.Type {
		case Message:
			s.h.OnMessage(p)
		case Pong:
			s.onPong()
		case Close:
			s.terminate(ReasonTransportClose, s.Transport() == "polling")
			return false
		case Ping:
			// v4 servers ping; a client ping is the reference's "invalid
			// heartbeat direction" error.
			s.terminate(ReasonTransportError, false)
			return false
		case Noop, Open, Upgrade:
			// Harmless; nothing to do.
		}
	}
	return true
}

// terminate ends the session at once. Queued packets are dropped; a waiting
// GET is answered (noop when the client itself closed, close otherwise); a
// WebSocket is closed. byClient keeps a short tombstone so a GET racing the
// client's close is still answered with a noop.
//
// terminate never blocks on the client: it runs on shared goroutines (the
// heartbeat scheduler, NATS dispatch shards), so the close frame, which
// must wait for a writer that may be stuck on a full TCP window, is
// written by a goroutine of the session's own (see closeWS).
func (s *Session) terminate(reason string, byClient bool) {
	s.end(reason, causeLabel(reason), byClient)
}

// end is terminate with the metric label given separately.
func (s *Session) end(reason, cause string, byClient bool) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	wasOpen := s.state == stateOpen
	s.state = stateClosed
	s.byClient = byClient
	s.queue = nil
	s.queueBytes = 0
	s.wakePollLocked()
	ws, probe := s.ws, s.probeConn
	if s.hb != nil {
		s.hb.Stop()
	}
	s.mu.Unlock()

	if ws != nil || probe != nil {
		s.srv.spawn(func() { closeWS(ws, probe, reason) })
	}
	s.srv.admit.release(s.info.Load().addr)
	s.srv.cfg.Counters.closed(cause)
	if byClient {
		s.srv.sched.AfterFunc(tombstoneTTL, func() { s.srv.remove(s) })
	} else {
		s.srv.remove(s)
	}
	if wasOpen {
		s.notifyClose(reason)
	}
}

// closeWS sends the close frame and closes the connections. gorilla lets
// WriteControl run beside a writer; it waits up to its deadline for a
// writer stuck on a full TCP window, after which Close unblocks that
// writer with an error.
func closeWS(ws, probe *websocket.Conn, reason string) {
	if probe != nil && probe != ws {
		_ = probe.Close()
	}
	if ws != nil {
		_ = ws.WriteControl(websocket.CloseMessage, closeFrame(reason), time.Now().Add(time.Second))
		_ = ws.Close()
	}
}

// notifyClose runs OnClose once any in-flight dispatch has finished. It
// runs on its own goroutine because terminate may be called from inside a
// dispatch or from the scheduler.
func (s *Session) notifyClose(reason string) {
	s.srv.spawn(func() {
		s.dispatchMu.Lock()
		defer s.dispatchMu.Unlock()
		s.h.OnClose(reason)
	})
}
