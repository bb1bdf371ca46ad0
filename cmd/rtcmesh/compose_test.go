package main

// The checks in this file keep docker-compose.yml and deploy/haproxy.cfg
// honest: every rtcmesh command line in the compose file is resolved and
// parsed by the real CLI (newApp), so renaming or removing a flag, an
// environment variable or a subcommand fails here, and the NATS cluster,
// the services' NATS URLs and the load balancer's servers must agree.
//
// There is no YAML library among the module's dependencies, so the compose
// file is read with a small parser for the subset it is written in (see
// its header): anything outside that subset is an error, never skipped
// silently where it could hide an rtcmesh command line.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

const (
	composePath = "../../docker-compose.yml"
	haproxyPath = "../../deploy/haproxy.cfg"
	// wantNATSNodes is the size of the NATS cluster, and so the JetStream
	// replication factor every provisioning service must ask for.
	wantNATSNodes = 3
)

func TestComposeFileMatchesCLI(t *testing.T) {
	compose, lbcfg := readDeployFiles(t)
	cf, err := parseCompose(compose)
	if err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	errs := checkDeployment(t, newApp, cf, lbcfg)
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) == 0 {
		n := 0
		for _, svc := range cf.services {
			if svc.rtcmesh {
				n++
			}
		}
		t.Logf("%d rtcmesh services match the CLI; cluster and load balancer wiring consistent", n)
	}
}

// TestComposeCheckCatchesDrift makes sure the checks above have teeth: a
// renamed flag, a renamed environment variable and broken cluster wiring
// must each be reported.
func TestComposeCheckCatchesDrift(t *testing.T) {
	compose, lbcfg := readDeployFiles(t)
	// renameFlag returns newApp with flag --from of subcommand path renamed
	// to --to and its environment variables given a suffix: what a rename
	// in flags.go or services.go would do.
	renameFlag := func(from, to string, path ...string) func() *cli.App {
		return func() *cli.App {
			app := newApp()
			cmds := app.Commands
			var cmd *cli.Command
			for _, name := range path {
				if cmd = findCommand(cmds, name); cmd == nil {
					t.Fatalf("no subcommand %v", path)
				}
				cmds = cmd.Subcommands
			}
			sf, ok := findFlag(cmd.Flags, from).(*cli.StringFlag)
			if !ok {
				t.Fatalf("no string flag --%s on %v", from, path)
			}
			sf.Name = to
			for i, e := range sf.EnvVars {
				sf.EnvVars[i] = e + "_RENAMED"
			}
			return app
		}
	}
	cases := []struct {
		name    string
		app     func() *cli.App
		edit    func(string) string
		wantErr string
	}{
		{"gateway flag renamed", renameFlag("nats", "nats-url", "gateway"), nil,
			"--nats is not a flag of `rtcmesh gateway`"},
		{"nats flag renamed", renameFlag("routes", "route", "nats"), nil,
			"--routes is not a flag of `rtcmesh nats`"},
		{"environment variable renamed", renameFlag("nats", "nats-url", "presence", "watch"), nil,
			"RTCMESH_NATS is not an environment variable of `rtcmesh presence watch`"},
		{"route missing", newApp, func(s string) string {
			return strings.Replace(s, `"nats-route://nats-1:6222,nats-route://nats-2:6222,nats-route://nats-3:6222"]`,
				`"nats-route://nats-1:6222,nats-route://nats-2:6222"]`, 1)
		}, "--routes lists"},
		{"replicas 1", newApp, func(s string) string {
			return strings.Replace(s, `"--replicas", "3"`, `"--replicas", "1"`, 1)
		}, "--replicas is 1"},
		{"unknown nats host", newApp, func(s string) string {
			return strings.Replace(s, `"gateway", "--nats", "nats://nats-1:4222,`, `"gateway", "--nats", "nats://nats-9:4222,`, 1)
		}, "names nats-9"},
		{"nats on loopback", newApp, func(s string) string {
			return strings.Replace(s, `"--addr", "0.0.0.0:4222"`, `"--addr", "127.0.0.1:4222"`, 1)
		}, "listens on loopback"},
		{"duplicate nats name", newApp, func(s string) string {
			return strings.Replace(s, `"--name", "nats-2"`, `"--name", "nats-1"`, 1)
		}, "--name nats-1 is also"},
		{"unknown subcommand", newApp, func(s string) string {
			return strings.Replace(s, `command: ["roomsvc",`, `command: ["rooms-service",`, 1)
		}, `"rooms-service" is not an rtcmesh subcommand`},
		{"flag of another subcommand", newApp, func(s string) string {
			return strings.Replace(s, `"roomsvc", "--nats"`, `"roomsvc", "--lease-ttl", "5s", "--nats"`, 1)
		}, "--lease-ttl is not a flag of `rtcmesh roomsvc`"},
		{"gateway ops port is not the health-checked one", newApp, func(s string) string {
			return strings.Replace(s, `"gw2", "--replicas", "3", "--ops-addr", ":9090"`, `"gw2", "--replicas", "3", "--ops-addr", ":9091"`, 1)
		}, "health-checks port 9090"},
		{"bad flag value", newApp, func(s string) string {
			return strings.Replace(s, `"--replicas", "3"`, `"--replicas", "three"`, 1)
		}, "does not parse"},
		{"environment variable of another subcommand", newApp, func(s string) string {
			return strings.Replace(s, "      RTCMESH_LOG_FORMAT: json\n", "      RTCMESH_LOG_FORMAT: json\n      RTCMESH_LEASE_TTL: 5s\n", 1)
		}, "RTCMESH_LEASE_TTL is not an environment variable of `rtcmesh nats`"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := compose
			if tc.edit != nil {
				if text = tc.edit(compose); text == compose {
					t.Fatal("the edit did not change the compose file; update the test")
				}
			}
			cf, err := parseCompose(text)
			if err != nil {
				t.Fatal(err)
			}
			errs := checkDeployment(t, tc.app, cf, lbcfg)
			joined := errors.Join(errs...)
			if joined == nil || !strings.Contains(joined.Error(), tc.wantErr) {
				t.Fatalf("want an error containing %q, got: %v", tc.wantErr, joined)
			}
			t.Logf("reported: %v", joined)
		})
	}
}

