package rooms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rtcmesh/rtcmesh/internal/bintest"
	"github.com/rtcmesh/rtcmesh/internal/nodetest"
	"github.com/rtcmesh/rtcmesh/shared"
)

// clientScenarios run against both deployments (see rooms_scenarios.mjs):
//   - join-order: backfill (user-connected, then media-state if known) before
//     join-ok; existing members get user-connected then a one-argument
//     #rtcio:init-offer; one init-offer per pair, also for concurrent joins
//     on different gateways; re-join only confirms;
//   - passwords: check-room and join-room refusals and acceptance; the
//     password is cleared when the room empties by leave-room and by
//     disconnect; a new first occupant sets another or none;
//   - leave: user-disconnected without #rtcio:peer-left; the leaver gets no
//     more room events, cannot post, and its later disconnect is no second
//     departure;
//   - disconnect: socket.disconnect(), a destroyed TCP connection and a
//     SIGKILLed client process each give #rtcio:peer-left then
//     user-disconnected, exactly once;
//   - media: id stamped (spoof replaced), last boolean state backfilled right
//     after its member's user-connected, non-booleans relayed but not stored;
//   - relay: 1,000 #rtcio:message in order, exactly once, source stamped,
//     target and data byte for byte (raw packets compared), nothing to others.
//
// Every scenario also checks that no socket received an event about itself.
var clientScenarios = []string{"join-order", "passwords", "leave", "disconnect", "media", "relay"}

const (
	scriptTimeout   = 170 * time.Second
	scenarioTimeout = 100 * time.Second
)

// TestRoomsDev runs the client scenarios against one `rtcmesh dev` process.
func TestRoomsDev(t *testing.T) {
	t.Parallel()
	nodetest.Require(t)
	dev := bintest.Start(t, "dev", nil, "dev", "--addr", "127.0.0.1:0", "--nats-addr", "127.0.0.1:0")
	gw := "http://" + dev.Addr("gateway", 60*time.Second)
	s := startScript(t, scriptTimeout, "--gw="+gw, "--scenarios="+strings.Join(clientScenarios, ","), "--tag=dev")
	for _, name := range clientScenarios {
		t.Run(name, func(t *testing.T) { s.requirePass(t, name, scenarioTimeout) })
	}
	s.wait(t, 30*time.Second)
}

// TestRoomsSplit runs the client scenarios against the split deployment
// (one NATS, two room services, two gateways, sockets spread over both
// gateways), then checks `rtcmesh presence watch` and `rtcmesh rooms`.
func TestRoomsSplit(t *testing.T) {
	t.Parallel()
	nodetest.Require(t)
	began := time.Now()
	natsProc := bintest.Start(t, "nats", nil, "nats", "--addr", "127.0.0.1:0", "--store", t.TempDir())
	natsURL := "nats://" + natsProc.Addr("nats", 30*time.Second)
	for i := 0; i < 2; i++ {
		bintest.Start(t, fmt.Sprintf("roomsvc%d", i), nil, "roomsvc", "--nats", natsURL)
	}
	var urls, gwIDs []string
	for i := 0; i < 2; i++ {
		g := bintest.Start(t, fmt.Sprintf("gateway%d", i), nil, "gateway", "--nats", natsURL, "--addr", "127.0.0.1:0")
		urls = append(urls, "http://"+g.Addr("gateway", 60*time.Second))
		gwIDs = append(gwIDs, gatewayID(t, g))
	}
	t.Logf("split deployment up in %v: nats %s, gateways %v %v", time.Since(began), natsURL, urls, gwIDs)

	all := append(append([]string(nil), clientScenarios...), "presence", "tools")
	s := startScript(t, scriptTimeout, "--gw="+strings.Join(urls, ","), "--scenarios="+strings.Join(all, ","), "--tag=split")
	for _, name := range clientScenarios {
		t.Run(name, func(t *testing.T) { s.requirePass(t, name, scenarioTimeout) })
	}
	t.Run("presence", func(t *testing.T) {
		s.requirePass(t, "presence", scenarioTimeout)
		checkPresenceReplay(t, natsURL, gwIDs, s.results("presence"), began)
	})
	t.Run("tools", func(t *testing.T) {
		// A failed check ends the script's HOLD at once.
		defer func() {
			if t.Failed() {
				_ = s.stdin.Close()
			}
		}()
		checkRoomsTools(t, s, natsURL, gwIDs)
		s.requirePass(t, "tools", scenarioTimeout)
	})
	s.wait(t, 30*time.Second)
}

