package mesh_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rtcmesh/rtcmesh/internal/meshtest"
	"github.com/rtcmesh/rtcmesh/internal/siotest"
)

// rawClient is a Socket.IO client that writes frames exactly as given,
// binary attachments included (siotest can only send text events). It
// records events like siotest and answers pings.
type rawClient struct {
	t    *testing.T
	conn *websocket.Conn
	id   string

	wmu sync.Mutex

	mu     sync.Mutex
	evs    []siotest.Event
	closed bool
	done   chan struct{}
}

// dialRaw connects to gateway gw and joins namespace "/".
func dialRaw(t *testing.T, m *meshtest.Mesh, gw int) *rawClient {
	t.Helper()
	u, err := url.Parse(m.Gateways[gw].URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme, u.Path, u.RawQuery = "ws", "/socket.io/", "EIO=4&transport=websocket"
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(u.String(), nil)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	r := &rawClient{t: t, conn: conn, done: make(chan struct{})}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, open, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("raw: no open packet: %q %v", open, err)
	}
	r.text("40")
	for r.id == "" {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("raw: connect: %v", err)
		}
		if s := string(msg); strings.HasPrefix(s, "40") {
			var body struct{ SID string }
			if err := json.Unmarshal([]byte(s[2:]), &body); err != nil || body.SID == "" {
				t.Fatalf("raw: bad connect reply %q", s)
			}
			r.id = body.SID
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	go r.read()
	t.Cleanup(func() {
		checkClientInvariants(t, r)
		r.Close()
	})
	return r
}

// ID returns the socket id.
func (r *rawClient) ID() string { return r.id }

// Events returns every event received so far.
func (r *rawClient) Events() []siotest.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]siotest.Event(nil), r.evs...)
}

// Take returns and forgets the events received so far.
func (r *rawClient) Take() []siotest.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

// Closed reports whether the connection ended.
func (r *rawClient) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Close closes the connection.
func (r *rawClient) Close() {
	_ = r.conn.Close()
	<-r.done
}

func (r *rawClient) read() {
	defer close(r.done)
	for {
		typ, msg, err := r.conn.ReadMessage()
		if err != nil {
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		s := string(msg)
		switch {
		case s == "2":
			r.write(websocket.TextMessage, []byte("3"))
		case strings.HasPrefix(s, "42"):
			var arr []json.RawMessage
			if json.Unmarshal([]byte(s[2:]), &arr) != nil || len(arr) == 0 {
				continue
			}
			var name string
			_ = json.Unmarshal(arr[0], &name)
			r.mu.Lock()
			r.evs = append(r.evs, siotest.Event{Name: name, Args: arr[1:], At: time.Now()})
			r.mu.Unlock()
		}
	}
}

func (r *rawClient) write(typ int, b []byte) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := r.conn.WriteMessage(typ, b); err != nil {
		r.t.Errorf("raw: write: %v", err)
	}
}

// text sends one text frame.
func (r *rawClient) text(s string) { r.write(websocket.TextMessage, []byte(s)) }

// binary sends one binary frame (an attachment).
func (r *rawClient) binary(b []byte) { r.write(websocket.BinaryMessage, b) }
