// Package natsclient opens NATS connections the way every rtcmesh
// component wants them: reconnecting forever, with connection events and
// asynchronous errors (slow consumers, permission denials) logged.
package natsclient

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configures a connection.
type Options struct {
	// URL is a comma-separated list of server URLs. Ignored with Server.
	URL string
	// Server, when set, connects in-process to an embedded server.
	Server *server.Server
	// Name identifies the connection in server monitoring.
	Name   string
	Logger *slog.Logger
	// ConnectTimeout bounds the first connection (default 30s).
	ConnectTimeout time.Duration
}

// Connect opens a connection. The first attempt retries for up to
// ConnectTimeout so that services can start before the NATS cluster is
// fully up.
func Connect(o Options) (*nats.Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "nats-client", "conn", o.Name)
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
	url := o.URL
	if o.Server != nil {
		opts = append(opts, nats.InProcessServer(o.Server))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", url, err)
	}
	if o.Server == nil {
		timeout := o.ConnectTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		deadline := time.Now().Add(timeout)
		for !nc.IsConnected() {
			if time.Now().After(deadline) {
				nc.Close()
				return nil, fmt.Errorf("nats connect %s: not connected after %v", url, timeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nc, nil
}
