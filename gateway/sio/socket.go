package sio

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/internal/sched"
)

// Errors from emitting and acks.
var (
	// ErrDisconnected means the socket has left its namespace.
	ErrDisconnected = errors.New("sio: socket disconnected")
	// ErrAckTimeout means the client did not acknowledge in time.
	ErrAckTimeout = errors.New("sio: ack timeout")
	// ErrTooManyAcks means too many acks are already awaited.
	ErrTooManyAcks = errors.New("sio: too many pending acks")
	// ErrAlreadyAcked means an event was acknowledged twice.
	ErrAlreadyAcked = errors.New("sio: event already acknowledged")
)

// AckFunc receives the client's acknowledgement of an EmitWithAck, or an
// error (ErrAckTimeout, ErrDisconnected). It runs on an internal goroutine
// and must not block.
type AckFunc func(args []json.RawMessage, attachments [][]byte, err error)

// Socket is one client connected to one namespace. Its methods are safe
// for concurrent use; emitting never blocks.
type Socket struct {
	conn *conn
	ns   *Namespace
	id   string
	hs   *Handshake

	mu        sync.Mutex
	connected bool
	nextAck   int64
	acks      map[int64]*pendingAck
}

type pendingAck struct {
	fn    AckFunc
	timer *sched.Timer
}

// ID returns the socket id (distinct from the Engine.IO session id).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace name.
func (s *Socket) Namespace() string { return s.ns.name }

// Handshake returns the connection attempt that created the socket.
func (s *Socket) Handshake() *Handshake { return s.hs }

// Data returns what the middlewares stored in Handshake.Data.
func (s *Socket) Data() any { return s.hs.Data }

// Transport returns the current Engine.IO transport name.
func (s *Socket) Transport() string { return s.conn.eio.Transport() }

// Connected reports whether the socket is still in its namespace.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Emit sends an event. Each argument is written as JSON: json.RawMessage
// verbatim, []byte as a binary attachment, anything else marshalled.
// It returns ErrDisconnected, or eio.ErrSlow when the client's queue
// overflowed (the connection is then closed).
func (s *Socket) Emit(event string, args ...any) error {
	payload, atts, err := encodeEvent(event, args)
	if err != nil {
		return err
	}
	return s.send(eventType(atts), payload, atts, 0, false)
}

// EmitRaw sends a pre-encoded event: payload is the JSON array
// ["event", args...] and is written unchanged.
func (s *Socket) EmitRaw(payload json.RawMessage) error {
	return s.send(PacketEvent, payload, nil, 0, false)
}

// EmitArgs sends an event whose arguments are raw JSON values that may
// contain attachment placeholders for atts.
func (s *Socket) EmitArgs(event string, args []json.RawMessage, atts [][]byte) error {
	raw := make([]any, len(args))
	for i, a := range args {
		raw[i] = a
	}
	payload, _, err := encodeEvent(event, raw)
	if err != nil {
		return err
	}
	return s.send(eventType(atts), payload, atts, 0, false)
}

// EmitWithAck sends an event and calls fn with the client's
// acknowledgement, or with ErrAckTimeout or ErrDisconnected.
func (s *Socket) EmitWithAck(event string, fn AckFunc, args ...any) error {
	payload, atts, err := encodeEvent(event, args)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return ErrDisconnected
	}
	if len(s.acks) >= s.conn.srv.cfg.MaxPendingAcks {
		s.mu.Unlock()
		return ErrTooManyAcks
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]*pendingAck)
	}
	pa := &pendingAck{fn: fn}
	pa.timer = s.conn.srv.sched.AfterFunc(s.conn.srv.cfg.AckTimeout, func() {
		if s.takeAck(id) != nil {
			fn(nil, nil, ErrAckTimeout)
		}
	})
	s.acks[id] = pa
	s.mu.Unlock()
	if err := s.send(eventType(atts), payload, atts, id, true); err != nil {
		if s.takeAck(id) != nil {
			pa.timer.Stop()
		}
		return err
	}
	return nil
}

// Disconnect removes the socket from its namespace, telling the client
// (which will not reconnect by itself). With closeConn the whole
// Engine.IO connection is closed after the queued packets are flushed.
func (s *Socket) Disconnect(closeConn bool) {
	if !s.conn.remove(s) {
		return
	}
	pkt := appendHeader(nil, PacketDisconnect, 0, s.ns.name, 0, false)
	_ = s.conn.eio.Send(eio.TextMessage(pkt))
	s.finish("server namespace disconnect")
	if closeConn {
		s.conn.eio.Close()
	}
}

// CloseConn drops the socket's whole Engine.IO connection at once, without
// a namespace disconnect: clients treat it as a transport failure and
// reconnect by themselves (after Disconnect they would not).
func (s *Socket) CloseConn() { s.conn.eio.Abort(eio.ReasonForcedClose) }

