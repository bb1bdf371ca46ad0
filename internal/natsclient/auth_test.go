package natsclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtcmesh/rtcmesh/internal/natsserver"
)

func TestAuthValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Auth
		ok   bool
	}{
		{"none", Auth{}, true},
		{"creds", Auth{CredsFile: "x.creds"}, true},
		{"user and password", Auth{User: "u", Password: "p"}, true},
		{"token", Auth{Token: "t"}, true},
		{"user without password", Auth{User: "u"}, false},
		{"password without user", Auth{Password: "p"}, false},
		{"creds and token", Auth{CredsFile: "x.creds", Token: "t"}, false},
		{"user and token", Auth{User: "u", Password: "p", Token: "t"}, false},
		{"creds and user", Auth{CredsFile: "x.creds", User: "u", Password: "p"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.a.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrAuthConfig) {
				t.Fatalf("error %v does not wrap ErrAuthConfig", err)
			}
		})
	}
}

// TestConnectAuth runs a server whose config file requires a user and
// checks that good credentials connect and bad ones fail at once.
func TestConnectAuth(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte(`authorization { users = [ {user: svc, password: s3cret} ] }`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := natsserver.LoadConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := natsserver.Start(context.Background(), natsserver.Config{Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), Base: base, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()

	nc, err := Connect(Options{URL: url, Auth: Auth{User: "svc", Password: "s3cret"}, Logger: quiet})
	if err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	nc.Close()

	for _, a := range []Auth{{User: "svc", Password: "wrong"}, {}, {Token: "nope"}} {
		start := time.Now()
		_, err := Connect(Options{URL: url, Auth: a, Logger: quiet, ConnectTimeout: 20 * time.Second})
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("auth %q: error %v, want ErrAuthFailed", a.Method(), err)
		}
		// It must not wait for ConnectTimeout: a refusal is final.
		if waited := time.Since(start); waited >= 20*time.Second {
			t.Fatalf("auth %q: failed only after the connect timeout (%v)", a.Method(), waited)
		}
	}
	if _, err := Connect(Options{URL: url, Auth: Auth{User: "svc", Password: "p", Token: "t"}}); !errors.Is(err, ErrAuthConfig) {
		t.Fatalf("two methods: %v, want ErrAuthConfig", err)
	}
}
