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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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
		`"--gateway-name", "gw1", "--replicas", "3"]
    environment:
      RTCMESH_LOG_FORMAT: json
`, `"--gateway-name", "gw1", "--replicas", "3"]
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
// The compose subset.

type composeFile struct {
	services map[string]*composeService
	order    []string        // service names in file order
	volumes  map[string]bool // top-level named volumes
}

type composeService struct {
	name     string
	line     int
	image    string
	hasBuild bool
	rtcmesh  bool     // runs the rtcmesh image (has build:, or image rtcmesh)
	command  []string // exec form
	env      map[string]string
	unset    []string // environment variables interpolated from the host, without a default
	volumes  []string // short syntax, unquoted
	ports    []string // short syntax, unquoted
}

func (s *composeService) String() string { return fmt.Sprintf("service %s (line %d)", s.name, s.line) }

// interpolation matches a whole-value ${VAR}, ${VAR-default} or
// ${VAR:-default}.
var interpolation = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-(.*))?\}$`)

var topLevelKeys = map[string]bool{"name": true, "services": true, "volumes": true, "networks": true, "configs": true, "secrets": true}

// parseCompose reads the subset of YAML that docker-compose.yml is written
// in: two-space indentation, block mappings, `- item` lists, one-line flow
// arrays of double-quoted strings for command, and no anchors, aliases,
// merge keys, block scalars or multiple documents.
func parseCompose(text string) (*composeFile, error) {
	cf := &composeFile{services: map[string]*composeService{}, volumes: map[string]bool{}}
	var (
		top    string          // current top-level key
		svc    *composeService // current service
		svcKey string          // current key of the service (block value)
	)
	lines := strings.Split(text, "\n")
	for i, raw := range lines {
		n := i + 1
		fail := func(format string, args ...any) (*composeFile, error) {
			return nil, fmt.Errorf("line %d: %s: %q", n, fmt.Sprintf(format, args...), strings.TrimSpace(raw))
		}
		if strings.Contains(raw, "\t") {
			return fail("tab character (indent with spaces)")
		}
		content := strings.TrimRight(stripYAMLComment(raw), " \r")
		if strings.TrimSpace(content) == "" {
			continue
		}
		text := strings.TrimSpace(content)
		indent := len(content) - len(strings.TrimLeft(content, " "))
		if indent%2 != 0 {
			return fail("indentation of %d spaces (want multiples of 2)", indent)
		}
		if text == "---" || text == "..." {
			return fail("multiple YAML documents are not supported")
		}
		if usesAnchors(text) {
			return fail("YAML anchors, aliases and merge keys are not supported by this test; write each service out")
		}
		isItem := strings.HasPrefix(text, "- ") || text == "-"
		key, value, isKV := splitYAMLKey(text)
		if !isItem && isKV && (value == "|" || value == ">" || strings.HasPrefix(value, "|") || strings.HasPrefix(value, ">")) {
			return fail("block scalars are not supported")
		}

		switch {
		case indent == 0:
			if !isKV || isItem {
				return fail("expected a top-level key")
			}
			if !topLevelKeys[key] {
				return fail("unexpected top-level key %q (extension fields and other keys are not supported)", key)
			}
			top, svc, svcKey = key, nil, ""
			if key == "services" && value != "" {
				return fail("services must be a block mapping")
			}

		case top == "services" && indent == 2:
			if !isKV || isItem || value != "" {
				return fail("expected a service name followed by a block mapping")
			}
			if cf.services[key] != nil {
				return fail("service %s defined twice", key)
			}
			svc = &composeService{name: key, line: n, env: map[string]string{}}
			cf.services[key] = svc
			cf.order = append(cf.order, key)
			svcKey = ""

		case top == "services" && indent == 4:
			if !isKV || isItem {
				return fail("expected a service key")
			}
			svcKey = key
			switch key {
			case "image":
				svc.image = unquoteYAML(value)
			case "build":
				svc.hasBuild = true
			case "command":
				if value == "" {
					return fail("command must be a one-line array of double-quoted strings, as in [\"gateway\", \"--nats\", \"...\"]")
				}
				if strings.Contains(value, "$") {
					return fail("variable interpolation in command is not supported by this test")
				}
				if !strings.HasPrefix(value, "[") {
					return fail("command must be a one-line array (exec form) of double-quoted strings, not a string")
				}
				var args []string
				if err := json.Unmarshal([]byte(value), &args); err != nil {
					return fail("command must be a one-line array of double-quoted strings (%v)", err)
				}
				svc.command = args
			case "entrypoint":
				return fail("entrypoint must not be overridden: the image's entrypoint is the rtcmesh binary")
			case "env_file":
				return fail("env_file is not supported by this test: set variables under environment")
			case "environment", "volumes", "ports":
				if value != "" {
					return fail("%s must be a block (one entry per line)", key)
				}
			}

		case top == "services" && indent >= 6:
			if svcKey == "" {
				return fail("unexpected indentation")
			}
			switch svcKey {
			case "command":
				return fail("command must be a one-line array of double-quoted strings")
			case "environment":
				if indent != 6 {
					return fail("unexpected indentation under environment")
				}
				if isItem || !isKV {
					return fail("environment must be a KEY: value map, not a list of KEY=value")
				}
				if value == "" {
					return fail("environment variable %s takes its value from the host environment, which this test cannot check", key)
				}
				if _, dup := svc.env[key]; dup {
					return fail("environment variable %s set twice", key)
				}
				v := unquoteYAML(value)
				if strings.Contains(v, "$") {
					// Values from the host (secrets): only a whole-value
					// ${VAR} or ${VAR:-default}; the default stands in
					// for the value when parsing, and without one the
					// variable is left unset.
					m := interpolation.FindStringSubmatch(v)
					if m == nil {
						return fail("only a whole-value ${VAR} or ${VAR:-default} is supported in environment values")
					}
					if m[2] == "" {
						svc.unset = append(svc.unset, key)
					}
					v = m[3]
				}
				svc.env[key] = v
			case "volumes", "ports":
				if indent != 6 || !isItem {
					return fail("%s must be a list in short syntax (- \"source:target\")", svcKey)
				}
				item := strings.TrimSpace(strings.TrimPrefix(text, "-"))
				if _, _, kv := splitYAMLKey(item); kv && svcKey == "volumes" && !strings.HasPrefix(item, "\"") {
					return fail("volumes must use the short syntax (- \"source:target[:mode]\")")
				}
				item = unquoteYAML(item)
				if svcKey == "volumes" {
					svc.volumes = append(svc.volumes, item)
				} else {
					svc.ports = append(svc.ports, item)
				}
			}
			// Nested blocks of other keys (depends_on, healthcheck, ...)
			// carry no rtcmesh command line.

		case top == "volumes" && indent == 2:
			if !isKV || isItem {
				return fail("expected a volume name")
			}
			cf.volumes[key] = true

		case top == "services":
			return fail("unexpected indentation")
		}
	}
	for _, name := range cf.order {
		s := cf.services[name]
		s.rtcmesh = s.hasBuild || imageRepo(s.image) == "rtcmesh"
		if s.rtcmesh && s.command == nil {
			return nil, fmt.Errorf("%v: no command: an rtcmesh service must name its subcommand in command", s)
		}
	}
	return cf, nil
}

