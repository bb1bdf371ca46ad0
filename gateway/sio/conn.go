package sio

import (
	"encoding/json"
	"sync"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/sched"
)

// conn is the Socket.IO state of one Engine.IO session: the namespace
// sockets multiplexed over it and the reassembly of binary packets.
type conn struct {
	srv          *Server
	eio          *eio.Session
	connectTimer *sched.Timer

	// pending and atts are a binary packet waiting for its attachments.
	// They are written only from OnMessage, which eio serialises, under mu
	// so that the attachment deadline (on the scheduler) can read them.
	pending  *Packet
	atts     [][]byte
	attBytes int          // bytes of atts so far
	attTimer *sched.Timer // the deadline for the rest of atts
	attGen   uint64       // which pending packet attTimer belongs to

	mu      sync.Mutex
	sockets map[string]*Socket // by namespace
	closed  bool
	trimmed bool // the opening request was trimmed after the first CONNECT
}

// Close reasons for a binary packet's attachments. The connection is the
// offender and is closed; eio counts the reasons.
const (
	ReasonAttachmentTimeout  = "attachment timeout"
	ReasonAttachmentTooLarge = "attachments too large"
)

var _ eio.SessionHandler = (*conn)(nil)

// OnMessage implements eio.SessionHandler. Any protocol violation closes
// the whole connection, as the reference does.
func (c *conn) OnMessage(p eio.Packet) {
	if p.Binary {
		if c.pending == nil {
			c.eio.Abort(eio.ReasonParseError) // an attachment nobody announced
			return
		}
		c.attBytes += len(p.Data)
		if c.attBytes > c.srv.cfg.MaxAttachmentBytes {
			c.srv.log.Debug("sio: attachments over budget, closing", "sid", c.eio.ID(), "bytes", c.attBytes)
			c.clearPending()
			c.eio.Abort(ReasonAttachmentTooLarge)
			return
		}
		c.atts = append(c.atts, p.Data)
		if len(c.atts) == c.pending.Attachments {
			pkt, atts := *c.pending, c.atts
			c.clearPending()
			c.handle(pkt, atts)
		}
		return
	}
	if c.pending != nil {
		c.eio.Abort(eio.ReasonParseError) // text while attachments were due
		return
	}
	pkt, err := Decode(p.Data)
	if err != nil {
		c.srv.log.Debug("sio: invalid packet, closing", "sid", c.eio.ID(), "err", err)
		c.eio.Abort(eio.ReasonParseError)
		return
	}
	if pkt.Type.binary() && pkt.Attachments > 0 {
		c.mu.Lock()
		c.pending = &pkt
		c.atts = make([][]byte, 0, pkt.Attachments)
		c.attBytes = 0
		c.attGen++
		gen := c.attGen
		c.mu.Unlock()
		c.attTimer = c.srv.sched.AfterFunc(c.srv.cfg.AttachmentTimeout, func() { c.onAttachmentTimeout(gen) })
		return
	}
	c.handle(pkt, nil)
}

// clearPending forgets the pending binary packet and its deadline.
func (c *conn) clearPending() {
	if c.attTimer != nil {
		c.attTimer.Stop()
		c.attTimer = nil
	}
	c.mu.Lock()
	c.pending, c.atts, c.attBytes = nil, nil, 0
	c.mu.Unlock()
}

// onAttachmentTimeout closes a connection whose binary packet is still
// missing attachments: held attachments are memory the client pins at
// will, so they get a deadline.
func (c *conn) onAttachmentTimeout(gen uint64) {
	c.mu.Lock()
	late := c.pending != nil && c.attGen == gen
	c.mu.Unlock()
	if late {
		c.eio.Abort(ReasonAttachmentTimeout)
	}
}

// OnClose implements eio.SessionHandler: every socket disconnects with the
// transport's reason.
func (c *conn) OnClose(reason string) {
	c.connectTimer.Stop()
	if c.attTimer != nil {
		c.attTimer.Stop()
	}
	c.mu.Lock()
	c.closed = true
	socks := make([]*Socket, 0, len(c.sockets))
	for _, s := range c.sockets {
		socks = append(socks, s)
	}
	c.sockets = nil
	c.mu.Unlock()
	for _, s := range socks {
		s.finish(reason)
	}
}

