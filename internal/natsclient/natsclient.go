// Package natsclient opens NATS connections the way every rtcmesh
// component wants them: reconnecting forever, with connection events and
// asynchronous errors (slow consumers, permission denials) logged.
package natsclient

import (
	"errors"
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
	// Auth is the connection's credentials (none by default).
	Auth Auth
}

// Connect opens a connection. The first attempt retries for up to
// ConnectTimeout so that services can start before the NATS cluster is
// fully up; refused credentials fail at once (wrapping ErrAuthFailed).
func Connect(o Options) (*nats.Conn, error) {
	if err := o.Auth.Validate(); err != nil {
		return nil, err
	}
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
	opts = append(opts, o.Auth.options()...)
	url := o.URL
	if o.Server != nil {
		opts = append(opts, nats.InProcessServer(o.Server))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, connectError(url, o.Auth, err)
	}
	if o.Server == nil {
		timeout := o.ConnectTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		deadline := time.Now().Add(timeout)
		for !nc.IsConnected() {
			// nats.go closes the connection when a server refuses the
			// same credentials twice; fail then instead of waiting.
			if last := nc.LastError(); authFailure(last) || nc.IsClosed() {
				nc.Close()
				return nil, connectError(url, o.Auth, last)
			}
			if time.Now().After(deadline) {
				nc.Close()
				return nil, fmt.Errorf("nats connect %s: not connected after %v", url, timeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nc, nil
}

// ErrAuthFailed means the server refused the connection's credentials.
var ErrAuthFailed = errors.New("natsclient: NATS refused the credentials")

// connectError wraps a failed first connection, naming the credentials
// when the server refused them.
func connectError(url string, a Auth, err error) error {
	if authFailure(err) {
		method := a.Method()
		if method == "" {
			method = "no credentials (the server requires some: --nats-creds, --nats-user/--nats-password or --nats-token)"
		}
		return fmt.Errorf("nats connect %s with %s: %w: %w", url, method, ErrAuthFailed, err)
	}
	if err == nil {
		err = nats.ErrConnectionClosed
	}
	return fmt.Errorf("nats connect %s: %w", url, err)
}