// TestComposeAcceptsHostVariables: secrets and site settings may come
// from the host as whole-value ${VAR} or ${VAR:-default}.
func TestComposeAcceptsHostVariables(t *testing.T) {
	compose, lbcfg := readDeployFiles(t)
	text := strings.Replace(compose,
		`"--gateway-name", "gw1", "--replicas", "3", "--ops-addr", ":9090"]
    environment:
      RTCMESH_LOG_FORMAT: json
`, `"--gateway-name", "gw1", "--replicas", "3", "--ops-addr", ":9090"]
    environment:
      RTCMESH_LOG_FORMAT: json
      RTCMESH_TURN_SECRET: ${TURN_SECRET}
      RTCMESH_LEASE_TTL: "${LEASE_TTL:-5s}"
`, 1)
	if text == compose {
		t.Fatal("the edit did not change the compose file; update the test")
	}
	cf, err := parseCompose(text)
	if err != nil {
		t.Fatal(err)
	}
	if errs := checkDeployment(t, newApp, cf, lbcfg); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	// The default is what the CLI parses when the host leaves it unset.
	cf, err = parseCompose(strings.Replace(text, "${LEASE_TTL:-5s}", "${LEASE_TTL:-5 parsecs}", 1))
	if err != nil {
		t.Fatal(err)
	}
	errs := errors.Join(checkDeployment(t, newApp, cf, lbcfg)...)
	if errs == nil || !strings.Contains(errs.Error(), "does not parse") {
		t.Fatalf("an unparsable default must be reported, got %v", errs)
	}
}

