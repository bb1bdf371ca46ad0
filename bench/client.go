package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Transport is how a socket reaches the server.
type Transport string

// The transports of --transport.
const (
	TransportWebSocket Transport = "websocket" // WebSocket from the start
	TransportPolling   Transport = "polling"   // HTTP long-polling only
	TransportUpgrade   Transport = "upgrade"   // polling, then upgraded to WebSocket (socket.io-client's default)
)

// fdsPerSocket is how many file descriptors a socket holds at rest.
func (t Transport) fdsPerSocket() int {
	if t == TransportPolling {
		return 2 // the long-poll GET and a POST
	}
	return 1
}

// sock is one Socket.IO connection plus the small state the scenarios
// keep per socket. Fields set before the reader goroutine starts are
// read-only afterwards; the rest are atomic or owned by one goroutine.
type sock struct {
	idx    int32 // index in the worker's sockets
	room   int32 // index in the worker's rooms
	pos    int32 // position in the room
	target int32 // index in the worker's targets
	gidx   int64 // global socket index (names, fanout sender ids)

	sid      string // Socket.IO id; written by the connecting goroutine
	ws       *websocket.Conn
	poll     *pollConn
	pingWait time.Duration // pingInterval + pingTimeout + slack
	wmu      sync.Mutex    // one writer at a time (gorilla's rule; one POST at a time)

	closing atomic.Bool  // we are closing it: a read error is expected
	dead    atomic.Bool  // the connection ended
	joined  atomic.Bool  // join-ok received
	refused atomic.Bool  // join-error received
	emitAt  atomic.Int64 // when join-room was written (worker clock)

	seq    int64   // relay/fanout: the sender's next sequence number (sender goroutine only)
	maxSeq int64   // relay: highest echoed sequence number (reader only)
	fanSeq []int64 // fanout: last sequence number per sender position (reader only)
}

// client connects sockets and runs their reader goroutines.
type client struct {
	transport Transport
	timeout   time.Duration
	ws        websocket.Dialer
	hc        *http.Client
	onEvent   func(s *sock, ev event) // called on the socket's reader goroutine
	viol      *counters
	errs      *counters
	wg        sync.WaitGroup // reader goroutines
	bufs      sync.Pool      // *bytes.Buffer, for reading frames and building messages
	live      atomic.Int64   // sockets connected and not ended
}

type clientConfig struct {
	transport Transport
	timeout   time.Duration
	dialer    *dialer
	idleConns int // polling: idle HTTP connections kept per host
	onEvent   func(s *sock, ev event)
	viol      *counters
	errs      *counters
}

func newClient(cfg clientConfig) *client {
	c := &client{transport: cfg.transport, timeout: cfg.timeout, onEvent: cfg.onEvent, viol: cfg.viol, errs: cfg.errs}
	c.bufs.New = func() any { return new(bytes.Buffer) }
	// Small read buffers and pooled write buffers: most sockets are idle
	// most of the time, and a frame larger than the buffer still streams.
	c.ws = websocket.Dialer{
		NetDialContext:   cfg.dialer.DialContext,
		HandshakeTimeout: cfg.timeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
	}
	c.hc = &http.Client{Transport: &http.Transport{
		DialContext:         cfg.dialer.DialContext,
		MaxIdleConnsPerHost: max(cfg.idleConns, 2),
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
	return c
}

func (c *client) getBuf() *bytes.Buffer { return c.bufs.Get().(*bytes.Buffer) }

func (c *client) putBuf(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return // let an unusually large frame's buffer go
	}
	b.Reset()
	c.bufs.Put(b)
}

// openInfo is the Engine.IO open packet.
type openInfo struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func parseOpen(b []byte) (openInfo, error) {
	pk, err := decode(b)
	var o openInfo
	if err != nil || pk.kind != pkOpen {
		return o, &protoError{"no-open", fmt.Sprintf("want an open packet, got %.40q", b)}
	}
	if err := json.Unmarshal(pk.data, &o); err != nil || o.SID == "" || o.PingInterval <= 0 || o.PingTimeout <= 0 {
		return o, &protoError{"bad-open", fmt.Sprintf("%.80q", b)}
	}
	return o, nil
}

// pingWait is how long a client waits for the next ping before giving up,
// like socket.io-client (pingInterval + pingTimeout), plus slack for a
// loaded machine.
func (o openInfo) pingWait() time.Duration {
	return time.Duration(o.PingInterval+o.PingTimeout)*time.Millisecond + 5*time.Second
}

// connectReply handles a packet received while waiting for the CONNECT
// reply: it returns the socket id once it comes.
func connectReply(b []byte, pong func() error) (string, error) {
	pk, err := decode(b)
	switch {
	case err != nil:
		return "", &protoError{"malformed-packet", fmt.Sprintf("%.40q", b)}
	case pk.kind == pkPing:
		return "", pong()
	case pk.kind == pkNoop:
		return "", nil
	case pk.kind == pkConnectError:
		return "", &protoError{"connect-refused", fmt.Sprintf("%.80q", pk.data)}
	case pk.kind != pkConnect:
		return "", &protoError{"unexpected-before-connect", pk.kind.String()}
	}
	var body struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(pk.data, &body); err != nil || body.SID == "" {
		return "", &protoError{"bad-connect", fmt.Sprintf("%.80q", b)}
	}
	return body.SID, nil
}

// connect opens s to t with the client's transport and starts its reader.
func (c *client) connect(ctx context.Context, s *sock, t *target) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var err error
	if c.transport == TransportWebSocket {
		err = c.connectWS(ctx, s, t)
	} else {
		err = c.connectPolling(ctx, s, t)
	}
	if err != nil {
		return err
	}
	c.live.Add(1)
	c.wg.Add(1)
	if s.ws != nil {
		go c.readWS(s)
	} else {
		go c.readPoll(s)
	}
	return nil
}

