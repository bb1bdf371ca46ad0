package bench

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		in    string
		kind  pktKind
		name  string
		nargs int
		arg0  string
		ack   bool
		err   bool
	}{
		{in: "2", kind: pkPing},
		{in: "3probe", kind: pkProbe},
		{in: "3", kind: pkPong},
		{in: "6", kind: pkNoop},
		{in: "1", kind: pkClose},
		{in: "5", kind: pkUpgrade},
		{in: `0{"sid":"x"}`, kind: pkOpen},
		{in: `40{"sid":"abc"}`, kind: pkConnect},
		{in: `44{"message":"no"}`, kind: pkConnectError},
		{in: "41", kind: pkDisconnect},
		{in: `43[1]`, kind: pkAck},
		{in: `451-["x",{"_placeholder":true,"num":0}]`, kind: pkBinary},
		{in: `42/admin,["x"]`, kind: pkNamespace},
		{in: `42["join-ok",{"roomId":"r"}]`, kind: pkEvent, name: "join-ok", nargs: 1, arg0: `{"roomId":"r"}`},
		{in: `42/,["a"]`, kind: pkEvent, name: "a"},
		{in: `42 [ "a" , 1 , [2] ] `, kind: pkEvent, name: "a", nargs: 2, arg0: "1"},
		{in: `4212["a",{}]`, kind: pkEvent, name: "a", nargs: 1, arg0: "{}", ack: true},
		{in: `42["#rtcio:init-offer",{"source":"s"},"offset-1"]`, kind: pkEvent, name: "#rtcio:init-offer", nargs: 2, arg0: `{"source":"s"}`},
		{in: `42["a\"b"]`, kind: pkEvent, name: `a"b`},
		{in: "", err: true},
		{in: "9", err: true},
		{in: "4", err: true},
		{in: "49", err: true},
		{in: "42", kind: pkEvent, err: true},
		{in: "42[]", kind: pkEvent, err: true},
		{in: "42[1]", kind: pkEvent, err: true},
		{in: `42["a",]`, kind: pkEvent, err: true},
		{in: `42["a"]x`, kind: pkEvent, err: true},
		{in: `42["a",{"k":}]`, kind: pkEvent, err: true},
		{in: `42["a",01]`, kind: pkEvent, err: true},
		{in: `42["a",tru]`, kind: pkEvent, err: true},
		{in: `42["a\x"]`, kind: pkEvent, err: true},
	}
	for _, tc := range cases {
		pk, err := decode([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if pk.kind != tc.kind {
			t.Errorf("%q: kind %v, want %v", tc.in, pk.kind, tc.kind)
		}
		if pk.kind == pkEvent && (pk.ev.Name() != tc.name || pk.ev.nargs != tc.nargs || string(pk.ev.arg0) != tc.arg0 || pk.ev.hasAck != tc.ack) {
			t.Errorf("%q: event %q nargs %d arg0 %q ack %v", tc.in, pk.ev.Name(), pk.ev.nargs, pk.ev.arg0, pk.ev.hasAck)
		}
	}
}

func TestFields(t *testing.T) {
	obj := []byte(` { "id" : "abc", "n":-42, "data":{"seq":3,"x":[1,{"id":"no"}]}, "esc":"a\nb", "big":12345678901234567890, "f":1.5 } `)
	if v, ok := strField(obj, "id"); !ok || string(v) != "abc" {
		t.Errorf("id = %q %v", v, ok)
	}
	if n, ok := intField(obj, "n"); !ok || n != -42 {
		t.Errorf("n = %d %v", n, ok)
	}
	if d := field(obj, "data"); string(d) != `{"seq":3,"x":[1,{"id":"no"}]}` {
		t.Errorf("data = %s", d)
	}
	if n, ok := intField(field(obj, "data"), "seq"); !ok || n != 3 {
		t.Errorf("data.seq = %d %v", n, ok)
	}
	for _, k := range []string{"esc", "big", "f", "missing", "seq"} {
		_, okS := strField(obj, k)
		_, okI := intField(obj, k)
		if okS || okI {
			t.Errorf("%s: a plain string or integer where there is none", k)
		}
	}
	// field expects an object the parser already validated; on anything
	// else it finds nothing rather than failing.
	for _, bad := range []string{``, `[]`, `{"a"}`, `{"b":1,}`, `"x"`} {
		if field([]byte(bad), "a") != nil {
			t.Errorf("%q: found a field", bad)
		}
	}
}

// FuzzDecode feeds arbitrary packets to the parser: it never panics, and
// on Socket.IO events it agrees with encoding/json exactly (same accepted
// inputs, same name, argument count and first argument).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`42["join-ok",{"roomId":"r"}]`,
		`42["#rtcio:message",{"source":"a","target":"b","data":{"e":1,"seq":2,"ts":3}}]`,
		`42["#rtcio:init-offer",{"source":"s"},"1-0"]`,
		`42["user-connected",{"id":"x","name":"bench-1"}]`,
		`42["a\u0041\n",1e5,-0.5,true,false,null,[[]],{"":{}}]`,
		`4212["x"]`, `42/,["x"]`, `2`, `3probe`, `6`, `0{"sid":"a"}`, `40{"sid":"b"}`, `44{"message":"m"}`,
		`42[`, `42["a",01]`, `42[1]`, `42["\ud800"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := decode(b)
		if len(b) < 3 || string(b[:2]) != "42" || (len(b) > 2 && b[2] >= '0' && b[2] <= '9') || b[2] == '/' {
			return
		}
		var arr []json.RawMessage
		jerr := json.Unmarshal(b[2:], &arr)
		var name string
		// json.Unmarshal accepts null for a string: insist on a real one.
		isEvent := jerr == nil && len(arr) > 0 && arr[0][0] == '"' && json.Unmarshal(arr[0], &name) == nil
		if isEvent != (err == nil) {
			t.Fatalf("%q: decode error %v, encoding/json event %v (%v)", b, err, isEvent, jerr)
		}
		if !isEvent {
			return
		}
		if pk.kind != pkEvent || pk.ev.nargs != len(arr)-1 {
			t.Fatalf("%q: kind %v nargs %d, want %d", b, pk.kind, pk.ev.nargs, len(arr)-1)
		}
		if pk.ev.nargs > 0 && string(pk.ev.arg0) != string(arr[1]) {
			t.Fatalf("%q: arg0 %q, want %q", b, pk.ev.arg0, arr[1])
		}
		if utf8.Valid(pk.ev.name) && pk.ev.Name() != name {
			t.Fatalf("%q: name %q, want %q", b, pk.ev.Name(), name)
		}
	})
}