func TestComposeParserRejectsUnsupportedYAML(t *testing.T) {
	head := "services:\n  gw:\n    image: rtcmesh:local\n"
	cases := []struct{ name, text, wantErr string }{
		{"list environment", head + "    command: [\"gateway\"]\n    environment:\n      - RTCMESH_NATS=nats://x:4222\n", "KEY: value map"},
		{"block command", head + "    command:\n      - gateway\n", "one-line array"},
		{"string command", head + "    command: gateway --nats x\n", "one-line array"},
		{"single-quoted command", head + "    command: ['gateway']\n", "double-quoted"},
		{"merge key", head + "    <<: *common\n", "anchors"},
		{"anchor", "x-common: &common\n  image: rtcmesh\n" + head, "anchors"},
		{"tab", head + "\tcommand: [\"gateway\"]\n", "tab"},
		{"odd indent", head + "   command: [\"gateway\"]\n", "indent"},
		{"interpolation", head + "    command: [\"gateway\", \"--nats\", \"${NATS}\"]\n", "interpolation"},
		{"partial env interpolation", head + "    command: [\"gateway\"]\n    environment:\n      RTCMESH_NATS: nats://${HOST}:4222\n", "whole-value"},
		{"env from host", head + "    command: [\"gateway\"]\n    environment:\n      RTCMESH_NATS:\n", "host environment"},
		{"env_file", head + "    command: [\"gateway\"]\n    env_file: rtcmesh.env\n", "env_file"},
		{"entrypoint", head + "    command: [\"gateway\"]\n    entrypoint: [\"/bin/sh\"]\n", "entrypoint"},
		{"no command", head, "no command"},
		{"long volume", head + "    command: [\"nats\"]\n    volumes:\n      - type: volume\n", "short syntax"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCompose(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func readDeployFiles(t *testing.T) (compose, lbcfg string) {
	t.Helper()
	c, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatalf("read compose file: %v", err)
	}
	l, err := os.ReadFile(haproxyPath)
	if err != nil {
		t.Fatalf("read load balancer config: %v", err)
	}
	return string(c), string(l)
}

// ---------------------------------------------------------------------------
// Checking command lines against the CLI.

// invocation is one rtcmesh service as the CLI sees it.
type invocation struct {
	svc  *composeService
	path []string       // subcommand path, e.g. [presence watch]
	vals map[string]any // every flag's value after parsing (flags, env, defaults)
}

func (inv *invocation) is(path ...string) bool { return slices.Equal(inv.path, path) }

func (inv *invocation) str(name string) string { s, _ := inv.vals[name].(string); return s }

// checkDeployment checks every rtcmesh service against the CLI built by
// mkApp, then the cluster wiring and the load balancer configuration.
func checkDeployment(t *testing.T, mkApp func() *cli.App, cf *composeFile, lbcfg string) []error {
	t.Helper()
	var errs []error
	var invs []*invocation
	for _, name := range cf.order {
		svc := cf.services[name]
		if !svc.rtcmesh {
			continue
		}
		path, serrs := checkArgsStatic(mkApp(), svc)
		errs = append(errs, serrs...)
		if len(serrs) > 0 {
			continue
		}
		vals, err := parseWithCLI(t, mkApp(), svc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%v: `rtcmesh %s` does not parse: %w", svc, strings.Join(svc.command, " "), err))
			continue
		}
		invs = append(invs, &invocation{svc: svc, path: path, vals: vals})
	}
	if len(errs) > 0 {
		return errs // the wiring checks need every command line
	}
	errs = append(errs, checkWiring(cf, invs)...)
	errs = append(errs, checkLoadBalancer(cf, invs, lbcfg)...)
	return errs
}

// checkArgsStatic resolves the subcommand path of svc.command and checks
// every flag against that subcommand's definition (and the app's global
// flags before it), and every RTCMESH_* or PORT environment variable
// against the EnvVars of those flags.
func checkArgsStatic(app *cli.App, svc *composeService) ([]string, []error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%v: %s", svc, fmt.Sprintf(format, args...)))
	}
	args := svc.command
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		next, err := checkFlagArg(app.Flags, args, i, "rtcmesh")
		if err != nil {
			bad("%v", err)
			return nil, errs
		}
		i = next
	}
	var (
		cmd  *cli.Command
		path []string
		cmds = app.Commands
	)
	for i < len(args) {
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		cmd, path, cmds = c, append(path, c.Name), c.Subcommands
		i++
		if len(cmds) == 0 {
			break
		}
	}
	switch {
	case cmd == nil:
		if i < len(args) {
			bad("%q is not an rtcmesh subcommand", args[i])
		} else {
			bad("command names no rtcmesh subcommand")
		}
		return nil, errs
	case len(cmd.Subcommands) > 0:
		want := ""
		if i < len(args) {
			want = fmt.Sprintf(", and %q is not one", args[i])
		}
		bad("`rtcmesh %s` needs a subcommand%s", strings.Join(path, " "), want)
		return nil, errs
	case cmd.SkipFlagParsing:
		bad("`rtcmesh %s` parses its own arguments; this test cannot check them", strings.Join(path, " "))
		return nil, errs
	}
	where := "rtcmesh " + strings.Join(path, " ")
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" && a != "--" {
			// Flags after a positional argument are left to the command
			// (urfave/cli stops parsing there; `rooms show` parses them
			// itself), but must still be flags of the command.
			next, err := checkFlagArg(cmd.Flags, args, i, where)
			if err != nil {
				bad("%v", err)
				return path, errs
			}
			i = next
			continue
		}
		if cmd.ArgsUsage == "" {
			bad("unexpected argument %q: `%s` takes no arguments", a, where)
		}
		i++
	}
	allowed := map[string]bool{}
	for _, f := range append(slices.Clone(app.Flags), cmd.Flags...) {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ef.GetEnvVars() {
				allowed[e] = true
			}
		}
	}
	for _, k := range sortedKeys(svc.env) {
		if (strings.HasPrefix(k, "RTCMESH_") || k == "PORT") && !allowed[k] {
			bad("%s is not an environment variable of `%s` (nor of a global flag)", k, where)
		}
	}
	return path, errs
}

