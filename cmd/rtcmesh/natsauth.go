package main

import (
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/internal/natsclient"
)

// natsAuthFlags are the NATS credentials of every command that connects
// to NATS. Give at most one method; natsclient.Auth.Validate says which
// combinations are refused.
func natsAuthFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "nats-creds", EnvVars: []string{"RTCMESH_NATS_CREDS"}, TakesFile: true,
			Usage: "NATS credentials file (user JWT and NKey seed)"},
		&cli.StringFlag{Name: "nats-user", EnvVars: []string{"RTCMESH_NATS_USER"}, Usage: "NATS user (with --nats-password)"},
		&cli.StringFlag{Name: "nats-password", EnvVars: []string{"RTCMESH_NATS_PASSWORD"}, Usage: "NATS password of --nats-user"},
		&cli.StringFlag{Name: "nats-token", EnvVars: []string{"RTCMESH_NATS_TOKEN"}, Usage: "NATS authorization token"},
	}
}

// natsAuthNames are the names of natsAuthFlags.
var natsAuthNames = []string{"nats-creds", "nats-user", "nats-password", "nats-token"}

// natsAuth reads natsAuthFlags through flag (c.String, or a lookup of
// flags parsed by hand) and checks that they are consistent.
func natsAuth(flag func(name string) string) (natsclient.Auth, error) {
	a := natsclient.Auth{
		CredsFile: flag("nats-creds"),
		User:      flag("nats-user"),
		Password:  flag("nats-password"),
		Token:     flag("nats-token"),
	}
	if err := a.Validate(); err != nil {
		return a, fmt.Errorf("--nats-creds, --nats-user/--nats-password, --nats-token: %w", err)
	}
	return a, nil
}

// natsOptions are the client options of a command connecting to --nats.
func natsOptions(c *cli.Context, name string) (natsclient.Options, error) {
	auth, err := natsAuth(c.String)
	if err != nil {
		return natsclient.Options{}, err
	}
	return natsclient.Options{URL: c.String("nats"), Name: name, Auth: auth, Logger: slog.Default()}, nil
}
