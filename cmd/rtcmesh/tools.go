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
			Flags: []cli.Flag{
				natsURLFlag(true),
				&cli.StringFlag{Name: "room", EnvVars: []string{"RTCMESH_ROOM"}, Usage: "only events of this room (its original id)"},
				&cli.BoolFlag{Name: "from-start", EnvVars: []string{"RTCMESH_FROM_START"}, Usage: "replay retained events before following new ones"},
			},
			Action: func(c *cli.Context) error {
				nc, err := natsclient.Connect(natsclient.Options{URL: c.String("nats"), Name: "rtcmesh-presence-watch", Logger: slog.Default(), ConnectTimeout: 5 * time.Second})
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
	bind := func(c *cli.Context, url string) (*presence.Store, func(), error) {
		if url == "" {
			return nil, nil, errors.New("--nats is required")
		}
		nc, err := natsclient.Connect(natsclient.Options{URL: url, Name: "rtcmesh-rooms", Logger: slog.Default(), ConnectTimeout: 5 * time.Second})
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
				Flags: []cli.Flag{natsURLFlag(true), jsonFlag},
				Action: func(c *cli.Context) error {
					st, done, err := bind(c, c.String("nats"))
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
				Flags:     []cli.Flag{natsURLFlag(false), jsonFlag},
				Action: func(c *cli.Context) error {
					// `rooms show ROOM --nats URL` puts flags after the room,
					// where urfave/cli stops parsing them; take them from there.
					room, url, asJSON, err := showArgs(c.Args().Slice(), c.String("nats"), c.Bool("json"))
					if err != nil {
						return err
					}
					st, done, err := bind(c, url)
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

// showArgs parses ROOM and any --nats/--json given after it.
func showArgs(args []string, url string, asJSON bool) (string, string, bool, error) {
	const usage = "usage: rtcmesh rooms show ROOM --nats URL [--json]"
	var room string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--nats" || a == "-nats":
			if i+1 >= len(args) {
				return "", "", false, errors.New(usage)
			}
			url = args[i+1]
			i++
		case strings.HasPrefix(a, "--nats="):
			url = strings.TrimPrefix(a, "--nats=")
		case a == "--json":
			asJSON = true
		case room == "" && !strings.HasPrefix(a, "--"):
			room = a
		default:
			return "", "", false, errors.New(usage)
		}
	}
	if room == "" {
		return "", "", false, errors.New(usage)
	}
	return room, url, asJSON, nil
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