func (c *client) dialWS(ctx context.Context, t *target, sid string) (*websocket.Conn, error) {
	u := t.ws
	if sid != "" {
		u += "&sid=" + url.QueryEscape(sid)
	}
	conn, resp, err := c.ws.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, &httpStatusError{strconv.Itoa(resp.StatusCode)}
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// readFrame reads one text frame during a handshake.
func (c *client) readFrame(conn *websocket.Conn) ([]byte, error) {
	_ = conn.SetReadDeadline(time.Now().Add(c.timeout))
	mt, b, err := conn.ReadMessage()
	if err == nil && mt != websocket.TextMessage {
		return nil, &protoError{"binary-frame", "during the handshake"}
	}
	return b, err
}

func (c *client) writeFrame(conn *websocket.Conn, msg string) error {
	_ = conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return conn.WriteMessage(websocket.TextMessage, []byte(msg))
}

func (c *client) connectWS(ctx context.Context, s *sock, t *target) error {
	conn, err := c.dialWS(ctx, t, "")
	if err != nil {
		return err
	}
	if err := c.handshakeWS(s, conn); err != nil {
		conn.Close()
		return err
	}
	return nil
}

func (c *client) handshakeWS(s *sock, conn *websocket.Conn) error {
	b, err := c.readFrame(conn)
	if err != nil {
		return err
	}
	open, err := parseOpen(b)
	if err != nil {
		return err
	}
	if err := c.writeFrame(conn, "40"); err != nil {
		return err
	}
	for s.sid == "" {
		if b, err = c.readFrame(conn); err != nil {
			return err
		}
		if s.sid, err = connectReply(b, func() error { return c.writeFrame(conn, "3") }); err != nil {
			return err
		}
	}
	s.ws, s.pingWait = conn, open.pingWait()
	_ = conn.SetReadDeadline(time.Now().Add(s.pingWait))
	return nil
}

// readWS is the reader goroutine of a WebSocket socket.
func (c *client) readWS(s *sock) {
	defer c.wg.Done()
	for {
		mt, r, err := s.ws.NextReader()
		if err != nil {
			c.ended(s, err)
			return
		}
		buf := c.getBuf()
		if _, err := buf.ReadFrom(r); err != nil {
			c.putBuf(buf)
			c.ended(s, err)
			return
		}
		stop := false
		if mt != websocket.TextMessage {
			c.viol.inc("binary-frame")
		} else {
			stop = c.dispatch(s, buf.Bytes())
		}
		c.putBuf(buf)
		if stop {
			_ = s.ws.Close()
			return
		}
	}
}

// dispatch handles one Engine.IO packet; it returns true when the server
// ended the connection.
func (c *client) dispatch(s *sock, b []byte) bool {
	pk, err := decode(b)
	if err != nil {
		c.viol.inc("malformed-packet")
		return false
	}
	switch pk.kind {
	case pkEvent:
		if pk.ev.hasAck {
			c.viol.inc("unexpected-packet:event-with-ack")
		}
		c.onEvent(s, pk.ev)
	case pkPing:
		if len(pk.data) != 0 {
			c.viol.inc("malformed-packet")
			return false
		}
		if s.ws != nil {
			_ = s.ws.SetReadDeadline(time.Now().Add(s.pingWait))
		}
		if err := s.write(c, []byte("3")); err != nil && !s.closing.Load() {
			c.errs.inc("write:" + errKind(err))
		}
	case pkNoop:
		if s.ws != nil {
			c.viol.inc("unexpected-packet:noop")
		}
	case pkClose:
		c.endedBy(s, "disconnect:server-close")
		return true
	case pkDisconnect:
		c.endedBy(s, "disconnect:server-disconnect")
		return true
	default:
		c.viol.inc("unexpected-packet:" + pk.kind.String())
	}
	return false
}

// write sends one Engine.IO packet (e.g. `42["ev",{...}]`).
func (s *sock) write(c *client, msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.ws != nil {
		_ = s.ws.SetWriteDeadline(time.Now().Add(c.timeout))
		return s.ws.WriteMessage(websocket.TextMessage, msg)
	}
	return c.post(s.poll.ctx, s.poll.url, msg)
}

// ended records the end of a connection we did not close.
func (c *client) ended(s *sock, err error) { c.endedBy(s, "disconnect:"+errKind(err)) }

func (c *client) endedBy(s *sock, kind string) {
	if !s.dead.CompareAndSwap(false, true) {
		return
	}
	c.live.Add(-1)
	if !s.closing.Load() {
		c.viol.inc(kind)
	}
}

// close ends s; its reader goroutine exits soon after.
func (c *client) close(s *sock) {
	if s.closing.Swap(true) {
		return
	}
	switch {
	case s.ws != nil:
		_ = s.ws.Close()
	case s.poll != nil:
		// Tell the server (a close packet), then abort the long poll.
		ctx, cancel := context.WithTimeout(s.poll.ctx, time.Second)
		s.wmu.Lock()
		_ = c.post(ctx, s.poll.url, []byte("1"))
		s.wmu.Unlock()
		cancel()
		s.poll.cancel()
	}
}

// wait waits for every reader goroutine.
func (c *client) wait() {
	c.wg.Wait()
	c.hc.CloseIdleConnections()
}
