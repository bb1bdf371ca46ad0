package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtcmesh/rtcmesh/gateway/sio"
	"github.com/rtcmesh/rtcmesh/internal/metrics"
	"github.com/rtcmesh/rtcmesh/shared"
)

// registerHandlers wires the rtc.io events on a namespace.
func (g *Gateway) registerHandlers(ns *sio.Namespace) {
	g.useAuth(ns)
	ns.OnConnect(g.onConnect)
	ns.OnDisconnect(g.onDisconnect)
	on := func(event string, fn func(*client, *sio.Event)) {
		ns.On(event, g.withClient(g.m.events.With(event), fn))
	}
	on(shared.EventJoinRoom, g.onJoinRoom)
	on(shared.EventCheckRoom, g.onCheckRoom)
	on(shared.EventLeaveRoom, g.onLeaveRoom)
	on(shared.EventMediaState, g.onMediaState)
	on(shared.EventRTCMessage, g.onRTCMessage)
	on(shared.EventAskICE, g.onAskICE)
	for _, ev := range g.cfg.BroadcastEvents {
		on(ev, g.onBroadcast)
	}
	// Any other event is counted and ignored, as the reference server does.
	ns.OnAny(g.withClient(g.m.events.With("other"), func(*client, *sio.Event) {}))
}

// withClient resolves the socket's client and counts the event on its
// counter, resolved once at registration (the label stays bounded).
func (g *Gateway) withClient(count *metrics.Counter, fn func(*client, *sio.Event)) sio.EventHandler {
	return func(s *sio.Socket, e *sio.Event) {
		c := g.clients.get(s.ID())
		if c == nil {
			return
		}
		count.Inc()
		fn(c, e)
	}
}

func (g *Gateway) onConnect(s *sio.Socket) {
	var userID string
	if id, ok := s.Data().(Identity); ok {
		userID = id.UserID
	}
	c := newClient(g, s, userID)
	g.clients.put(c)
	// The subscription is sent before any command of this socket on the
	// same connection, so the server knows it before the room service can
	// answer.
	sub, err := g.nc.ChanSubscribe(shared.Sock(s.ID()), g.shardFor(s.ID()).ch)
	if err != nil {
		g.log.Warn("gateway: cannot subscribe for socket; closing it", shared.KeySID, s.ID(), shared.KeyErr, err)
		g.clients.remove(s.ID())
		s.CloseConn()
		return
	}
	c.mu.Lock()
	c.sub = sub
	c.mu.Unlock()
}

// onDisconnect makes the socket leave every room it asked to join (the
// room service sends #rtcio:peer-left and user-disconnected to the rest),
// then drops its record.
func (g *Gateway) onDisconnect(s *sio.Socket, reason string) {
	c := g.clients.get(s.ID())
	if c == nil {
		return
	}
	g.clients.remove(s.ID())
	rooms, hadRecord, sub := c.close()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	for _, id := range rooms {
		key, err := shared.EscapeRoom(id)
		if err != nil {
			continue
		}
		if err := g.publishCommand(c, key, shared.VerbDisconnect, &shared.Command{Room: id, Reason: shared.ReasonDisconnect}); err != nil {
			g.log.Warn("gateway: disconnect command not queued; the anti-entropy sweep will clean up",
				shared.KeySID, c.sid, shared.KeyRoom, id, shared.KeyErr, err)
		}
	}
	if hadRecord {
		err := g.retry(context.Background(), func(ctx context.Context) error {
			return g.cfg.Registry.DeleteSocket(ctx, c.sid, 0)
		})
		if err != nil {
			g.log.Warn("gateway: delete socket record", shared.KeySID, c.sid, shared.KeyErr, err)
		}
	}
	g.log.Debug("socket disconnected", shared.KeySID, c.sid, "reason", reason, "rooms", len(rooms))
}

// argObject returns the event's first argument as a JSON object.
func argObject(e *sio.Event) (*object, json.RawMessage, bool) {
	if len(e.Args) == 0 || len(e.Attachments) > 0 {
		return nil, nil, false
	}
	obj, err := parseObject(e.Args[0])
	if err != nil {
		return nil, nil, false
	}
	return obj, e.Args[0], true
}