// checkFlagArg checks args[i], a flag, against flags and returns the index
// of the next argument (skipping the flag's value).
func checkFlagArg(flags []cli.Flag, args []string, i int, where string) (int, error) {
	name, _, inline := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
	f := findFlag(flags, name)
	if f == nil {
		return 0, fmt.Errorf("%s is not a flag of `%s`", "--"+name, where)
	}
	if _, isBool := f.(*cli.BoolFlag); isBool || inline {
		return i + 1, nil
	}
	if i+1 >= len(args) {
		return 0, fmt.Errorf("flag --%s of `%s` has no value", name, where)
	}
	return i + 2, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// parseWithCLI runs app on svc.command with svc.environment as the only
// rtcmesh environment, every action replaced by one that records the
// parsed flag values: exactly what the binary would see at startup.
func parseWithCLI(t *testing.T, app *cli.App, svc *composeService) (map[string]any, error) {
	t.Helper()
	var envNames []string
	var record func(cmds []*cli.Command)
	var vals map[string]any
	var ran bool
	record = func(cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
					envNames = append(envNames, ef.GetEnvVars()...)
				}
			}
			c.Action = func(ctx *cli.Context) error {
				ran = true
				vals = map[string]any{}
				for _, f := range ctx.Command.Flags {
					name := f.Names()[0]
					vals[name] = ctx.Value(name)
				}
				return nil
			}
			record(c.Subcommands)
		}
	}
	record(app.Commands)
	for _, f := range app.Flags {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			envNames = append(envNames, ef.GetEnvVars()...)
		}
	}
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	app.ExitErrHandler = func(*cli.Context, error) {}

	// Isolate from the test process's environment, then apply the
	// service's. t.Setenv restores everything when the test ends.
	for _, k := range envNames {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	defer func() {
		for _, k := range envNames {
			os.Unsetenv(k)
		}
	}()
	for k, v := range svc.env {
		if slices.Contains(envNames, k) && !slices.Contains(svc.unset, k) {
			os.Setenv(k, v)
		}
	}
	logger := slog.Default()
	defer slog.SetDefault(logger) // the app's Before installs a logger
	err := app.Run(append([]string{"rtcmesh"}, svc.command...))
	if err == nil && !ran {
		err = errors.New("no subcommand ran")
	}
	return vals, err
}

// ---------------------------------------------------------------------------
