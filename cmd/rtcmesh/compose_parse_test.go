package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

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