// send queues one packet and its attachments atomically.
func (s *Socket) send(t PacketType, payload []byte, atts [][]byte, id int64, hasID bool) error {
	if !s.Connected() {
		return ErrDisconnected
	}
	buf := appendHeader(make([]byte, 0, 8+len(s.ns.name)+len(payload)), t, len(atts), s.ns.name, id, hasID)
	buf = append(buf, payload...)
	if len(atts) == 0 {
		return s.conn.eio.Send(eio.TextMessage(buf))
	}
	pkts := make([]eio.Packet, 0, 1+len(atts))
	pkts = append(pkts, eio.TextMessage(buf))
	for _, a := range atts {
		pkts = append(pkts, eio.BinaryMessage(a))
	}
	return s.conn.eio.Send(pkts...)
}

// finish marks the socket gone, fails its pending acks and runs the
// namespace's disconnect handler, once.
func (s *Socket) finish(reason string) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	for _, pa := range acks {
		pa.timer.Stop()
		pa.fn(nil, nil, ErrDisconnected)
	}
	s.ns.mu.RLock()
	fn := s.ns.onDisconnect
	s.ns.mu.RUnlock()
	if fn != nil {
		fn(s, reason)
	}
}

func (s *Socket) takeAck(id int64) *pendingAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	pa := s.acks[id]
	delete(s.acks, id)
	return pa
}

func (s *Socket) onEvent(pkt Packet, atts [][]byte) {
	h := s.ns.handler(pkt.name)
	if h == nil {
		return
	}
	h(s, &Event{Name: pkt.name, Args: pkt.elems[1:], Attachments: atts, sock: s, id: pkt.ID, hasAck: pkt.HasID})
}

func (s *Socket) onAck(pkt Packet, atts [][]byte) {
	if !pkt.HasID {
		s.conn.eio.Abort(eio.ReasonParseError)
		return
	}
	pa := s.takeAck(pkt.ID)
	if pa == nil {
		return // unknown or late ack ids are ignored
	}
	pa.timer.Stop()
	pa.fn(pkt.elems, atts, nil)
}

// Event is an event received from a client.
type Event struct {
	// Name is the event name.
	Name string
	// Args are the arguments after the name, each byte-exact as sent.
	// Binary arguments appear as {"_placeholder":true,"num":i}.
	Args []json.RawMessage
	// Attachments are the binary attachments, in placeholder order.
	Attachments [][]byte

	sock   *Socket
	id     int64
	hasAck bool
	acked  atomic.Bool
}

// HasAck reports whether the client asked for an acknowledgement.
func (e *Event) HasAck() bool { return e.hasAck }

// Ack acknowledges the event with args, encoded as in Socket.Emit. It is a
// no-op for events sent without an ack id, and fails after the first call.
func (e *Event) Ack(args ...any) error {
	payload, atts, err := encodeArray(args)
	if err != nil {
		return err
	}
	return e.ack(payload, atts)
}

// AckArgs acknowledges the event with raw arguments that may contain
// attachment placeholders for atts.
func (e *Event) AckArgs(args []json.RawMessage, atts [][]byte) error {
	raw := make([]any, len(args))
	for i, a := range args {
		raw[i] = a
	}
	payload, _, err := encodeArray(raw)
	if err != nil {
		return err
	}
	return e.ack(payload, atts)
}

func (e *Event) ack(payload []byte, atts [][]byte) error {
	if !e.hasAck {
		return nil
	}
	if e.acked.Swap(true) {
		return ErrAlreadyAcked
	}
	t := PacketAck
	if len(atts) > 0 {
		t = PacketBinaryAck
	}
	return e.sock.send(t, payload, atts, e.id, true)
}

func eventType(atts [][]byte) PacketType {
	if len(atts) > 0 {
		return PacketBinaryEvent
	}
	return PacketEvent
}

// encodeEvent builds ["event", args...].
func encodeEvent(event string, args []any) ([]byte, [][]byte, error) {
	name, err := marshalJSON(event)
	if err != nil {
		return nil, nil, err
	}
	all := make([]any, 0, 1+len(args))
	all = append(all, json.RawMessage(name))
	all = append(all, args...)
	return encodeArray(all)
}

// encodeArray builds a JSON array from args: json.RawMessage verbatim,
// []byte as an attachment placeholder, anything else marshalled.
func encodeArray(args []any) ([]byte, [][]byte, error) {
	var atts [][]byte
	buf := make([]byte, 0, 64)
	buf = append(buf, '[')
	for i, a := range args {
		if i > 0 {
			buf = append(buf, ',')
		}
		switch v := a.(type) {
		case json.RawMessage:
			buf = append(buf, v...)
		case []byte:
			buf = append(buf, `{"_placeholder":true,"num":`...)
			buf = strconv.AppendInt(buf, int64(len(atts)), 10)
			buf = append(buf, '}')
			atts = append(atts, v)
		default:
			b, err := marshalJSON(v)
			if err != nil {
				return nil, nil, err
			}
			buf = append(buf, b...)
		}
	}
	buf = append(buf, ']')
	return buf, atts, nil
}

// marshalJSON is json.Marshal without HTML escaping, so strings reach the
// client as they were given.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// newSocketID returns 15 random bytes as URL-safe base64 (20 characters).
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}
