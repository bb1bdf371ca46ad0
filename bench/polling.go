package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// pollConn is the HTTP long-polling side of a socket.
type pollConn struct {
	url    string // .../socket.io/?EIO=4&transport=polling&sid=...
	ctx    context.Context
	cancel context.CancelFunc
}

// recordSep separates packets in a polling payload.
const recordSep = 0x1e

// get performs one long-poll GET and returns the payload in a pooled
// buffer (the caller puts it back).
func (c *client) get(ctx context.Context, u string, timeout time.Duration) (*bytes.Buffer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	buf := c.getBuf()
	_, err = buf.ReadFrom(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = &httpStatusError{strconv.Itoa(res.StatusCode)}
	}
	if err != nil {
		c.putBuf(buf)
		return nil, err
	}
	return buf, nil
}

// post sends one payload; the server answers "ok".
func (c *client) post(ctx context.Context, u string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	var ok [8]byte
	n, _ := io.ReadFull(res.Body, ok[:])
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(ok[:n]) != "ok" {
		return &httpStatusError{strconv.Itoa(res.StatusCode)}
	}
	return nil
}

// records calls f for each packet of a polling payload until f returns
// an error.
func records(b []byte, f func([]byte) error) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, recordSep)
		if i < 0 {
			i = len(b)
		}
		if err := f(b[:i]); err != nil {
			return err
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return nil
}

// connectPolling does the polling handshake and, for the upgrade
// transport, upgrades to WebSocket the way socket.io-client does: probe
// while a long poll is pending, wait for that poll to end (the server
// answers it with a noop), then send the upgrade packet.
func (c *client) connectPolling(ctx context.Context, s *sock, t *target) error {
	buf, err := c.get(ctx, t.poll, c.timeout)
	if err != nil {
		return err
	}
	first, _, _ := bytes.Cut(buf.Bytes(), []byte{recordSep})
	open, err := parseOpen(first)
	c.putBuf(buf)
	if err != nil {
		return err
	}
	u := t.poll + "&sid=" + url.QueryEscape(open.SID)
	pong := func() error { return c.post(ctx, u, []byte("3")) }
	if err := c.post(ctx, u, []byte("40")); err != nil {
		return err
	}
	for s.sid == "" {
		buf, err := c.get(ctx, u, c.timeout)
		if err != nil {
			return err
		}
		err = records(buf.Bytes(), func(b []byte) error {
			sid, err := connectReply(b, pong)
			if sid != "" {
				s.sid = sid
			}
			return err
		})
		c.putBuf(buf)
		if err != nil {
			return err
		}
	}
	s.pingWait = open.pingWait()
	if c.transport == TransportPolling {
		pctx, cancel := context.WithCancel(context.Background())
		s.poll = &pollConn{url: u, ctx: pctx, cancel: cancel}
		return nil
	}
	if !contains(open.Upgrades, "websocket") {
		return &protoError{"no-websocket-upgrade", fmt.Sprintf("upgrades %v", open.Upgrades)}
	}
	return c.upgrade(ctx, s, t, u, open.SID)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// upgrade moves a connected polling socket to WebSocket.
func (c *client) upgrade(ctx context.Context, s *sock, t *target, pollURL, eioSID string) error {
	type result struct {
		buf *bytes.Buffer
		err error
	}
	pending := make(chan result, 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // owned: upgrade always receives from pending before returning
		buf, err := c.get(pctx, pollURL, c.timeout)
		pending <- result{buf, err}
	}()
	finish := func(err error) error {
		cancel()
		if r := <-pending; r.buf != nil {
			c.putBuf(r.buf)
		}
		return err
	}
	conn, err := c.dialWS(ctx, t, eioSID)
	if err != nil {
		return finish(err)
	}
	fail := func(err error) error {
		conn.Close()
		return finish(err)
	}
	if err := c.writeFrame(conn, "2probe"); err != nil {
		return fail(err)
	}
	b, err := c.readFrame(conn)
	if err != nil {
		return fail(err)
	}
	if pk, err := decode(b); err != nil || pk.kind != pkProbe {
		return fail(&protoError{"bad-probe", fmt.Sprintf("want 3probe, got %.40q", b)})
	}
	// The pending poll must end now, with a noop, or the upgrade stalls.
	var r result
	select {
	case r = <-pending:
	case <-ctx.Done():
		cancel()
		<-pending
		conn.Close()
		return &protoError{"upgrade-stalled", "the pending poll did not end after the probe"}
	}
	if r.err != nil {
		conn.Close()
		return r.err
	}
	pongDue := false
	err = records(r.buf.Bytes(), func(b []byte) error {
		pk, err := decode(b)
		switch {
		case err != nil:
			return &protoError{"malformed-packet", fmt.Sprintf("%.40q", b)}
		case pk.kind == pkPing:
			pongDue = true
		case pk.kind != pkNoop:
			c.viol.inc("unexpected-packet:" + pk.kind.String())
		}
		return nil
	})
	c.putBuf(r.buf)
	if err == nil {
		err = c.writeFrame(conn, "5")
	}
	if err == nil && pongDue {
		err = c.writeFrame(conn, "3")
	}
	if err != nil {
		conn.Close()
		return err
	}
	s.ws = conn
	_ = conn.SetReadDeadline(time.Now().Add(s.pingWait))
	return nil
}

// readPoll is the reader goroutine of a polling socket: one long poll
// after another.
func (c *client) readPoll(s *sock) {
	defer c.wg.Done()
	for {
		buf, err := c.get(s.poll.ctx, s.poll.url, s.pingWait)
		if err != nil {
			c.ended(s, err)
			return
		}
		stop := false
		_ = records(buf.Bytes(), func(b []byte) error {
			if len(b) > 0 && b[0] == 'b' {
				c.viol.inc("unexpected-packet:binary")
				return nil
			}
			stop = stop || c.dispatch(s, b)
			return nil
		})
		c.putBuf(buf)
		if stop {
			s.poll.cancel()
			return
		}
	}
}
