// Package eiotest is a raw Engine.IO client for protocol tests: it speaks
// HTTP long-polling and WebSocket frames directly, so tests can send
// exactly the bytes (and races) a real client or a hostile one would.
package eiotest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Client talks to one Engine.IO endpoint, e.g. "http://127.0.0.1:1234/engine.io/".
type Client struct {
	T    testing.TB
	Base string
	HTTP *http.Client
}

// New returns a client for the endpoint at base.
func New(t testing.TB, base string) *Client {
	return &Client{T: t, Base: base, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// URL builds the endpoint URL with the given query (EIO=4 is not implied).
func (c *Client) URL(query string) string { return c.Base + "?" + query }

// Do performs a request and returns the status and body.
func (c *Client) Do(method, query, body string) (int, string) {
	c.T.Helper()
	req, err := http.NewRequest(method, c.URL(query), strings.NewReader(body))
	if err != nil {
		c.T.Fatalf("eiotest: new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("eiotest: %s %s: %v", method, query, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.T.Fatalf("eiotest: read body: %v", err)
	}
	return res.StatusCode, string(b)
}

// Handshake is the decoded open packet.
type Handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// ParseOpen decodes an open packet ("0{...}") and returns its fields and
// its raw key set.
func ParseOpen(t testing.TB, pkt string) (Handshake, map[string]json.RawMessage) {
	t.Helper()
	if !strings.HasPrefix(pkt, "0") {
		t.Fatalf("eiotest: not an open packet: %q", pkt)
	}
	var h Handshake
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(pkt[1:]), &h); err != nil {
		t.Fatalf("eiotest: open packet: %v", err)
	}
	if err := json.Unmarshal([]byte(pkt[1:]), &keys); err != nil {
		t.Fatalf("eiotest: open packet: %v", err)
	}
	return h, keys
}

// Open starts a polling session and returns its sid.
func (c *Client) Open() string {
	c.T.Helper()
	status, body := c.Do(http.MethodGet, "EIO=4&transport=polling", "")
	if status != http.StatusOK {
		c.T.Fatalf("eiotest: handshake: status %d body %q", status, body)
	}
	h, _ := ParseOpen(c.T, body)
	return h.SID
}

// Get long-polls sid.
func (c *Client) Get(sid string) (int, string) {
	c.T.Helper()
	return c.Do(http.MethodGet, "EIO=4&transport=polling&sid="+url.QueryEscape(sid), "")
}

// Post sends a payload for sid.
func (c *Client) Post(sid, payload string) (int, string) {
	c.T.Helper()
	return c.Do(http.MethodPost, "EIO=4&transport=polling&sid="+url.QueryEscape(sid), payload)
}

// WSURL returns the WebSocket URL for query.
func (c *Client) WSURL(query string) string {
	return "ws" + strings.TrimPrefix(c.Base, "http") + "?" + query
}

// Dial opens a WebSocket with the given query. It returns the HTTP status
// of a refused upgrade as an error-free nil connection.
func (c *Client) Dial(query string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(c.WSURL(query), nil)
}

// MustDial opens a WebSocket or fails the test.
func (c *Client) MustDial(query string) *WS {
	c.T.Helper()
	conn, _, err := c.Dial(query)
	if err != nil {
		c.T.Fatalf("eiotest: dial %s: %v", query, err)
	}
	ws := &WS{T: c.T, Conn: conn}
	c.T.Cleanup(func() { _ = conn.Close() })
	return ws
}

// WS is a WebSocket with test helpers.
type WS struct {
	T    testing.TB
	Conn *websocket.Conn
}

// Send writes a text frame.
func (w *WS) Send(s string) {
	w.T.Helper()
	if err := w.Conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		w.T.Fatalf("eiotest: ws send %q: %v", s, err)
	}
}

// SendBinary writes a binary frame.
func (w *WS) SendBinary(b []byte) {
	w.T.Helper()
	if err := w.Conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		w.T.Fatalf("eiotest: ws send binary: %v", err)
	}
}

// Frame is one received WebSocket frame.
type Frame struct {
	Binary bool
	Data   string
}

// Read reads one frame, failing the test after timeout.
func (w *WS) Read(timeout time.Duration) Frame {
	w.T.Helper()
	f, err := w.TryRead(timeout)
	if err != nil {
		w.T.Fatalf("eiotest: ws read: %v", err)
	}
	return f
}

// TryRead reads one frame or returns the read error.
func (w *WS) TryRead(timeout time.Duration) (Frame, error) {
	_ = w.Conn.SetReadDeadline(time.Now().Add(timeout))
	mt, b, err := w.Conn.ReadMessage()
	if err != nil {
		return Frame{}, err
	}
	return Frame{Binary: mt == websocket.BinaryMessage, Data: string(b)}, nil
}

// ReadSkipPings reads the next frame that is not an Engine.IO ping,
// answering pings with pongs.
func (w *WS) ReadSkipPings(timeout time.Duration) Frame {
	w.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := w.Read(time.Until(deadline))
		if !f.Binary && f.Data == "2" {
			w.Send("3")
			continue
		}
		return f
	}
}

// ExpectClosed waits for the server to close the connection, skipping
// any frames still in flight.
func (w *WS) ExpectClosed(timeout time.Duration) {
	w.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if time.Now().After(deadline) {
			w.T.Fatal("eiotest: ws still open")
		}
		if _, err := w.TryRead(time.Until(deadline)); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				w.T.Fatal("eiotest: ws still open (read timed out)")
			}
			return
		}
	}
}
