package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway/conformance"
	"github.com/rtcmesh/rtcmesh/internal/natsclient"
	"github.com/rtcmesh/rtcmesh/presence"
)

func presenceCommand() *cli.Command {
	return &cli.Command{
		Name:  "presence",
		Usage: "follow presence events",
		Subcommands: []*cli.Command{{
			Name:  "watch",
			Usage: "print presence events, one JSON object per line, until interrupted",
			Description: "Events: {type, room, id, name?, userId?, mic?, cam?, reason?, gateway, seq, time} with type\n" +
				"join, leave or media-state. Live by default; --from-start replays the PRESENCE stream first.",
			Flags: flags([]cli.Flag{
				natsURLFlag(true),
				&cli.StringFlag{Name: "room", EnvVars: []string{"RTCMESH_ROOM"}, Usage: "only events of this room (its original id)"},
				&cli.BoolFlag{Name: "from-start", EnvVars: []string{"RTCMESH_FROM_START"}, Usage: "replay retained events before following new ones"},
			}, natsAuthFlags()),
			Action: func(c *cli.Context) error {
				o, err := natsOptions(c, "rtcmesh-presence-watch")
				if err != nil {
					return err
				}
				o.ConnectTimeout = 5 * time.Second
				nc, err := natsclient.Connect(o)
				if err != nil {
					return err
				}
				defer nc.Close()
				out := bufio.NewWriter(os.Stdout)
				defer out.Flush()
				return presence.WatchPresence(c.Context, mustJetStream(nc),
					presence.WatchOptions{Room: c.String("room"), FromStart: c.Bool("from-start")},
					func(event []byte) error {
						out.Write(event)
						out.WriteByte('\n')
						return out.Flush()
					})
			},
		}},
	}
}

func roomsCommand() *cli.Command {
	jsonFlag := &cli.BoolFlag{Name: "json", EnvVars: []string{"RTCMESH_JSON"}, Usage: "print JSON instead of a table"}
	bind := func(c *cli.Context, url string, flag func(string) string) (*presence.Store, func(), error) {
		if url == "" {
			return nil, nil, errors.New("--nats is required")
		}
		auth, err := natsAuth(flag)
		if err != nil {
			return nil, nil, err
		}
		nc, err := natsclient.Connect(natsclient.Options{URL: url, Name: "rtcmesh-rooms", Auth: auth, Logger: slog.Default(), ConnectTimeout: 5 * time.Second})
		if err != nil {
			return nil, nil, err
		}
		st, err := presence.Bind(c.Context, mustJetStream(nc), slog.Default())
		if err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("no rtcmesh state on this NATS server (start a gateway or room service first): %w", err)
		}
		return st, nc.Close, nil
	}
	return &cli.Command{
		Name:  "rooms",
		Usage: "inspect rooms from the rosters in JetStream KV",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list rooms with members",
				Flags: flags([]cli.Flag{natsURLFlag(true), jsonFlag}, natsAuthFlags()),
				Action: func(c *cli.Context) error {
					st, done, err := bind(c, c.String("nats"), c.String)
					if err != nil {
						return err
					}
					defer done()
					rooms, err := st.ListRooms(c.Context)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return json.NewEncoder(os.Stdout).Encode(rooms)
					}
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ROOM\tMEMBERS\tPASSWORD")
					for _, r := range rooms {
						fmt.Fprintf(tw, "%s\t%d\t%v\n", r.Room, r.Members, r.PasswordProtected)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "show",
				Usage:     "show a room's members and media state",
				ArgsUsage: "ROOM",
				Flags:     flags([]cli.Flag{natsURLFlag(false), jsonFlag}, natsAuthFlags()),
				Action: func(c *cli.Context) error {
					// `rooms show ROOM --nats URL` puts flags after the room,
					// where urfave/cli stops parsing them; take them from there.
					room, vals, asJSON, err := showArgs(c.Args().Slice(), c.String, c.Bool("json"))
					if err != nil {
						return err
					}
					st, done, err := bind(c, vals("nats"), vals)
					if err != nil {
						return err
					}
					defer done()
					d, err := st.ShowRoom(c.Context, room)
					if err != nil {
						return err
					}
					if asJSON {
						return json.NewEncoder(os.Stdout).Encode(d)
					}
					fmt.Printf("room %q: %d members, password: %v\n", d.Room, len(d.Members), d.PasswordProtected)
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SID\tNAME\tUSER\tGATEWAY\tJOINED\tMIC\tCAM")
					for _, m := range d.Members {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.SID, deref(m.Name), m.UserID, m.Gateway, m.JoinedAt, flag(m.Mic), flag(m.Cam))
					}
					return tw.Flush()
				},
			},
		},
	}
}

// showArgs parses ROOM and any --nats, NATS credential or --json flag
// given after it. The returned lookup gives those flags' values, falling
// back to flag (the values parsed before ROOM).
func showArgs(args []string, flag func(string) string, asJSON bool) (string, func(string) string, bool, error) {
	const usage = "usage: rtcmesh rooms show ROOM --nats URL [--json] [--nats-creds FILE | --nats-user U --nats-password P | --nats-token T]"
	known := map[string]bool{"nats": true}
	for _, n := range natsAuthNames {
		known[n] = true
	}
	vals := map[string]string{}
	var room string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case strings.HasPrefix(a, "-") && known[name]:
			if !hasValue {
				if i+1 >= len(args) {
					return "", nil, false, errors.New(usage)
				}
				value = args[i+1]
				i++
			}
			vals[name] = value
		case a == "--json":
			asJSON = true
		case room == "" && !strings.HasPrefix(a, "-"):
			room = a
		default:
			return "", nil, false, errors.New(usage)
		}
	}
	if room == "" {
		return "", nil, false, errors.New(usage)
	}
	lookup := func(name string) string {
		if v, ok := vals[name]; ok {
			return v
		}
		return flag(name)
	}
	return room, lookup, asJSON, nil
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func flag(b *bool) string {
	if b == nil {
		return "-"
	}
	if *b {
		return "on"
	}
	return "off"
}

func conformanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "conformance",
		Usage: "serve the fixture for the official Engine.IO and Socket.IO protocol test suites",
		Description: "Engine.IO echo on /engine.io/; Socket.IO on /socket.io/ with namespaces / and /custom;\n" +
			"pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1 s, CORS for any origin.",
		Flags: []cli.Flag{addrFlag(":3000")},
		Action: func(c *cli.Context) error {
			f, err := conformance.New(conformance.Config{Addr: listenAddr(c.String("addr")), Logger: slog.Default()})
			if err != nil {
				return err
			}
			return f.Run(c.Context)
		},
	}
}