// usesAnchors reports YAML anchors (&a), aliases (*a) and merge keys (<<).
func usesAnchors(text string) bool {
	if strings.HasPrefix(text, "<<") {
		return true
	}
	_, value, ok := splitYAMLKey(text)
	if !ok {
		value = strings.TrimSpace(strings.TrimPrefix(text, "-"))
	}
	return strings.HasPrefix(value, "&") || strings.HasPrefix(value, "*")
}

// stripYAMLComment removes a # comment that is outside quotes and starts
// the line or follows a space.
func stripYAMLComment(s string) string {
	var quote rune
	escaped := false
	for i, r := range s {
		switch {
		case escaped:
			escaped = false
		case quote == '"' && r == '\\':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

// splitYAMLKey splits `key: value` (or `key:`) at the first colon that is
// outside quotes and followed by a space or the end of the line.
func splitYAMLKey(text string) (key, value string, ok bool) {
	if strings.HasPrefix(text, "- ") {
		return "", "", false
	}
	var quote rune
	for i, r := range text {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '[' || r == '{':
			return "", "", false // a flow collection before any colon
		case r == ':' && (i == len(text)-1 || text[i+1] == ' '):
			return unquoteYAML(strings.TrimSpace(text[:i])), strings.TrimSpace(text[i+1:]), true
		}
	}
	return "", "", false
}

// unquoteYAML returns the value of a plain, single- or double-quoted scalar.
func unquoteYAML(v string) string {
	switch {
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return v
}

// imageRepo returns the repository name of an image reference:
// "registry:5000/org/rtcmesh:1.2" -> "rtcmesh".
func imageRepo(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image = image[:i]
	}
	image = image[strings.LastIndex(image, "/")+1:]
	if i := strings.Index(image, ":"); i >= 0 {
		image = image[:i]
	}
	return image
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
// Cluster wiring.

func checkWiring(cf *composeFile, invs []*invocation) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// NATS nodes: distinct names, reachable client and cluster listeners,
	// their own named volumes, one cluster, full route lists.
	type node struct {
		inv                     *invocation
		clientPort, clusterPort string
	}
	nodes := map[string]*node{} // by service name
	var nodeNames []string
	names := map[string]string{}   // --name -> service
	volumes := map[string]string{} // named volume -> service
	clusterNames := map[string]bool{}
	for _, inv := range invs {
		if !inv.is("nats") {
			continue
		}
		svc := inv.svc
		nd := &node{inv: inv}
		nodes[svc.name] = nd
		nodeNames = append(nodeNames, svc.name)

		name := inv.str("name")
		switch {
		case name == "":
			bad("%v: --name is not set (the default, the container's hostname, changes with every container)", svc)
		case names[name] != "":
			bad("%v: --name %s is also the name of %s; every cluster node needs its own", svc, name, names[name])
		default:
			names[name] = svc.name
		}

		host, port, err := net.SplitHostPort(inv.str("addr"))
		if err != nil {
			bad("%v: --addr %q: %v", svc, inv.str("addr"), err)
		} else if isLoopback(host) {
			bad("%v: --addr %s listens on loopback; other containers cannot connect (use 0.0.0.0:%s)", svc, inv.str("addr"), port)
		}
		nd.clientPort = port

		caddr := inv.str("cluster-addr")
		if caddr == "" {
			bad("%v: --cluster-addr is not set, so the node does not join a cluster", svc)
		} else if host, port, err := net.SplitHostPort(caddr); err != nil {
			bad("%v: --cluster-addr %q: %v", svc, caddr, err)
		} else {
			if isLoopback(host) {
				bad("%v: --cluster-addr %s listens on loopback; other nodes cannot route to it", svc, caddr)
			}
			nd.clusterPort = port
		}
		clusterNames[inv.str("cluster-name")] = true

		store := inv.str("store")
		vol := ""
		for _, v := range svc.volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && filepath.Clean(parts[1]) == filepath.Clean(store) {
				vol = parts[0]
			}
		}
		bindMount := strings.HasPrefix(vol, ".") || strings.HasPrefix(vol, "/") || strings.HasPrefix(vol, "~")
		switch {
		case vol == "":
			bad("%v: --store %s is not a mounted volume; JetStream data would be lost with the container", svc, store)
		case !bindMount && !cf.volumes[vol]:
			bad("%v: volume %s is not declared under the top-level volumes", svc, vol)
		case volumes[vol] != "":
			bad("%v: volume %s is also the store of %s; every node needs its own", svc, vol, volumes[vol])
		default:
			volumes[vol] = svc.name
		}
	}
	if len(nodes) != wantNATSNodes {
		bad("want %d `rtcmesh nats` services, found %d (%s)", wantNATSNodes, len(nodes), strings.Join(nodeNames, ", "))
	}
	if len(clusterNames) > 1 {
		bad("the NATS nodes disagree on --cluster-name: %v", sortedKeys(clusterNames))
	}
	wantRoutes := map[string]bool{}
	for name, nd := range nodes {
		wantRoutes["nats-route://"+net.JoinHostPort(name, nd.clusterPort)] = true
	}
	for _, name := range nodeNames {
		svc := nodes[name].inv.svc
		got := map[string]bool{}
		for _, r := range splitList(nodes[name].inv.str("routes")) {
			u, err := url.Parse(r)
			if err != nil || u.Scheme != "nats-route" || u.Host == "" {
				bad("%v: --routes entry %q is not a nats-route://host:port URL", svc, r)
				continue
			}
			got["nats-route://"+u.Host] = true
		}
		if !maps.Equal(got, wantRoutes) {
			bad("%v: --routes lists %v, want every node's cluster address %v", svc, sortedKeys(got), sortedKeys(wantRoutes))
		}
	}

	// NATS clients: URLs of existing nodes on their client ports; the
	// services list every node and provision with the same settings.
	var gateways, roomsvcs int
	var maxAge *invocation
	for _, inv := range invs {
		svc := inv.svc
		if _, ok := inv.vals["nats"]; !ok {
			continue
		}
		covered := map[string]bool{}
		for _, raw := range splitList(inv.str("nats")) {
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
				bad("%v: NATS URL %q is not nats://host:port", svc, raw)
				continue
			}
			nd := nodes[u.Hostname()]
			switch {
			case nd == nil:
				bad("%v: NATS URL %s names %s, which is not an `rtcmesh nats` service", svc, raw, u.Hostname())
			case u.Port() != nd.clientPort:
				bad("%v: NATS URL %s uses port %q, but %s listens on %q", svc, raw, u.Port(), u.Hostname(), nd.clientPort)
			default:
				covered[u.Hostname()] = true
			}
		}
		provisions := inv.is("gateway") || inv.is("roomsvc")
		if !provisions {
			if len(covered) == 0 {
				bad("%v: no NATS URL (--nats or RTCMESH_NATS)", svc)
			}
			continue
		}
		if inv.is("gateway") {
			gateways++
		} else {
			roomsvcs++
		}
		for _, name := range nodeNames {
			if !covered[name] {
				bad("%v: --nats does not list %s; list every node so the service survives any one of them failing", svc, name)
			}
		}
		if r, _ := inv.vals["replicas"].(int); r != wantNATSNodes {
			bad("%v: --replicas is %d, want %d (JetStream R%d on the %d-node cluster)", svc, r, wantNATSNodes, wantNATSNodes, wantNATSNodes)
		}
		if maxAge == nil {
			maxAge = inv
		} else if a, b := inv.vals["presence-max-age"].(time.Duration), maxAge.vals["presence-max-age"].(time.Duration); a != b {
			bad("%v: --presence-max-age %v differs from %v's %v; every provisioning service must agree", svc, a, maxAge.svc.name, b)
		}
	}
	if gateways < 2 {
		bad("want at least 2 `rtcmesh gateway` services, found %d", gateways)
	}
	if roomsvcs < 2 {
		bad("want at least 2 `rtcmesh roomsvc` services, found %d", roomsvcs)
	}
	return errs
}

