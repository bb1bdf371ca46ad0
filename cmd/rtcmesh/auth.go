package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway/auth"
)

// minSecretBytes is the HS256 secret length below which a warning is
// logged (RFC 7518 §3.2: at least the hash size).
const minSecretBytes = 32

// authFlags configure JWT authentication of Socket.IO connections
// (gateway and dev).
func authFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "jwt-secret", EnvVars: []string{"RTCMESH_JWT_SECRET"},
			Usage: "HS256 secret; every connection then needs a valid JWT in auth.token"},
		&cli.StringFlag{Name: "jwt-public-key", EnvVars: []string{"RTCMESH_JWT_PUBLIC_KEY"},
			Usage: "PEM `FILE` with an RSA (RS256), ECDSA (ES256/384/512) or Ed25519 (EdDSA) public key or certificate; instead of --jwt-secret"},
		&cli.StringFlag{Name: "jwt-audience", EnvVars: []string{"RTCMESH_JWT_AUDIENCE"}, Usage: "when set, tokens must list this aud"},
		&cli.StringFlag{Name: "jwt-issuer", EnvVars: []string{"RTCMESH_JWT_ISSUER"}, Usage: "when set, tokens must have this iss"},
		&cli.DurationFlag{Name: "jwt-leeway", Value: auth.DefaultLeeway, EnvVars: []string{"RTCMESH_JWT_LEEWAY"},
			Usage: "clock skew tolerated on exp and nbf"},
	}
}

// authVerifier builds the verifier from authFlags; nil when no key is
// configured (connections are not authenticated).
func authVerifier(c *cli.Context) (*auth.Verifier, error) {
	secret, keyFile := c.String("jwt-secret"), c.String("jwt-public-key")
	if secret == "" && keyFile == "" {
		if c.String("jwt-audience") != "" || c.String("jwt-issuer") != "" {
			return nil, errors.New("--jwt-audience and --jwt-issuer need --jwt-secret or --jwt-public-key")
		}
		return nil, nil
	}
	if secret != "" && keyFile != "" {
		return nil, errors.New("set only one of --jwt-secret and --jwt-public-key")
	}
	leeway := c.Duration("jwt-leeway")
	switch {
	case leeway < 0:
		return nil, errors.New("--jwt-leeway must not be negative")
	case leeway == 0:
		leeway = -1 // auth.Config: zero means the default, negative none
	}
	cfg := auth.Config{Audience: c.String("jwt-audience"), Issuer: c.String("jwt-issuer"), Leeway: leeway}
	if secret != "" {
		if len(secret) < minSecretBytes {
			slog.Warn("--jwt-secret is short; use at least 32 random bytes", "bytes", len(secret))
		}
		cfg.Secret = []byte(secret)
	} else {
		pemBytes, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("--jwt-public-key: %w", err)
		}
		if cfg.PublicKey, err = auth.ParsePublicKeyPEM(pemBytes); err != nil {
			return nil, fmt.Errorf("--jwt-public-key %s: %w", keyFile, err)
		}
	}
	v, err := auth.New(cfg)
	if err != nil {
		return nil, err
	}
	slog.Info("jwt authentication on", "alg", v.Algorithm(), "audience", cfg.Audience, "issuer", cfg.Issuer,
		"leeway", max(leeway, 0).String())
	return v, nil
}
