// Package siotest is a small Socket.IO v5 client over WebSocket for Go
// tests: it connects to namespace "/", answers pings, and records every
// event so tests can wait for them in order.
package siotest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Event is a received event.
type Event struct {
	Name string
	Args []json.RawMessage
	// At is when the event was read.
	At time.Time
}

// Arg decodes argument i into v.
func (e Event) Arg(i int, v any) error {
	if i >= len(e.Args) {
		return fmt.Errorf("siotest: event %s has %d args", e.Name, len(e.Args))
	}
	return json.Unmarshal(e.Args[i], v)
}

// Client is a connected socket.
type Client struct {
	conn *websocket.Conn
	id   string
	wmu  sync.Mutex

	mu      sync.Mutex
	cond    *sync.Cond
	events  []Event
	acks    map[int64]chan []json.RawMessage
	nextAck int64
	closed  bool
	err     error
	done    chan struct{}
}

// Dial connects to the Socket.IO endpoint at base (e.g.
// "http://127.0.0.1:3001") and joins "/" with auth (may be nil).
func Dial(base string, auth any) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("siotest: dial: %w", err)
	}
	c := &Client{conn: conn, acks: map[int64]chan []json.RawMessage{}, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, open, err := conn.ReadMessage(); err != nil || len(open) == 0 || open[0] != '0' {
		conn.Close()
		return nil, fmt.Errorf("siotest: no open packet: %v", err)
	}
	connect := "40"
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			conn.Close()
			return nil, err
		}
		connect += string(b)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
		conn.Close()
		return nil, err
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("siotest: connect: %w", err)
		}
		s := string(msg)
		if s == "2" {
			_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if strings.HasPrefix(s, "44") {
			conn.Close()
			return nil, fmt.Errorf("siotest: connect refused: %s", s[2:])
		}
		if !strings.HasPrefix(s, "40") {
			conn.Close()
			return nil, fmt.Errorf("siotest: unexpected %q before connect", s)
		}
		var body struct{ SID string }
		if err := json.Unmarshal([]byte(s[2:]), &body); err != nil || body.SID == "" {
			conn.Close()
			return nil, fmt.Errorf("siotest: bad connect reply %q", s)
		}
		c.id = body.SID
		break
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// ID returns the socket id.
func (c *Client) ID() string { return c.id }

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closed = true
			c.err = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		s := string(msg)
		switch {
		case s == "2":
			c.write("3")
		case strings.HasPrefix(s, "42"):
			var arr []json.RawMessage
			if err := json.Unmarshal([]byte(s[2:]), &arr); err != nil || len(arr) == 0 {
				continue
			}
			var name string
			_ = json.Unmarshal(arr[0], &name)
			c.mu.Lock()
			c.events = append(c.events, Event{Name: name, Args: arr[1:], At: time.Now()})
			c.cond.Broadcast()
			c.mu.Unlock()
		case strings.HasPrefix(s, "43"):
			i := 2
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			id, _ := strconv.ParseInt(s[2:i], 10, 64)
			var arr []json.RawMessage
			_ = json.Unmarshal([]byte(s[i:]), &arr)
			c.mu.Lock()
			ch := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ch != nil {
				ch <- arr
			}
		case strings.HasPrefix(s, "41"):
			c.mu.Lock()
			c.closed = true
			c.err = errors.New("siotest: server disconnected the socket")
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}
}

func (c *Client) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

// Emit sends an event.
func (c *Client) Emit(event string, args ...any) error {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return err
	}
	return c.write("42" + string(b))
}

// EmitRaw sends "42" + payload unchanged.
func (c *Client) EmitRaw(payload string) error { return c.write("42" + payload) }

// EmitWithAck sends an event and waits for its acknowledgement.
func (c *Client) EmitWithAck(timeout time.Duration, event string, args ...any) ([]json.RawMessage, error) {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return nil, err
	}
	ch := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.write("42" + strconv.FormatInt(id, 10) + string(b)); err != nil {
		return nil, err
	}
	select {
	case args := <-ch:
		return args, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("siotest: no ack for %s within %v", event, timeout)
	}
}

// Wait returns the first recorded event named name that was not returned
// before, waiting up to timeout. Events of other names stay recorded.
func (c *Client) Wait(name string, timeout time.Duration) (Event, error) {
	return c.WaitFunc(timeout, func(e Event) bool { return e.Name == name })
}

// WaitFunc returns (and removes) the first recorded event matching match.
func (c *Client) WaitFunc(timeout time.Duration, match func(Event) bool) (Event, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, e := range c.events {
			if match(e) {
				c.events = append(c.events[:i:i], c.events[i+1:]...)
				return e, nil
			}
		}
		if c.closed {
			return Event{}, fmt.Errorf("siotest: closed while waiting: %v", c.err)
		}
		if time.Now().After(deadline) {
			return Event{}, fmt.Errorf("siotest: timed out after %v; have %s", timeout, c.namesLocked())
		}
		c.cond.Wait()
	}
}

// Events returns every recorded event not yet taken, in order.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// Take removes and returns every recorded event.
func (c *Client) Take() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

func (c *Client) namesLocked() string {
	var names []string
	for _, e := range c.events {
		names = append(names, e.Name)
	}
	return "[" + strings.Join(names, " ") + "]"
}

// Closed reports whether the connection ended.
func (c *Client) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close closes the connection abruptly (a transport close for the server).
func (c *Client) Close() {
	_ = c.conn.Close()
	<-c.done
}