// checkLoadBalancer checks that the HAProxy configuration balances over
// exactly the gateway services, on their listen ports, with /readyz health
// checks, and that a service runs it with port 3001 published.
func checkLoadBalancer(cf *composeFile, invs []*invocation, lbcfg string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	gwPorts := map[string]string{}
	for _, inv := range invs {
		if inv.is("gateway") {
			_, port, err := net.SplitHostPort(listenAddr(inv.str("addr")))
			if err != nil {
				bad("%v: --addr %q: %v", inv.svc, inv.str("addr"), err)
			}
			gwPorts[inv.svc.name] = port
		}
	}
	servers := map[string]bool{}
	for n, line := range strings.Split(lbcfg, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "server" {
			continue
		}
		host, port, err := net.SplitHostPort(f[2])
		if err != nil {
			bad("%s:%d: server address %q: %v", haproxyPath, n+1, f[2], err)
			continue
		}
		want, ok := gwPorts[host]
		switch {
		case !ok:
			bad("%s:%d: server %s is not a gateway service of the compose file", haproxyPath, n+1, host)
		case port != want:
			bad("%s:%d: server %s on port %s, but the gateway listens on %s", haproxyPath, n+1, host, port, want)
		case servers[host]:
			bad("%s:%d: server %s listed twice", haproxyPath, n+1, host)
		}
		servers[host] = true
	}
	for _, name := range sortedKeys(gwPorts) {
		if !servers[name] {
			bad("%s: gateway service %s has no server line, so it gets no clients", haproxyPath, name)
		}
	}
	if !strings.Contains(lbcfg, "uri /readyz") {
		bad("%s: the gateways are not health-checked on /readyz", haproxyPath)
	}
	lb := ""
	for _, name := range cf.order {
		for _, v := range cf.services[name].volumes {
			if strings.HasPrefix(v, "./deploy/haproxy.cfg:") {
				lb = name
			}
		}
	}
	if lb == "" {
		bad("no service mounts ./deploy/haproxy.cfg")
	} else if !slices.ContainsFunc(cf.services[lb].ports, func(p string) bool {
		parts := strings.Split(p, ":")
		return len(parts) >= 2 && parts[len(parts)-2] == "3001"
	}) {
		bad("service %s does not publish port 3001", lb)
	}
	return errs
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
