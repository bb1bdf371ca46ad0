package auth

import (
	"encoding/json"
	"errors"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
)

// maxAuthBytes bounds the CONNECT auth payload read for the token: the
// token plus room for a few small extra members.
const maxAuthBytes = MaxTokenBytes + 1024

// TokenFromAuth returns the token member of a CONNECT auth payload
// ({"token": "..."}). A payload without one yields ReasonMissing; one that
// is not an object, or whose token is not a string, ReasonMalformed.
func TokenFromAuth(raw json.RawMessage) (string, error) {
	if len(raw) > maxAuthBytes {
		return "", refuse(ReasonTooLarge, nil)
	}
	var payload struct {
		Token json.RawMessage `json:"token"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		return "", refuse(ReasonMalformed, err)
	}
	if len(payload.Token) == 0 || string(payload.Token) == "null" {
		return "", refuse(ReasonMissing, nil)
	}
	var token string
	if err := json.Unmarshal(payload.Token, &token); err != nil {
		return "", refuse(ReasonMalformed, err)
	}
	if token == "" {
		return "", refuse(ReasonMissing, nil)
	}
	return token, nil
}

// Middleware verifies the handshake's auth.token. On success it stores
// the Identity in Handshake.Data and drops Handshake.Auth, so the token
// is not kept for the socket's lifetime. On failure it calls refused (if
// not nil) with the reason and returns a *sio.ConnectError whose message
// the client sees, e.g. "unauthorized: token expired".
func (v *Verifier) Middleware(refused func(*Error)) sio.Middleware {
	return func(h *sio.Handshake) error {
		token, err := TokenFromAuth(h.Auth)
		var id Identity
		if err == nil {
			id, err = v.Verify(token)
		}
		if err != nil {
			var aerr *Error
			if !errors.As(err, &aerr) {
				aerr = refuse(ReasonMalformed, err)
			}
			if refused != nil {
				refused(aerr)
			}
			return &sio.ConnectError{Message: aerr.Error()}
		}
		h.Auth = nil
		h.Data = id
		return nil
	}
}
