package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/rtcmesh/rtcmesh/gateway/auth"
)

// runAuthFlags parses args with authFlags and returns authVerifier's result.
func runAuthFlags(t *testing.T, args ...string) (*auth.Verifier, error) {
	t.Helper()
	var (
		v    *auth.Verifier
		verr error
	)
	app := &cli.App{Flags: authFlags(), Action: func(c *cli.Context) error {
		v, verr = authVerifier(c)
		return nil
	}}
	if err := app.Run(append([]string{"rtcmesh"}, args...)); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return v, verr
}

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), strings.ReplaceAll(strings.ToLower(typ), " ", "-")+".pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthFlags(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	privDER, _ := x509.MarshalECPrivateKey(key)
	pubFile := writePEM(t, "PUBLIC KEY", pubDER)
	privFile := writePEM(t, "EC PRIVATE KEY", privDER)

	cases := []struct {
		args    []string
		alg     string // "" with wantErr "": no verifier
		wantErr string
	}{
		{args: nil},
		{args: []string{"--jwt-secret", "0123456789abcdef0123456789abcdef"}, alg: "HS256"},
		{args: []string{"--jwt-public-key", pubFile, "--jwt-audience", "a", "--jwt-issuer", "i"}, alg: "ES256"},
		{args: []string{"--jwt-secret", "s", "--jwt-public-key", pubFile}, wantErr: "only one"},
		{args: []string{"--jwt-audience", "a"}, wantErr: "need --jwt-secret"},
		{args: []string{"--jwt-public-key", filepath.Join(t.TempDir(), "missing.pem")}, wantErr: "--jwt-public-key"},
		{args: []string{"--jwt-public-key", privFile}, wantErr: "not a public key"},
		{args: []string{"--jwt-secret", "s", "--jwt-leeway", "-1s"}, wantErr: "negative"},
	}
	for _, tc := range cases {
		v, err := runAuthFlags(t, tc.args...)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.alg == "" && v != nil:
			t.Errorf("%v: a verifier without a key", tc.args)
		case tc.alg != "" && (v == nil || v.Algorithm() != tc.alg):
			t.Errorf("%v: verifier %v, want %s", tc.args, v, tc.alg)
		}
	}

	// rtcmesh token --key signs what --jwt-public-key verifies.
	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	if err := app.Run([]string{"rtcmesh", "token", "--key", privFile, "--sub", "u1", "--rooms", "a,b-*", "--aud", "a", "--iss", "i"}); err != nil {
		t.Fatal(err)
	}
	v, err := runAuthFlags(t, "--jwt-public-key", pubFile, "--jwt-audience", "a", "--jwt-issuer", "i")
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("token from rtcmesh token --key refused: %v", err)
	}
	if id.UserID != "u1" || !id.Rooms.Allows("b-1") || id.Rooms.Allows("c") {
		t.Fatalf("identity = %+v", id)
	}
}
