package natsserver

import (
	"os"
	"path/filepath"
	"testing"
)

func loadConf(t *testing.T, text string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Config{Base: base}
}

// TestOptionsPrecedence: a set Config field wins over the file, the file
// over the defaults; JetStream is always on.
func TestOptionsPrecedence(t *testing.T) {
	file := `
server_name: from-file
host: 127.0.0.2
port: 4333
max_payload: 2048
jetstream { store_dir: "/file/store", max_mem: 1MB }
authorization { users = [ {user: a, password: b} ] }
`
	cfg := loadConf(t, file)
	opts, err := options(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "from-file" || opts.Host != "127.0.0.2" || opts.Port != 4333 || opts.StoreDir != "/file/store" ||
		opts.MaxPayload != 2048 || opts.JetStreamMaxMemory != 1<<20 || !opts.JetStream || len(opts.Users) != 1 {
		t.Fatalf("file values not kept: name %q host %q port %d store %q payload %d mem %d js %v users %d",
			opts.ServerName, opts.Host, opts.Port, opts.StoreDir, opts.MaxPayload, opts.JetStreamMaxMemory, opts.JetStream, len(opts.Users))
	}
	if !opts.NoSigs {
		t.Error("NoSigs must stay on: rtcmesh handles signals")
	}

	cfg = loadConf(t, file)
	cfg.Name, cfg.Addr, cfg.StoreDir = "flag", "127.0.0.1:-1", "/flag/store"
	opts, err = options(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "flag" || opts.Host != "127.0.0.1" || opts.Port != -1 || opts.StoreDir != "/flag/store" || len(opts.Users) != 1 {
		t.Fatalf("set fields must override the file: name %q host %q port %d store %q users %d",
			opts.ServerName, opts.Host, opts.Port, opts.StoreDir, len(opts.Users))
	}

	// JetStream disabled in the file is turned on; no store is an error.
	cfg = loadConf(t, "jetstream: disabled\n")
	if _, err := options(*cfg); err == nil {
		t.Fatal("no store directory anywhere: want an error")
	}
	cfg.StoreDir = "/s"
	if opts, err = options(*cfg); err != nil || !opts.JetStream || opts.Host != "127.0.0.1" || opts.Port != 4222 || opts.MaxPayload != 1<<20 {
		t.Fatalf("defaults: %v js %v host %q port %d payload %d", err, opts.JetStream, opts.Host, opts.Port, opts.MaxPayload)
	}
}

func TestLoadConfigReportsErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(path, []byte("authorization { users = [ {user: a, password: "), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil {
		t.Fatal("a broken config file must be an error")
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.conf")); err == nil {
		t.Fatal("a missing config file must be an error")
	}
}
