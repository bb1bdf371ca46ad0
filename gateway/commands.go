package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/shared"
)

// publishCommand stores a room command in the ROOMCMD stream and waits for
// JetStream's acknowledgement, retrying while the stream has no leader
// (a NATS node died and the cluster is electing). It runs on the socket's
// own goroutine, so the socket's later events wait behind it and its
// commands keep their order. Retries reuse the message id, so a command
// that was stored after all is not stored twice.
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
	err = g.retry(context.Background(), func(ctx context.Context) error {
		_, err := g.js.PublishMsg(ctx, msg)
		return err
	})
	if err != nil {
		g.m.commands.With("failed").Inc()
		g.log.Warn("gateway: room command not stored", "verb", verb, shared.KeySID, c.sid, shared.KeyRoom, cmd.Room, shared.KeyErr, err)
		return err
	}
	g.m.commands.With("stored").Inc()
	return nil
}

// retry runs op until it succeeds or the retry budget is spent. Every
// failure is treated as transient: JetStream answers "no responders" or
// times out while it elects a leader, and the permanent errors (payload
// too large) cannot happen for the bounded messages a gateway writes.
func (g *Gateway) retry(ctx context.Context, op func(context.Context) error) error {
	deadline := time.Now().Add(g.cfg.CommandRetry)
	delay := 50 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := op(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrConnectionClosed) || g.nc.IsClosed() ||
			time.Now().Add(delay).After(deadline) {
			return err
		}
		g.m.retries.Inc()
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
