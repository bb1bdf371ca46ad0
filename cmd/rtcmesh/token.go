package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway/auth"
)

// tokenCommand prints a signed JWT for tests and demos.
func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "print a signed JWT for the gateway's --jwt-secret or --jwt-public-key (for tests and demos)",
		Description: "Signs HS256 with --secret, or with the private key in --key (RS256 for RSA, ES256/384/512\n" +
			"for ECDSA, EdDSA for Ed25519). A negative --ttl prints an already expired token.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "secret", EnvVars: []string{"RTCMESH_JWT_SECRET"}, Usage: "HS256 secret"},
			&cli.StringFlag{Name: "key", EnvVars: []string{"RTCMESH_JWT_PRIVATE_KEY"}, Usage: "PEM `FILE` with a private key, instead of --secret"},
			&cli.StringFlag{Name: "sub", Required: true, EnvVars: []string{"RTCMESH_TOKEN_SUB"}, Usage: "subject: the socket's userId"},
			&cli.StringFlag{Name: "rooms", EnvVars: []string{"RTCMESH_TOKEN_ROOMS"},
				Usage: "comma-separated room ids the token allows; a trailing * matches a prefix (team-*); default: every room"},
			&cli.StringFlag{Name: "name", EnvVars: []string{"RTCMESH_TOKEN_NAME"}, Usage: "display name that overrides the one sent in join-room"},
			&cli.StringFlag{Name: "aud", EnvVars: []string{"RTCMESH_JWT_AUDIENCE"}, Usage: "audience (aud)"},
			&cli.StringFlag{Name: "iss", EnvVars: []string{"RTCMESH_JWT_ISSUER"}, Usage: "issuer (iss)"},
			&cli.DurationFlag{Name: "ttl", Value: time.Hour, EnvVars: []string{"RTCMESH_TOKEN_TTL"}, Usage: "lifetime (exp = now + ttl)"},
		},
		Action: func(c *cli.Context) error {
			now := time.Now()
			spec := auth.TokenSpec{
				Subject: c.String("sub"), Name: c.String("name"),
				Audience: c.String("aud"), Issuer: c.String("iss"),
				IssuedAt: now, ExpiresAt: now.Add(c.Duration("ttl")),
			}
			if c.IsSet("rooms") {
				spec.Rooms = splitList(c.String("rooms"))
				if spec.Rooms == nil {
					spec.Rooms = []string{} // --rooms "": no room at all
				}
				if _, err := auth.ParseRooms(spec.Rooms); err != nil {
					return fmt.Errorf("--rooms: %w", err)
				}
			}
			tok, err := signToken(c, spec)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.App.Writer, tok)
			return err
		},
	}
}

func signToken(c *cli.Context, spec auth.TokenSpec) (string, error) {
	secret, keyFile := c.String("secret"), c.String("key")
	switch {
	case secret != "" && keyFile != "":
		return "", errors.New("set only one of --secret and --key")
	case secret != "":
		return auth.SignHS256(spec, []byte(secret))
	case keyFile != "":
		pemBytes, err := os.ReadFile(keyFile)
		if err != nil {
			return "", fmt.Errorf("--key: %w", err)
		}
		key, err := auth.ParsePrivateKeyPEM(pemBytes)
		if err != nil {
			return "", fmt.Errorf("--key %s: %w", keyFile, err)
		}
		return auth.SignWithKey(spec, key)
	}
	return "", errors.New("set --secret or --key")
}
