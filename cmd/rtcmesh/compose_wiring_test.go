package main

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

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
// checks on their operations port, and that a service runs it with port 3001 published.
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
	// /readyz is served on the operations port only: the check must
	// connect there, and every gateway must serve it on that port.
	checkPort := ""
	for _, line := range strings.Split(lbcfg, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "http-check" && f[1] == "connect" && f[2] == "port" {
			checkPort = f[3]
		}
	}
	if checkPort == "" {
		bad("%s: no `http-check connect port N`: /readyz is not on the gateways' client port", haproxyPath)
	}
	for _, inv := range invs {
		if !inv.is("gateway") {
			continue
		}
		_, port, err := net.SplitHostPort(listenAddr(inv.str("ops-addr")))
		if err != nil || port != checkPort {
			bad("%v: --ops-addr %q, but %s health-checks port %s", inv.svc, inv.str("ops-addr"), haproxyPath, checkPort)
		}
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