func (c *conn) handle(pkt Packet, atts [][]byte) {
	if pkt.Type == PacketConnect {
		c.connect(pkt)
		return
	}
	s := c.socket(pkt.Namespace)
	if s == nil {
		c.eio.Abort(eio.ReasonParseError) // a packet for a namespace not joined
		return
	}
	switch pkt.Type {
	case PacketDisconnect:
		if c.remove(s) {
			s.finish("client namespace disconnect")
		}
	case PacketEvent, PacketBinaryEvent:
		s.onEvent(pkt, atts)
	case PacketAck, PacketBinaryAck:
		s.onAck(pkt, atts)
	default: // CONNECT_ERROR is server-to-client only
		c.eio.Abort(eio.ReasonParseError)
	}
}

// connect joins a namespace: middlewares, then the CONNECT reply, then the
// namespace's connection handler.
func (c *conn) connect(pkt Packet) {
	if c.socket(pkt.Namespace) != nil {
		c.eio.Abort(eio.ReasonParseError) // CONNECT for a namespace already joined
		return
	}
	ns := c.srv.namespace(pkt.Namespace)
	if ns == nil {
		c.sendConnectError(pkt.Namespace, []byte(`{"message":"Invalid namespace"}`))
		return
	}
	auth := pkt.Data
	if auth == nil {
		auth = json.RawMessage("{}")
	}
	info := c.eio.Request()
	hs := &Handshake{
		Namespace:  pkt.Namespace,
		Auth:       auth,
		Query:      info.Query,
		Header:     info.Header,
		RemoteAddr: info.RemoteAddr,
		Secure:     info.Secure,
		Time:       info.Time,
	}
	ns.mu.RLock()
	mws := ns.middlewares
	onConnect := ns.onConnect
	ns.mu.RUnlock()
	for _, m := range mws {
		if err := m(hs); err != nil {
			c.sendConnectError(pkt.Namespace, errorPayload(err))
			return
		}
	}
	s := &Socket{conn: c, ns: ns, id: newSocketID(), hs: hs, connected: true}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.sockets[pkt.Namespace] = s
	c.mu.Unlock()
	c.connectTimer.Stop()

	reply := appendHeader(nil, PacketConnect, 0, pkt.Namespace, 0, false)
	reply = append(reply, `{"sid":"`...)
	reply = append(reply, s.id...)
	reply = append(reply, `"}`...)
	if err := c.eio.Send(eio.Packet{Type: eio.Message, Data: reply, Gap: true}); err != nil {
		return // the session is closing; OnClose will finish the socket
	}
	if onConnect != nil {
		onConnect(s)
	}
	c.release(hs)
}

// release drops what the client sent for the CONNECT once its handlers
// have run: the raw auth payload (middlewares keep what they need in
// Data, copied) and, after the first namespace, the opening request's
// headers and query beyond a bounded extract (eio.Session.TrimRequest).
func (c *conn) release(hs *Handshake) {
	c.mu.Lock()
	first := !c.trimmed
	c.trimmed = true
	c.mu.Unlock()
	if first {
		c.eio.TrimRequest()
	}
	info := c.eio.Request()
	hs.Auth = nil
	hs.Header = info.Header
	hs.Query = info.Query
}

func (c *conn) sendConnectError(nsp string, body []byte) {
	pkt := appendHeader(nil, PacketConnectError, 0, nsp, 0, false)
	_ = c.eio.Send(eio.TextMessage(append(pkt, body...)))
}

func (c *conn) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets[nsp]
}

// remove drops s from the connection; it reports false if s was already
// gone.
func (c *conn) remove(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sockets[s.ns.name] != s {
		return false
	}
	delete(c.sockets, s.ns.name)
	return true
}

// onConnectTimeout closes a connection that joined no namespace in time.
func (c *conn) onConnectTimeout() {
	c.mu.Lock()
	idle := len(c.sockets) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.eio.Abort(eio.ReasonTransportClose)
	}
}
