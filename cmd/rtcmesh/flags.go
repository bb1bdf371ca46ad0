package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway"
	"github.com/rtcmesh/rtcmesh/gateway/eio"
	"github.com/rtcmesh/rtcmesh/presence"
	"github.com/rtcmesh/rtcmesh/roomsvc"
	"github.com/rtcmesh/rtcmesh/shared"
)

// Flag groups. Every flag also reads an environment variable.

func natsURLFlag(required bool) cli.Flag {
	return &cli.StringFlag{Name: "nats", EnvVars: []string{"RTCMESH_NATS"}, Required: required,
		Usage: "NATS server URL(s), comma-separated (e.g. nats://127.0.0.1:4222)"}
}

// addrFlag is the HTTP listen address; PORT=3001 means ":3001".
func addrFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: "addr", Value: def, EnvVars: []string{"PORT"},
		Usage: "HTTP listen address (host:port, or a bare port as in PORT=3001)"}
}

func listenAddr(v string) string {
	if v != "" && !strings.Contains(v, ":") {
		return ":" + v
	}
	return v
}

func gatewayFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "allowed-origins", Value: "*", EnvVars: []string{"RTCMESH_ALLOWED_ORIGINS"},
			Usage: "comma-separated origins allowed for polling CORS and WebSocket upgrades; * allows any"},
		&cli.DurationFlag{Name: "ping-interval", Value: 25 * time.Second, EnvVars: []string{"RTCMESH_PING_INTERVAL"}, Usage: "Engine.IO heartbeat interval"},
		&cli.DurationFlag{Name: "ping-timeout", Value: 20 * time.Second, EnvVars: []string{"RTCMESH_PING_TIMEOUT"}, Usage: "Engine.IO heartbeat timeout"},
		&cli.Int64Flag{Name: "max-payload", Value: 1000000, EnvVars: []string{"RTCMESH_MAX_PAYLOAD"}, Usage: "largest Engine.IO message or POST body, in bytes"},
		&cli.StringFlag{Name: "gateway-name", Value: "gw", EnvVars: []string{"RTCMESH_GATEWAY_NAME"},
			Usage: "prefix of the gateway id (a random suffix is added at every start)"},
		&cli.DurationFlag{Name: "lease-ttl", Value: 5 * time.Second, EnvVars: []string{"RTCMESH_LEASE_TTL"},
			Usage: "gateway lease TTL: a gateway that dies without a trace loses its sockets after about this long"},
		&cli.StringFlag{Name: "broadcast-events", Value: strings.Join(shared.DefaultRoomBroadcastEvents, ","), EnvVars: []string{"RTCMESH_BROADCAST_EVENTS"},
			Usage: "comma-separated events relayed to the rest of a room (payload must carry roomId)"},
		&cli.IntFlag{Name: "max-event-bytes", Value: 64 << 10, EnvVars: []string{"RTCMESH_MAX_EVENT_BYTES"}, Usage: "largest media-state or broadcast payload"},
		&cli.IntFlag{Name: "max-rooms-per-socket", Value: 16, EnvVars: []string{"RTCMESH_MAX_ROOMS_PER_SOCKET"}, Usage: "rooms one socket may join"},
		&cli.Float64Flag{Name: "room-event-rate", Value: 50, EnvVars: []string{"RTCMESH_ROOM_EVENT_RATE"},
			Usage: "room events per socket per second (bursts of twice that); 0 disables"},
		&cli.Float64Flag{Name: "relay-rate", Value: 0, EnvVars: []string{"RTCMESH_RELAY_RATE"},
			Usage: "#rtcio:message per socket per second (bursts of twice that); 0 disables"},
		&cli.DurationFlag{Name: "command-retry", Value: 8 * time.Second, EnvVars: []string{"RTCMESH_COMMAND_RETRY"},
			Usage: "how long a room command is retried while JetStream is unavailable (e.g. electing a leader)"},
		&cli.StringFlag{Name: "turn-secret", EnvVars: []string{"RTCMESH_TURN_SECRET"}, Usage: "coturn static-auth-secret; ask-ice then returns REST credentials"},
		&cli.StringFlag{Name: "turn-urls", EnvVars: []string{"RTCMESH_TURN_URLS"}, Usage: "comma-separated stun:/turn:/turns: URLs returned by ask-ice"},
		&cli.DurationFlag{Name: "turn-ttl", Value: 10 * time.Minute, EnvVars: []string{"RTCMESH_TURN_TTL"}, Usage: "lifetime of TURN credentials"},
		&cli.BoolFlag{Name: "no-demo", EnvVars: []string{"RTCMESH_NO_DEMO"}, Usage: "do not serve the demo call page at /"},
		&cli.IntFlag{Name: "max-connections", Value: defaultMaxConnections, EnvVars: []string{"RTCMESH_MAX_CONNECTIONS"},
			Usage: "most Engine.IO sessions this gateway holds; more handshakes get HTTP 503; 0 disables"},
		&cli.IntFlag{Name: "max-connections-per-ip", Value: defaultMaxConnectionsPerIP, EnvVars: []string{"RTCMESH_MAX_CONNECTIONS_PER_IP"},
			Usage: "most Engine.IO sessions per client address (IPv6: per /64); more get HTTP 429; 0 disables"},
		&cli.StringFlag{Name: "trusted-proxies", EnvVars: []string{"RTCMESH_TRUSTED_PROXIES"},
			Usage: "comma-separated CIDRs of proxies whose X-Forwarded-For names the client (empty: the TCP peer is the client)"},
	}
}