// checkPresenceReplay starts `rtcmesh presence watch --from-start --room R`
// after room R's members joined, one changed its media state (booleans; the
// other's non-boolean state makes no event) and both left (leave-room, then
// disconnect), amid decoy rooms with close ids. The replay must be exactly
// R's five events, in order, with R's original id.
func checkPresenceReplay(t *testing.T, natsURL string, gwIDs []string, res map[string]string, began time.Time) {
	var room string
	if err := json.Unmarshal([]byte(mustResult(t, res, "room")), &room); err != nil {
		t.Fatal(err)
	}
	m1, m2 := mustResult(t, res, "m1"), mustResult(t, res, "m2")
	gw := func(key string) string {
		i, err := strconv.Atoi(mustResult(t, res, key))
		if err != nil || i < 0 || i >= len(gwIDs) {
			t.Fatalf("RESULT %s: bad gateway index", key)
		}
		return gwIDs[i]
	}
	gw1, gw2 := gw("m1gw"), gw("m2gw")
	want := []map[string]any{
		{"type": "join", "room": room, "id": m1, "name": "Ann", "gateway": gw1},
		{"type": "join", "room": room, "id": m2, "name": "Ben", "gateway": gw2},
		{"type": "media-state", "room": room, "id": m1, "name": "Ann", "mic": true, "cam": false, "gateway": gw1},
		{"type": "leave", "room": room, "id": m2, "name": "Ben", "reason": "leave", "gateway": gw2},
		{"type": "leave", "room": room, "id": m1, "name": "Ann", "reason": "disconnect", "gateway": gw1},
	}

	watch := bintest.Start(t, "presence-watch", nil, "presence", "watch", "--from-start", "--room", room, "--nats", natsURL)
	// M1's disconnect is R's last event (and the last of the stream when it
	// happened): wait for it, then take everything printed.
	watch.WaitOutput(`"reason":"disconnect"`, 30*time.Second)
	lines := jsonLines(watch.Output())
	if err := watch.Stop(10 * time.Second); err != nil {
		t.Errorf("presence watch did not exit cleanly on SIGTERM: %v", err)
	}
	if len(lines) != len(want) {
		t.Fatalf("presence watch --from-start --room %q printed %d events, want %d:\n%s", room, len(lines), len(want), strings.Join(lines, "\n"))
	}
	var lastSeq uint64
	var lastTime time.Time
	for i, line := range lines {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, line)
		}
		seqNum, _ := ev["seq"].(json.Number)
		seq, err := strconv.ParseUint(string(seqNum), 10, 64)
		if err != nil || seq <= lastSeq {
			t.Errorf("event %d: seq %v not a number increasing after %d: %s", i, ev["seq"], lastSeq, line)
		}
		lastSeq = seq
		ts, _ := ev["time"].(string)
		when, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || when.Before(lastTime) || when.Before(began.Add(-time.Minute)) || when.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d: time %q not RFC 3339, in order and within the test (%v): %s", i, ts, err, line)
		}
		lastTime = when
		delete(ev, "seq")
		delete(ev, "time")
		for k, v := range ev {
			if n, ok := v.(json.Number); ok {
				t.Errorf("event %d: unexpected number %s=%s", i, k, n)
			}
		}
		if !reflect.DeepEqual(ev, want[i]) {
			t.Errorf("event %d:\n got  %s\n want %v (plus seq and time)", i, line, want[i])
		}
		if strings.Contains(line, "pw7") || strings.Contains(strings.ToLower(line), "password") {
			t.Errorf("event %d leaks the room password: %s", i, line)
		}
	}
}

// showMember and showRoom mirror `rtcmesh rooms show --json`; decoding with
// DisallowUnknownFields rejects any other field (a password, say).
type showMember struct {
	SID      string  `json:"sid"`
	Name     *string `json:"name"`
	UserID   string  `json:"userId"`
	Gateway  string  `json:"gateway"`
	JoinedAt string  `json:"joinedAt"`
	Mic      *bool   `json:"mic"`
	Cam      *bool   `json:"cam"`
}

type showRoom struct {
	Room              string       `json:"room"`
	PasswordProtected bool         `json:"passwordProtected"`
	Members           []showMember `json:"members"`
}

type listRoom struct {
	Room              string `json:"room"`
	Members           int    `json:"members"`
	PasswordProtected bool   `json:"passwordProtected"`
}

func decodeStrict(t *testing.T, what, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON value:\n%s", what, out)
	}
}

