package eio

import (
	"errors"
	"net/http"
	"strconv"
)

// Errors returned by Session.Send.
var (
	// ErrClosed means the session is closed or closing.
	ErrClosed = errors.New("eio: session closed")
	// ErrSlow means the outbound queue overflowed; the session was closed.
	ErrSlow = errors.New("eio: client too slow, session closed")
)

// Close reasons passed to SessionHandler.OnClose. They match the reference
// implementation's strings where one exists.
const (
	ReasonTransportClose = "transport close" // the client closed (packet 1 or socket closed)
	ReasonTransportError = "transport error" // I/O error, bad request sequence, oversized frame
	ReasonPingTimeout    = "ping timeout"    // no pong within pingTimeout
	ReasonParseError     = "parse error"     // undecodable packet
	ReasonForcedClose    = "forced close"    // closed by the application
	ReasonServerShutdown = "server shutting down"
	ReasonSlowClient     = "slow client" // outbound queue overflowed
)

// httpError is one of the reference's abortRequest errors.
type httpError struct {
	status  int
	code    int
	message string
}

var (
	errUnknownTransport = httpError{http.StatusBadRequest, 0, "Transport unknown"}
	errUnknownSID       = httpError{http.StatusBadRequest, 1, "Session ID unknown"}
	errBadHandshake     = httpError{http.StatusBadRequest, 2, "Bad handshake method"}
	errBadRequest       = httpError{http.StatusBadRequest, 3, "Bad request"}
	errForbidden        = httpError{http.StatusForbidden, 4, "Forbidden"}
	errUnsupported      = httpError{http.StatusBadRequest, 5, "Unsupported protocol version"}
)

// write sends the JSON error body. Messages are fixed ASCII, so no escaping
// is needed.
func (e httpError) write(w http.ResponseWriter) {
	body := `{"code":` + strconv.Itoa(e.code) + `,"message":"` + e.message + `"}`
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(body))
}
