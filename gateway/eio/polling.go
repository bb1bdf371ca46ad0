package eio

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// noopPayload answers a GET that must end without data.
var noopPayload = []Packet{{Type: Noop}}

// closePayload answers a GET whose session was closed by the server.
var closePayload = []Packet{{Type: Close}}

// servePollingHandshake opens a polling session; the response carries the
// open packet (and anything the handler queued while opening).
func (s *Server) servePollingHandshake(w http.ResponseWriter, r *http.Request, info *RequestInfo) {
	sess := s.open(tPolling, info, nil)
	if sess == nil {
		errBadRequest.write(w)
		return
	}
	sess.mu.Lock()
	pkts := sess.takeLocked()
	sess.mu.Unlock()
	writePayload(w, pkts)
}

// preCheckLocked answers requests that cannot be served by this session. It
// returns a non-nil responder when the request was refused.
func (s *Session) preCheckLocked(get bool) func(http.ResponseWriter) {
	switch {
	case s.state == stateClosed:
		if get && s.byClient && !s.tombstoned {
			s.tombstoned = true
			return func(w http.ResponseWriter) { writePayload(w, noopPayload) }
		}
		return errUnknownSID.write
	case s.transport != tPolling:
		return errBadRequest.write // upgraded: polling is over for this sid
	case s.expiredLocked():
		return func(w http.ResponseWriter) {
			s.terminate(ReasonPingTimeout, false)
			errUnknownSID.write(w)
		}
	}
	return nil
}

// servePoll serves a long-polling GET: it answers at once with everything
// queued, or waits until something is queued or the session ends.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if refuse := s.preCheckLocked(true); refuse != nil {
		s.mu.Unlock()
		refuse(w)
		return
	}
	if s.poll != nil {
		// A second concurrent GET is a protocol error: the session is
		// closed, the pending GET gets "1" and this one a 400.
		s.mu.Unlock()
		s.terminate(ReasonTransportError, false)
		errBadRequest.write(w)
		return
	}
	if s.probing {
		done := s.upgradeDone
		s.mu.Unlock()
		waitUpgrade(done, r)
		s.mu.Lock()
		if refuse := s.preCheckLocked(true); refuse != nil {
			s.mu.Unlock()
			refuse(w)
			return
		}
		if s.upgrading {
			s.mu.Unlock()
			writePayload(w, noopPayload)
			return
		}
	}
	for {
		if s.state == stateClosing {
			pkts := s.takeLocked() // ends with the close packet
			if len(pkts) > 1 {
				// Deliver the data first and the close packet in the next
				// response, as the reference does: clients process a
				// payload's close packet at once but its messages a tick
				// later, so a DISCONNECT sharing a payload with the close
				// would be read as a transport failure and reconnected.
				s.queue = pkts[len(pkts)-1:]
				s.mu.Unlock()
				writePayload(w, pkts[:len(pkts)-1])
				return
			}
			s.mu.Unlock()
			writePayload(w, pkts)
			s.terminate(ReasonForcedClose, false)
			return
		}
		if len(s.queue) > 0 {
			pkts := s.takeLocked()
			s.mu.Unlock()
			writePayload(w, pkts)
			return
		}
		wake := make(chan struct{}, 1)
		s.poll = wake
		s.mu.Unlock()

		select {
		case <-wake:
		case <-r.Context().Done():
			// The client abandoned its long poll: the reference treats
			// that as the transport closing.
			s.mu.Lock()
			if s.poll == wake {
				s.poll = nil
			}
			s.mu.Unlock()
			s.terminate(ReasonTransportClose, false)
			return
		}

		s.mu.Lock()
		if s.poll == wake {
			s.poll = nil
		}
		switch {
		case s.state == stateClosed:
			byClient := s.byClient
			s.tombstoned = true // this GET was the one racing the close
			s.mu.Unlock()
			if byClient {
				writePayload(w, noopPayload)
			} else {
				writePayload(w, closePayload)
			}
			return
		case s.upgrading || s.transport != tPolling:
			s.mu.Unlock()
			writePayload(w, noopPayload)
			return
		}
	}
}

// waitUpgrade lets a GET that arrived during an upgrade wait briefly for it
// to complete (see upgradeGrace).
func waitUpgrade(done <-chan struct{}, r *http.Request) {
	t := time.NewTimer(upgradeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-r.Context().Done():
	}
}

// servePost handles the client's packets synchronously, handlers included,
// before answering "ok", so that whatever they queue is visible to the next
// GET.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/octet-stream" {
		// v4 clients always POST text; the reference refuses binary bodies.
		errBadRequest.write(w)
		return
	}
	s.mu.Lock()
	if refuse := s.preCheckLocked(false); refuse != nil {
		s.mu.Unlock()
		refuse(w)
		return
	}
	if s.postBusy {
		s.mu.Unlock()
		s.terminate(ReasonTransportError, false)
		errBadRequest.write(w)
		return
	}
	s.postBusy = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.postBusy = false
		s.mu.Unlock()
	}()

	// Bound how long a client may take to send its body: the session allows
	// one POST at a time, and a trickled body would hold it.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	max := s.srv.cfg.MaxPayload
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		s.terminate(ReasonTransportError, false)
		errBadRequest.write(w)
		return
	}
	if int64(len(body)) > max {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = w.Write([]byte(`{"code":3,"message":"Payload too large"}`))
		return
	}
	pkts, perr := DecodePayload(body)
	// Decoded packets alias the body. Give each its own copy so that a
	// packet the application keeps (a binary packet awaiting attachments,
	// a CONNECT's auth) pins its own bytes, not the whole POST body.
	detach(pkts)
	s.dispatch(pkts)
	if perr != nil {
		s.terminate(ReasonParseError, false)
		errBadRequest.write(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

// detach copies each packet's data out of the buffer it was decoded from.
// Binary records are already decoded into fresh buffers.
func detach(pkts []Packet) {
	for i := range pkts {
		if !pkts[i].Binary && len(pkts[i].Data) > 0 {
			pkts[i].Data = bytes.Clone(pkts[i].Data)
		}
	}
}

// writePayload writes pkts as a polling response body.
func writePayload(w http.ResponseWriter, pkts []Packet) {
	body := AppendPayload(make([]byte, 0, payloadLen(pkts)), pkts)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	// A failed write means the client went away; the heartbeat notices.
	_, _ = w.Write(body)
}