// roomArg validates the roomId member: a non-empty string of at most
// shared.MaxRoomIDBytes bytes. raw is the roomId as sent (for errors).
func roomArg(obj *object) (id string, key shared.RoomKey, raw json.RawMessage, ok bool) {
	raw = json.RawMessage("null")
	if obj == nil {
		return "", "", raw, false
	}
	if v, present := obj.get("roomId"); present {
		raw = v
	}
	id, _, isString := obj.str("roomId")
	if !isString {
		return "", "", raw, false
	}
	key, err := shared.EscapeRoom(id)
	if err != nil {
		return "", "", raw, false
	}
	return id, key, raw, true
}

func (g *Gateway) joinError(c *client, reason string, roomID json.RawMessage) {
	if roomID == nil {
		roomID = json.RawMessage("null")
	}
	payload := struct {
		Reason string          `json:"reason"`
		RoomID json.RawMessage `json:"roomId"`
	}{reason, roomID}
	_ = c.sock.Emit(shared.EventJoinError, payload)
}

// sendError emits {code, event, roomId?, message?}.
func (g *Gateway) sendError(c *client, code, event, roomID string) {
	payload := struct {
		Code   string `json:"code"`
		Event  string `json:"event"`
		RoomID string `json:"roomId,omitempty"`
	}{code, event, roomID}
	_ = c.sock.Emit(shared.EventError, payload)
}

// limited applies the per-socket rate limit; a dropped event is reported
// to the client at most once a second.
func (g *Gateway) limited(c *client, room bool, event string) bool {
	now := time.Now()
	if c.allow(room, now) {
		return false
	}
	g.m.rateLimited.Inc()
	if c.shouldReportLimit(now) {
		g.sendError(c, shared.ErrRateLimited, event, "")
	}
	return true
}

func (g *Gateway) onJoinRoom(c *client, e *sio.Event) {
	obj, _, _ := argObject(e)
	id, key, raw, ok := roomArg(obj)
	if !ok {
		g.joinError(c, shared.JoinInvalidRoom, raw)
		return
	}
	var name *string
	if n := identity(c).Name; n != "" {
		name = &n // the token's name claim wins over the client's
	} else if n, present, isString := obj.str("name"); present {
		if !isString || len(n) > shared.MaxNameBytes {
			g.joinError(c, shared.JoinInvalidName, raw)
			return
		}
		name = &n
	}
	password, _, _ := obj.str("password")
	if g.limited(c, true, e.Name) {
		return
	}
	if !g.roomAllowed(c, id) {
		g.joinError(c, shared.JoinForbidden, raw)
		return
	}
	record, err := c.addRoom(key, id, g.cfg.MaxRoomsPerSocket)
	switch {
	case errors.Is(err, errTooManyRooms):
		g.joinError(c, shared.JoinForbidden, raw)
		return
	case err != nil:
		return
	}
	if record != nil {
		// The record is written before the join is queued: if this gateway
		// dies in between, the reaper still finds the socket.
		rec := shared.SocketRecord{SID: c.sid, Gateway: g.ID(), UserID: c.userID, Rooms: record, Connected: time.Now().UTC()}
		if err := g.retry(context.Background(), func(ctx context.Context) error { return g.cfg.Registry.PutSocket(ctx, rec) }); err != nil {
			c.dropRecordRoom(key, id)
			g.log.Warn("gateway: cannot record socket", shared.KeySID, c.sid, shared.KeyErr, err)
			g.joinError(c, shared.JoinUnavailable, raw)
			return
		}
	}
	if err := g.publishCommand(c, key, shared.VerbJoin, &shared.Command{Room: id, Name: name, Password: password}); err != nil {
		g.joinError(c, shared.JoinUnavailable, raw)
	}
}

func (g *Gateway) onCheckRoom(c *client, e *sio.Event) {
	obj, _, _ := argObject(e)
	id, key, raw, ok := roomArg(obj)
	if !ok {
		g.joinError(c, shared.JoinInvalidRoom, raw)
		return
	}
	if g.limited(c, true, e.Name) {
		return
	}
	if !g.roomAllowed(c, id) {
		g.joinError(c, shared.JoinForbidden, raw)
		return
	}
	password, _, _ := obj.str("password")
	if err := g.publishCommand(c, key, shared.VerbCheck, &shared.Command{Room: id, Password: password}); err != nil {
		g.joinError(c, shared.JoinUnavailable, raw)
	}
}

