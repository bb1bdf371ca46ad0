package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// publishCommand queues a room command on the ROOMCMD stream without
// waiting for its acknowledgement; commandFailed handles a failure. The
// commands of one socket leave in order on one connection, so the stream
// stores them in order.
func (g *Gateway) publishCommand(c *client, key shared.RoomKey, verb string, cmd *shared.Command) error {
	cmd.SID = c.sid
	cmd.Gateway = g.ID()
	cmd.UserID = c.userID
	data, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: shared.RoomCmd(key, verb), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, c.msgID())
	if _, err := g.js.PublishMsgAsync(msg); err != nil {
		g.m.commands.With("failed").Inc()
		return err
	}
	g.m.commands.With("sent").Inc()
	return nil
}

// commandFailed runs when JetStream did not store a command. The socket
// is told its request was not taken (join-error or error "unavailable");
// a departure is retried, since nobody is left to ask again.
func (g *Gateway) commandFailed(msg *nats.Msg, err error) {
	g.m.commands.With("failed").Inc()
	verb := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	var cmd shared.Command
	_ = json.Unmarshal(msg.Data, &cmd)
	if verb == shared.VerbDisconnect {
		select {
		case g.retry <- msg:
		default:
			g.log.Warn("gateway: disconnect retry queue full; the anti-entropy sweep will clean up",
				shared.KeySID, cmd.SID, shared.KeyRoom, cmd.Room)
		}
		return
	}
	g.log.Warn("gateway: room command not stored", "verb", verb, shared.KeySID, cmd.SID, shared.KeyErr, err)
	c := g.clients.get(cmd.SID)
	if c == nil {
		return
	}
	switch verb {
	case shared.VerbJoin, shared.VerbCheck:
		g.joinError(c, shared.JoinUnavailable, jsonString(cmd.Room))
	case shared.VerbLeave:
		g.sendError(c, shared.ErrUnavailable, shared.EventLeaveRoom, cmd.Room)
	case shared.VerbMedia:
		g.sendError(c, shared.ErrUnavailable, shared.EventMediaState, cmd.Room)
	case shared.VerbBroadcast:
		g.sendError(c, shared.ErrUnavailable, cmd.Event, cmd.Room)
	}
}

// retryLoop publishes failed disconnect commands again, with the same
// message id, so a command that was stored after all is not doubled.
func (g *Gateway) retryLoop(ctx context.Context) error {
	for {
		var msg *nats.Msg
		select {
		case <-ctx.Done():
			return nil
		case msg = <-g.retry:
		}
		delay := 200 * time.Millisecond
		for attempt := 0; attempt < 8; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := g.js.PublishMsg(cctx, msg)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
		}
	}
}