// Connection caps. 100,000 is DESIGN.md's target for one machine: at the
// gateway's ~5 KB per idle socket that is about 0.5 GB, and the cap turns
// a reconnect storm beyond it (another gateway died) into clean 503s
// instead of memory exhaustion. 256 per address leaves room for a large
// office or carrier NAT, while one host cannot take the gateway's
// capacity alone; deployments behind a proxy must set --trusted-proxies,
// or every client counts as the proxy's address.
const (
	defaultMaxConnections      = 100000
	defaultMaxConnectionsPerIP = 256
)

func roomsvcFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "room-cap", Value: 50, EnvVars: []string{"RTCMESH_ROOM_CAP"}, Usage: "most members a room may have"},
		&cli.DurationFlag{Name: "pinned-ttl", Value: 3 * time.Second, EnvVars: []string{"RTCMESH_PINNED_TTL"},
			Usage: "how long a partition waits for a silent replica before another takes it over"},
		&cli.DurationFlag{Name: "sweep-interval", Value: 30 * time.Second, EnvVars: []string{"RTCMESH_SWEEP_INTERVAL"},
			Usage: "period of the roster anti-entropy pass"},
		&cli.DurationFlag{Name: "grace", Aliases: []string{"departure-grace"}, Value: 5 * time.Second, EnvVars: []string{"RTCMESH_GRACE"},
			Usage: "how long a dropped socket or a silent gateway's socket may come back before user-disconnected (0: no grace)"},
		&cli.DurationFlag{Name: "suspect-after", Value: time.Second, EnvVars: []string{"RTCMESH_SUSPECT_AFTER"},
			Usage: "heartbeat silence after which a gateway is probed and its sockets get #rtcio:peer-left"},
	}
}

func provisionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "replicas", Value: 1, EnvVars: []string{"RTCMESH_REPLICAS"}, Usage: "JetStream replicas for streams and buckets (3 on a 3-node cluster)"},
		&cli.DurationFlag{Name: "presence-max-age", Value: 24 * time.Hour, EnvVars: []string{"RTCMESH_PRESENCE_MAX_AGE"}, Usage: "how long presence events stay replayable"},
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func gatewayConfig(c *cli.Context) (gateway.Config, error) {
	if c.Duration("ping-interval") <= 0 || c.Duration("ping-timeout") <= 0 {
		return gateway.Config{}, fmt.Errorf("--ping-interval and --ping-timeout must be positive")
	}
	if c.Int64("max-payload") < 1024 {
		return gateway.Config{}, fmt.Errorf("--max-payload must be at least 1024 bytes")
	}
	verifier, err := authVerifier(c)
	if err != nil {
		return gateway.Config{}, err
	}
	if c.Int("max-connections") < 0 || c.Int("max-connections-per-ip") < 0 {
		return gateway.Config{}, fmt.Errorf("--max-connections and --max-connections-per-ip must not be negative")
	}
	proxies, err := eio.ParseTrustedProxies(splitList(c.String("trusted-proxies")))
	if err != nil {
		return gateway.Config{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return gateway.Config{
		Addr: listenAddr(c.String("addr")),
		Name: c.String("gateway-name"),
		Engine: eio.Config{
			PingInterval:        c.Duration("ping-interval"),
			PingTimeout:         c.Duration("ping-timeout"),
			MaxPayload:          c.Int64("max-payload"),
			AllowedOrigins:      splitList(c.String("allowed-origins")),
			MaxConnections:      c.Int("max-connections"),
			MaxConnectionsPerIP: c.Int("max-connections-per-ip"),
			TrustedProxies:      proxies,
		},
		LeaseTTL:          c.Duration("lease-ttl"),
		BroadcastEvents:   splitList(c.String("broadcast-events")),
		MaxEventBytes:     c.Int("max-event-bytes"),
		MaxRoomsPerSocket: c.Int("max-rooms-per-socket"),
		RoomEventRate:     rate(c.Float64("room-event-rate")),
		RelayRate:         c.Float64("relay-rate"),
		CommandRetry:      c.Duration("command-retry"),
		TURNSecret:        c.String("turn-secret"),
		TURNURLs:          splitList(c.String("turn-urls")),
		TURNTTL:           c.Duration("turn-ttl"),
		DisableDemo:       c.Bool("no-demo"),
		Auth:              verifier,
	}, nil
}

// rate maps the CLI's "0 disables" onto gateway.Config's "negative
// disables" (where zero means the default).
func rate(v float64) float64 {
	if v <= 0 {
		return -1
	}
	return v
}

func roomsvcConfig(c *cli.Context) roomsvc.Config {
	return roomsvc.Config{
		RoomCap:       c.Int("room-cap"),
		PinnedTTL:     c.Duration("pinned-ttl"),
		SweepInterval: c.Duration("sweep-interval"),
		Grace:         graceFlag(c),
		SuspectAfter:  c.Duration("suspect-after"),
	}
}

// graceFlag maps --grace 0 to "no grace" (roomsvc.Config reads 0 as the
// default).
func graceFlag(c *cli.Context) time.Duration {
	if g := c.Duration("grace"); g > 0 {
		return g
	}
	return -1
}

func provisionConfig(c *cli.Context) presence.Config {
	return presence.Config{Replicas: c.Int("replicas"), PresenceMaxAge: c.Duration("presence-max-age")}
}

func flags(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
