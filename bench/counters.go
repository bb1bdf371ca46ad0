package bench

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorilla/websocket"
)

// counters counts occurrences by kind. It takes a lock, so it is for the
// rare paths (violations, errors), never for the per-message ones.
type counters struct {
	mu    sync.Mutex
	m     map[string]int64
	total atomic.Int64
}

func newCounters() *counters { return &counters{m: map[string]int64{}} }

// add counts n occurrences of kind.
func (c *counters) add(kind string, n int64) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.m[kind] += n
	c.mu.Unlock()
	c.total.Add(n)
}

func (c *counters) inc(kind string) { c.add(kind, 1) }

// snapshot copies the counts.
func (c *counters) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

// mergeCounts adds b into a.
func mergeCounts(a, b map[string]int64) {
	for k, v := range b {
		a[k] += v
	}
}

// sumCounts is the total of a count map.
func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// errKind names an error class for the errors-by-kind table: a short,
// bounded vocabulary, never the error text itself.
func errKind(err error) string {
	var hs *httpStatusError
	var ne net.Error
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &hs):
		return "http-" + hs.code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "no-source-port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too-many-files"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, websocket.ErrBadHandshake):
		return "bad-handshake"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "ws-close"
	}
	var pe *protoError
	if errors.As(err, &pe) {
		return pe.kind
	}
	if errors.Is(err, net.ErrClosed) {
		return "closed"
	}
	return "other"
}

// protoError is a handshake that did not follow the protocol; kind names it.
type protoError struct{ kind, detail string }

func (e *protoError) Error() string { return e.kind + ": " + e.detail }

// httpStatusError is an unexpected HTTP status.
type httpStatusError struct{ code string }

func (e *httpStatusError) Error() string { return "http status " + e.code }
