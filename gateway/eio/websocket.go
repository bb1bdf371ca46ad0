package eio

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

// serveWebSocket opens a session directly over WebSocket. The request's
// goroutine becomes the session's reader; writes happen on a short-lived
// goroutine only while there is something to write.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, info *RequestInfo) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.admit.release(info.addr) // no session was opened
		return                     // gorilla has answered the request
	}
	conn.SetReadLimit(s.cfg.MaxPayload)
	sess := s.open(tWebSocket, info, conn)
	if sess == nil {
		_ = conn.Close()
		return
	}
	sess.mu.Lock()
	sess.kickLocked() // writes the open packet
	sess.mu.Unlock()
	// Read on a fresh goroutine and let the HTTP handler's return: the
	// handler's stack grew while upgrading, a new goroutine idles in a
	// read on the minimum stack.
	s.spawn(func() { sess.readLoop(conn) })
}

// serveProbe handles the WebSocket a polling session opens to upgrade. A
// second WebSocket for a session that is already upgrading or upgraded is
// accepted and then closed at once, as the reference does (refusing it with
// an HTTP error makes Node's ws client throw).
func (s *Server) serveProbe(w http.ResponseWriter, r *http.Request, sess *Session) {
	// The probing state is entered before the 101 is written: once the
	// client sees the upgrade succeed it may send "2probe", "5" and a GET
	// back to back, and that GET must already know an upgrade is under way.
	sess.mu.Lock()
	accept := sess.state == stateOpen && sess.transport == tPolling && !sess.probing
	if accept {
		sess.probing = true
		sess.upgradeDone = make(chan struct{})
	}
	sess.mu.Unlock()

	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil || !accept {
		if conn != nil {
			_ = conn.Close()
		}
		if accept {
			sess.endProbe(nil)
		}
		return
	}
	conn.SetReadLimit(s.cfg.MaxPayload)
	sess.mu.Lock()
	if sess.state != stateOpen {
		sess.mu.Unlock()
		sess.endProbe(conn)
		return
	}
	sess.probeConn = conn
	sess.mu.Unlock()

	if !sess.probe(conn) {
		sess.endProbe(conn)
		return
	}
	s.spawn(func() { sess.readLoop(conn) })
}

// endProbe abandons a failed upgrade; the session carries on polling.
func (s *Session) endProbe(conn *websocket.Conn) {
	s.mu.Lock()
	if s.probeConn == conn {
		s.probeConn = nil
	}
	if s.probing {
		s.probing = false
		s.upgrading = false
		close(s.upgradeDone)
		s.wakePollLocked()
	}
	s.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

// probe runs the upgrade handshake on conn: "2probe" is answered with
// "3probe" (after which polls get noops), and "5" moves the session onto
// conn and flushes its queue there. Anything else, or no "5" within the
// upgrade timeout, fails the probe; the session carries on polling.
func (s *Session) probe(conn *websocket.Conn) bool {
	cfg := &s.srv.cfg
	_ = conn.SetReadDeadline(time.Now().Add(cfg.UpgradeTimeout))
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil || mt != websocket.TextMessage {
			return false
		}
		p, err := DecodeText(data)
		if err != nil {
			return false
		}
		switch {
		case p.Type == Ping && string(p.Data) == "probe":
			_ = conn.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, []byte("3probe")); err != nil {
				return false
			}
			s.mu.Lock()
			// A session that is closing still upgrades, as in the
			// reference: its last packets then go out on the WebSocket.
			if s.state == stateClosed {
				s.mu.Unlock()
				return false
			}
			s.upgrading = true
			s.wakePollLocked() // the pending GET answers with a noop
			s.mu.Unlock()
		case p.Type == Upgrade:
			s.mu.Lock()
			if s.state == stateClosed || !s.upgrading {
				s.mu.Unlock()
				return false
			}
			s.transport = tWebSocket
			s.ws = conn
			s.probing = false
			s.probeConn = nil
			s.upgrading = false
			close(s.upgradeDone)
			s.wakePollLocked()
			s.kickLocked() // flush what polling had not delivered
			s.mu.Unlock()
			_ = conn.SetReadDeadline(time.Time{})
			return true
		default:
			return false
		}
	}
}

// readLoop reads frames until the connection fails or the session ends.
func (s *Session) readLoop(conn *websocket.Conn) {
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			reason := ReasonTransportError
			var ce *websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				reason = ReasonTransportClose
			}
			s.terminate(reason, false)
			return
		}
		var p Packet
		if mt == websocket.BinaryMessage {
			p = BinaryMessage(data)
		} else if p, err = DecodeText(data); err != nil {
			s.terminate(ReasonParseError, false)
			return
		}
		if !s.dispatch([]Packet{p}) {
			return
		}
	}
}

// flushWS writes the queue to the WebSocket until it is empty. At most one
// runs per session (guarded by writing), so gorilla sees a single writer.
func (s *Session) flushWS() {
	timeout := s.srv.cfg.WriteTimeout
	for {
		s.mu.Lock()
		if s.state == stateClosed {
			s.writing = false
			s.mu.Unlock()
			return
		}
		if len(s.queue) == 0 {
			s.writing = false
			closing := s.state == stateClosing
			s.mu.Unlock()
			if closing {
				s.terminate(ReasonForcedClose, false)
			}
			return
		}
		batch := s.takeLocked()
		conn := s.ws
		s.mu.Unlock()

		gap, err := writeFrames(conn, batch, timeout)
		if err != nil {
			s.mu.Lock()
			s.writing = false
			s.mu.Unlock()
			cause := causeLabel(ReasonTransportError)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				cause = causeWriteTimeout // the client stopped reading
			}
			s.end(ReasonTransportError, cause, false)
			return
		}
		if gap {
			// The batch ended with a Gap packet: pause only if something
			// was queued meanwhile (a connection handler's first emit);
			// a packet arriving later needs no spacing.
			s.mu.Lock()
			pending := len(s.queue) > 0
			s.mu.Unlock()
			if pending {
				time.Sleep(writeGap)
			}
		}
	}
}

// typeDigits backs the one-byte type prefix of text frames.
var typeDigits = []byte("0123456")

// writeFrames writes one frame per packet: text frames carry the type
// digit, binary frames the raw bytes. It pauses after a Gap packet that is
// followed by more of the batch, and reports whether the batch ended with
// one.
func writeFrames(conn *websocket.Conn, pkts []Packet, timeout time.Duration) (bool, error) {
	if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return false, err
	}
	for i, p := range pkts {
		mt := websocket.TextMessage
		if p.Binary {
			mt = websocket.BinaryMessage
		}
		fw, err := conn.NextWriter(mt)
		if err != nil {
			return false, err
		}
		if !p.Binary {
			if _, err := fw.Write(typeDigits[p.Type-Open : p.Type-Open+1]); err != nil {
				return false, err
			}
		}
		if _, err := fw.Write(p.Data); err != nil {
			return false, err
		}
		if err := fw.Close(); err != nil {
			return false, err
		}
		if p.Gap {
			if i == len(pkts)-1 {
				return true, nil
			}
			time.Sleep(writeGap)
			if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}
