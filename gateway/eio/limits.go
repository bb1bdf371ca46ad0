package eio

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gorilla/websocket"
)

// Counters receive counts by reason. Nil functions are skipped; the
// others must be quick and safe for concurrent use (a metrics counter).
type Counters struct {
	// Refused counts handshakes refused by admission
	// (RefusedMaxConnections, RefusedMaxPerIP).
	Refused func(reason string)
	// Closed counts ended sessions by cause: the close reason in
	// snake_case ("ping_timeout", "slow_client", ...), with
	// "write_timeout" split out of transport errors.
	Closed func(cause string)
}

func (c Counters) refused(reason string) {
	if c.Refused != nil {
		c.Refused(reason)
	}
}

func (c Counters) closed(cause string) {
	if c.Closed != nil {
		c.Closed(cause)
	}
}

// causeWriteTimeout labels sessions closed because a write to the client
// made no progress within WriteTimeout: a reader slower than its own
// traffic.
const causeWriteTimeout = "write_timeout"

// causeLabel turns a close reason into a metric label.
func causeLabel(reason string) string { return strings.ReplaceAll(reason, " ", "_") }

// PacketOverhead is what each queued packet costs on top of its data in
// the MaxQueuedBytes budget: the slice header, the packet struct and the
// allocator's rounding. It keeps a flood of tiny packets from pinning far
// more memory than its byte count suggests.
const PacketOverhead = 64

// closeFrame is the WebSocket close frame for a reason. Ends the client or
// the application asked for are normal closures; the rest name the cause
// with 1008 (policy violation), so a client (or its operator) can see why
// it was cut off.
func closeFrame(reason string) []byte {
	switch reason {
	case ReasonTransportClose, ReasonForcedClose:
		return websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	case ReasonServerShutdown:
		return websocket.FormatCloseMessage(websocket.CloseGoingAway, reason)
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	return websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason)
}

// Bounds of what a session keeps of its opening request after
// TrimRequest.
const (
	maxKeptHeader = 256  // bytes of User-Agent and of Origin
	maxKeptQuery  = 1024 // bytes of query keys and values together
)

// keptHeaders are the request headers kept after TrimRequest.
var keptHeaders = []string{"User-Agent", "Origin"}

// TrimRequest replaces the session's request info with a bounded extract:
// the remote address, host (at most 256 bytes), User-Agent and Origin (at
// most 256 bytes each), and query values up to 1 KiB in total, minus the
// Engine.IO ones (EIO, transport, sid, t). Socket.IO calls it once the
// first namespace CONNECT has been handled, so a client's headers (up to
// the HTTP server's header limit) are not kept for the connection's life.
func (s *Session) TrimRequest() {
	old := s.info.Load()
	if old == nil || old.trimmed {
		return
	}
	s.info.Store(trimRequest(old))
}

func trimRequest(in *RequestInfo) *RequestInfo {
	out := &RequestInfo{
		RemoteAddr: clip(in.RemoteAddr, maxKeptHeader),
		Host:       clip(in.Host, maxKeptHeader),
		Secure:     in.Secure,
		Time:       in.Time,
		addr:       in.addr,
		trimmed:    true,
		Header:     http.Header{},
		Query:      url.Values{},
	}
	for _, k := range keptHeaders {
		if v := in.Header.Get(k); v != "" {
			out.Header[k] = []string{clip(v, maxKeptHeader)}
		}
	}
	budget := maxKeptQuery
	keys := make([]string, 0, len(in.Query))
	for k := range in.Query {
		keys = append(keys, k)
	}
	sort.Strings(keys) // which values fit the budget must not be random
	for _, k := range keys {
		vs := in.Query[k]
		switch k {
		case "EIO", "transport", "sid", "t":
			continue
		}
		for _, v := range vs {
			if budget -= len(k) + len(v); budget < 0 {
				return out
			}
			out.Query[strings.Clone(k)] = append(out.Query[k], strings.Clone(v))
		}
	}
	return out
}

// clip returns at most n bytes of v, copied so that it does not pin the
// request's memory.
func clip(v string, n int) string {
	if len(v) > n {
		v = v[:n]
	}
	return strings.Clone(v)
}