func (g *Gateway) onLeaveRoom(c *client, e *sio.Event) {
	obj, _, _ := argObject(e)
	id, key, _, ok := roomArg(obj)
	if !ok {
		g.sendError(c, shared.ErrInvalidPayload, e.Name, "")
		return
	}
	if !c.inRoom(key) {
		return // not a member: nothing to leave
	}
	if g.limited(c, true, e.Name) {
		return
	}
	c.leaveRoom(key)
	if err := g.publishCommand(c, key, shared.VerbLeave, &shared.Command{Room: id}); err != nil {
		g.sendError(c, shared.ErrUnavailable, e.Name, id)
	}
}

// roomEvent validates a room-scoped event from a member: an object with a
// roomId the socket joined, within the size limit.
func (g *Gateway) roomEvent(c *client, e *sio.Event) (*object, string, shared.RoomKey, bool) {
	obj, raw, _ := argObject(e)
	id, key, _, ok := roomArg(obj)
	switch {
	case !ok:
		g.sendError(c, shared.ErrInvalidPayload, e.Name, "")
	case len(raw) > g.cfg.MaxEventBytes:
		g.sendError(c, shared.ErrTooLarge, e.Name, id)
	case !c.inRoom(key):
		g.sendError(c, shared.ErrNotMember, e.Name, id)
	case g.limited(c, true, e.Name):
	default:
		return obj, id, key, true
	}
	return nil, "", "", false
}

// onMediaState relays {roomId, mic, cam} to the rest of the room with the
// sender's id stamped; the room service keeps it when both flags are
// booleans.
func (g *Gateway) onMediaState(c *client, e *sio.Event) {
	obj, id, key, ok := g.roomEvent(c, e)
	if !ok {
		return
	}
	cmd := &shared.Command{Room: id}
	mic, micOK := obj.boolean("mic")
	cam, camOK := obj.boolean("cam")
	if micOK && camOK {
		cmd.Mic, cmd.Cam = mic, cam
	}
	obj.stamp("id", jsonString(c.sid))
	cmd.Data = obj.encode(nil)
	if err := g.publishCommand(c, key, shared.VerbMedia, cmd); err != nil {
		g.sendError(c, shared.ErrUnavailable, e.Name, id)
	}
}

// onBroadcast relays a configured room event verbatim to the rest of the
// room.
func (g *Gateway) onBroadcast(c *client, e *sio.Event) {
	_, id, key, ok := g.roomEvent(c, e)
	if !ok {
		return
	}
	cmd := &shared.Command{Room: id, Event: e.Name, Data: []byte(e.Args[0])}
	if err := g.publishCommand(c, key, shared.VerbBroadcast, cmd); err != nil {
		g.sendError(c, shared.ErrUnavailable, e.Name, id)
	}
}

// onRTCMessage relays {source, target, data} straight to sock.<target>:
// source is stamped with the sender's id, everything else is passed on
// byte for byte, and only a socket that shares a room with the sender (or
// has messaged it) may be the target. Anything else is dropped and
// counted. One connection publishes a socket's messages in order, so each
// (source, target) pair keeps its order.
func (g *Gateway) onRTCMessage(c *client, e *sio.Event) {
	if g.limited(c, false, e.Name) {
		return
	}
	obj, _, ok := argObject(e)
	if !ok {
		g.m.relay.With("invalid").Inc()
		return
	}
	target, _, isString := obj.str("target")
	switch {
	case !isString || !shared.ValidSocketID(target):
		g.m.relay.With("invalid").Inc()
		return
	case target == c.sid:
		g.m.relay.With("self").Inc()
		return
	case !c.canMessage(target):
		g.m.relay.With("not_peer").Inc()
		return
	}
	obj.stamp("source", jsonString(c.sid))
	payload := append([]byte(`["#rtcio:message",`), obj.encode(nil)...)
	payload = append(payload, ']')
	msg := &nats.Msg{Subject: shared.Sock(target), Data: payload, Header: nats.Header{shared.HeaderFrom: []string{c.sid}}}
	if err := g.nc.PublishMsg(msg); err != nil {
		g.m.relay.With("failed").Inc()
		return
	}
	g.m.relay.With("sent").Inc()
}

// onAskICE acknowledges with {iceServers}.
func (g *Gateway) onAskICE(c *client, e *sio.Event) {
	if !e.HasAck() {
		return
	}
	servers := iceServers(g.cfg.TURNURLs, g.cfg.TURNSecret, g.cfg.TURNTTL, c.userID, time.Now())
	_ = e.Ack(struct {
		ICEServers []iceServer `json:"iceServers"`
	}{servers})
}