// checkRoomsTools runs `rtcmesh rooms show/list` while three members are
// in a password-protected room (one with a media state), and again once
// they left. The output lists sid, name and gateway in join order, the
// right count, and neither the password nor its salted hash (read from KV).
func checkRoomsTools(t *testing.T, s *script, natsURL string, gwIDs []string) {
	s.waitLine(t, scenarioTimeout, "HOLD tools.members")
	res := s.results("tools")
	var room string
	if err := json.Unmarshal([]byte(mustResult(t, res, "room")), &room); err != nil {
		t.Fatal(err)
	}
	type member struct {
		sid, gw string
		name    *string
		mic     *bool
		cam     *bool
	}
	str := func(s string) *string { return &s }
	boolp := func(b bool) *bool { return &b }
	var members []member
	for i, label := range []string{"t1", "t2", "t3"} {
		gi, err := strconv.Atoi(mustResult(t, res, label+"gw"))
		if err != nil || gi < 0 || gi >= len(gwIDs) {
			t.Fatalf("RESULT %sgw: bad gateway index", label)
		}
		m := member{sid: mustResult(t, res, label), gw: gwIDs[gi]}
		switch i {
		case 0:
			m.name, m.mic, m.cam = str("Tess"), boolp(false), boolp(true)
		case 1:
			m.name = str("Uli")
		}
		members = append(members, m)
	}

	// The stored password hashes, which no output may show.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, shared.BucketRooms)
	if err != nil {
		t.Fatal(err)
	}
	key, err := shared.EscapeRoom(room)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"hunter2"}
	for _, m := range members {
		e, err := kv.Get(ctx, shared.MemberKey(key, m.sid))
		if err != nil {
			t.Fatalf("KV %s: %v", shared.MemberKey(key, m.sid), err)
		}
		var rec shared.Member
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Password == nil || rec.Password.Hash == "" || rec.Password.Salt == "" {
			t.Fatalf("member record of %s has no password hash: %s", m.sid, e.Value())
		}
		secrets = append(secrets, rec.Password.Hash, rec.Password.Salt)
	}
	noSecrets := func(what, out string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("%s shows the password or its hash/salt %q:\n%s", what, sec, out)
			}
		}
		for _, word := range []string{`"password"`, `"hash"`, `"salt"`} {
			if strings.Contains(out, word) {
				t.Errorf("%s has a %s field:\n%s", what, word, out)
			}
		}
	}

	showOut := tool(t, "rooms", "show", room, "--nats", natsURL, "--json")
	noSecrets("rooms show --json", showOut)
	var show showRoom
	decodeStrict(t, "rooms show --json", showOut, &show)
	if show.Room != room || !show.PasswordProtected || len(show.Members) != len(members) {
		t.Fatalf("rooms show --json: room %q, passwordProtected %v, %d members; want %q, true, %d:\n%s",
			show.Room, show.PasswordProtected, len(show.Members), room, len(members), showOut)
	}
	var lastJoined time.Time
	for i, m := range members {
		got := show.Members[i]
		joined, err := time.Parse(time.RFC3339Nano, got.JoinedAt)
		if got.SID != m.sid || got.Gateway != m.gw || !reflect.DeepEqual(got.Name, m.name) || got.UserID != "" ||
			!reflect.DeepEqual(got.Mic, m.mic) || !reflect.DeepEqual(got.Cam, m.cam) || err != nil || joined.Before(lastJoined) {
			t.Errorf("rooms show member %d: %+v (name %v mic %v cam %v); want sid %s gateway %s name %v mic %v cam %v, joinedAt in join order",
				i, got, deref(got.Name), derefB(got.Mic), derefB(got.Cam), m.sid, m.gw, deref(m.name), derefB(m.mic), derefB(m.cam))
		}
		lastJoined = joined
	}

	listOut := tool(t, "rooms", "list", "--nats", natsURL, "--json")
	noSecrets("rooms list --json", listOut)
	var list []listRoom
	decodeStrict(t, "rooms list --json", listOut, &list)
	found := false
	for _, r := range list {
		switch r.Room {
		case room:
			found = true
			if r.Members != len(members) || !r.PasswordProtected {
				t.Errorf("rooms list: %+v, want %d members, password protected", r, len(members))
			}
		case "stand-up café.1":
			t.Errorf("rooms list shows the presence scenario's room, which all members left: %+v", r)
		}
	}
	if !found {
		t.Errorf("rooms list --json has no room %q:\n%s", room, listOut)
	}
	// The tables too.
	table := tool(t, "rooms", "show", room, "--nats", natsURL)
	noSecrets("rooms show", table)
	for _, m := range members {
		if !strings.Contains(table, m.sid) || !strings.Contains(table, m.gw) {
			t.Errorf("rooms show table lacks %s on %s:\n%s", m.sid, m.gw, table)
		}
	}
	noSecrets("rooms list", tool(t, "rooms", "list", "--nats", natsURL))
	s.release(t)

	// Everyone left: the room is gone from the list and from KV.
	s.waitLine(t, scenarioTimeout, "HOLD tools.empty")
	listOut = tool(t, "rooms", "list", "--nats", natsURL, "--json")
	list = nil
	decodeStrict(t, "rooms list --json", listOut, &list)
	for _, r := range list {
		if r.Room == room {
			t.Errorf("rooms list still shows %q after every member left: %+v", room, r)
		}
	}
	showOut = tool(t, "rooms", "show", room, "--nats", natsURL, "--json")
	show = showRoom{}
	decodeStrict(t, "rooms show --json", showOut, &show)
	if show.Room != room || show.PasswordProtected || len(show.Members) != 0 {
		t.Errorf("rooms show after every member left: %s", bytes.TrimSpace([]byte(showOut)))
	}
	for _, m := range members {
		if _, err := kv.Get(ctx, shared.MemberKey(key, m.sid)); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("KV %s after the member left: %v, want ErrKeyNotFound", shared.MemberKey(key, m.sid), err)
		}
	}
	s.release(t)
}

func deref(s *string) string {
	if s == nil {
		return "<absent>"
	}
	return strconv.Quote(*s)
}

func derefB(b *bool) string {
	if b == nil {
		return "<absent>"
	}
	return strconv.FormatBool(*b)
}
