package gateway

import (
	"github.com/rtcmesh/rtcmesh/gateway/auth"
	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Identity is what an authentication middleware stores in
// sio.Handshake.Data: a stable user id carried on commands and presence
// events, and the name and rooms a token may impose.
type Identity = auth.Identity

// useAuth installs Config.Auth on the namespace: every CONNECT must carry
// a valid token, and refusals are counted by reason.
func (g *Gateway) useAuth(ns *sio.Namespace) {
	if g.cfg.Auth == nil {
		return
	}
	refused := g.reg.CounterVec("rtcmesh_gateway_auth_refused_total",
		"Socket.IO connections refused by JWT authentication, by reason.", "reason")
	for _, r := range auth.Reasons {
		refused.With(string(r)) // export every reason from the start
	}
	ns.Use(g.cfg.Auth.Middleware(func(err *auth.Error) {
		refused.With(string(err.Reason)).Inc()
		g.log.Debug("connection refused", "reason", string(err.Reason), shared.KeyErr, err.Err)
	}))
}

// identity returns what the socket's token says (the zero Identity, which
// allows every room, without authentication).
func identity(c *client) Identity {
	id, _ := c.sock.Data().(Identity)
	return id
}

// roomAllowed applies the token's rooms claim to a join-room or
// check-room; a refused room gets join-error forbidden.
func (g *Gateway) roomAllowed(c *client, id string) bool {
	return identity(c).Rooms.Allows(id)
}
