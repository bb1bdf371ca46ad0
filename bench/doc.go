// Package bench is the load generator behind `rtcmesh bench`. It speaks
// Engine.IO v4 / Socket.IO v5 itself (WebSocket, long-polling, and polling
// upgraded to WebSocket like socket.io-client), so it drives any socket.io
// server: rtcmesh, or the Node reference server in bench/reference. It
// depends on no rtcmesh service, only on shared's event names.
//
// # Scenarios
//
//   - hold: N sockets connect, join rooms of K (room i holds sockets
//     iK..iK+K-1), then stay idle answering pings. With PIDs, each target's
//     VmRSS is sampled before connecting, once all are connected, 2 s after
//     all joined, and once settled (the last 20 s within 1 %).
//   - storm: N sockets connect (not timed), then all emit join-room at one
//     instant shared by every worker. Reports joins/s, join-ok latency,
//     init-offer latency, and checks the rtc.io invariants (invariant.go).
//   - relay: rooms of 2; A sends #rtcio:message to B, B echoes data, A
//     records the round trip. Open loop: sends follow a schedule and are
//     measured from their scheduled time. Saturate steps the rate ×1.5.
//   - fanout: rooms of K; members send media-state and chat-message in turn;
//     every other member should receive each one.
//
// Every scenario connects, then joins (the storm's measured phase is the
// join every scenario does), so the join invariants are checked in all of
// them.
//
// # Processes
//
// A run is a parent and one or more workers, each owning whole rooms, so
// that every latency between two sockets is measured inside one process.
// The parent and its workers speak JSON lines (workers.go): setup → ready,
// connect → connected, join{at_ns} → joined, step{...} → step (relay and
// fanout, once per rate), close → closed, with progress lines in between.
// Latencies travel as histograms (Hist, mergeable), never raw samples.
// Workers run as goroutines over pipes (InProcess, used with one worker and
// by tests) or as processes (Exec, used by the CLI when one process cannot
// hold every socket within its file descriptor limit).
//
// # JSON report (schema 1)
//
// --json prints one Report. Durations are float64 milliseconds (…_ms),
// sizes are bytes (…_bytes), rates are per second (…_per_sec), counts are
// integers. A latency object is
//
//	{"count", "min_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"}
//
// (quantiles within 0.4 %, min, mean and max exact). The document:
//
//	schema            1
//	scenario          "hold" | "storm" | "relay" | "fanout"
//	urls              [string]; transport "websocket" | "polling" | "upgrade"
//	sockets, room_size, rooms, procs, sources (source addresses used)
//	room_prefix       string; started (RFC 3339); elapsed_ms
//	connect           {connected, failed, duration_ms, per_sec, latency}
//	                  latency: one socket's handshake (Engine.IO open, Socket.IO
//	                  CONNECT, and the upgrade with "upgrade")
//	join              {joined, failed, duration_ms (start instant → last join-ok),
//	                  joins_per_sec, latency (own join-room → own join-ok),
//	                  init_offer (newcomer's join-room → the earlier member's
//	                  #rtcio:init-offer about it), init_offers_expected,
//	                  init_offers_received, user_connected_expected,
//	                  user_connected_received, timed_out}
//	memory            hold with --pid only: {sockets (the divisor),
//	                  processes: [process], total: process (summed)}
//	                  process: {name, pid, baseline_bytes, connected_bytes,
//	                  joined_bytes, settled_bytes, connected_per_socket_bytes,
//	                  joined_per_socket_bytes, settled_per_socket_bytes
//	                  ((stage − baseline) / sockets), settled (false: the
//	                  settle timeout passed first), settle_ms, samples}
//	relay             relay only: {pairs, payload_bytes, saturate, steps: [step],
//	                  saturation_round_trips_per_sec, saturation_relayed_per_sec
//	                  (best passing step; 0 without saturate)}
//	                  step: {step, offered_per_sec, round_trips_per_sec,
//	                  relayed_per_sec (2 per round trip), duration_ms, sent,
//	                  received, lost, loss_ratio, out_of_order, late, rtt,
//	                  pass, reason (why it failed)}
//	fanout            fanout only: {offered_per_sec, duration_ms, sent,
//	                  expected_deliveries, deliveries, lost, deliveries_per_sec,
//	                  out_of_order, late, latency (scheduled send → delivery)}
//	close             {live (sockets still connected at the end), duration_ms}
//	violations        {kind: count}; violations_total
//	errors            {kind: count}; errors_total
//	ok                no violation and no error
//
// Rates count only messages scheduled inside the measured window; a rate is
// completions over the window or, when the server fell behind, over the time
// until the last completion. A step passes when it achieved at least 90 % of
// the offered rate, its p99 stayed within the limit and it lost at most
// 0.1 %.
//
// Violation kinds: protocol ones (malformed-packet, unexpected-packet:<type>,
// binary-frame, unexpected-event:<name>, disconnect:<cause> for a connection
// that ended before the bench closed it), the join invariants
// (duplicate-init-offer, init-offer-both-ways, missing-init-offer,
// init-offer-args, event-about-self, event-about-non-member,
// missing-user-connected, duplicate-user-connected, backfill-after-join-ok,
// missing-join-ok, duplicate-join-ok, late-<event> for a join event after the
// check), and the scenarios' (relay-wrong-source, relay-malformed-data,
// fanout-malformed, media-state-wrong-id). Error kinds:
// connect:<cause>, connect-retry:<cause>, write:<cause>,
// join-error:<reason>, error:<code> (the server's error event) and
// event:<name> for departures caused by a disconnect. A cause is one of
// refused, reset, timeout, eof, no-source-port, too-many-files, http-<status>,
// bad-handshake, closed, ws-close, a handshake problem (no-open, bad-open,
// bad-connect, connect-refused, bad-probe, upgrade-stalled, ...), or other.
package bench
