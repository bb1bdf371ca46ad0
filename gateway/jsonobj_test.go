package gateway

import (
	"encoding/json"
	"testing"
)

func TestObjectStamp(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"source":"spoof","target":"t","data":{"a":[1, 2]}}`, `{"source":"me","target":"t","data":{"a":[1, 2]}}`},
		{`{"target":"t","data":1}`, `{"source":"me","target":"t","data":1}`},
		{`{"source":"a","x":1,"source":"b"}`, `{"source":"me","x":1,"source":"me"}`},
		{` { "target" : "t" } `, `{"source":"me","target":"t"}`},
	}
	for _, tc := range cases {
		o, err := parseObject(json.RawMessage(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		o.stamp("source", jsonString("me"))
		if got := string(o.encode(nil)); got != tc.want {
			t.Fatalf("%s: got %s want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`[]`, `"x"`, `null`, `{`, `{"a":1}x`, `{"a":}`, `1`} {
		if _, err := parseObject(json.RawMessage(bad)); err == nil {
			t.Fatalf("%s parsed as an object", bad)
		}
	}
	o, _ := parseObject(json.RawMessage(`{"roomId":"a","roomId":"b","n":null,"m":5}`))
	if s, present, isString := o.str("roomId"); s != "b" || !present || !isString {
		t.Fatalf("last duplicate must win: %q", s)
	}
	if _, present, _ := o.str("n"); present {
		t.Fatal("null counted as present")
	}
	if _, present, isString := o.str("m"); !present || isString {
		t.Fatal("number counted as string")
	}
}

// FuzzParseObject checks the relay's object parser on arbitrary client
// input: it never panics, and an accepted object re-encodes, after
// stamping, to valid JSON whose members are the originals byte for byte.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{"source":"a","target":"b","data":{"description":{"type":"offer","sdp":"v=0\r\n"}}}`,
		`{"roomId":"x.y z","mic":true,"cam":false}`, `{}`, `{"a":{"b":[1,{"c":null}]}}`, `[]`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseObject(b)
		if err != nil {
			return
		}
		o.stamp("source", jsonString("me"))
		enc := o.encode(nil)
		if !json.Valid(enc) {
			t.Fatalf("%q re-encoded to invalid JSON %q", b, enc)
		}
		again, err := parseObject(enc)
		if err != nil || len(again.keys) != len(o.keys) {
			t.Fatalf("re-encoding of %q does not parse back: %v", b, err)
		}
		for i := range o.keys {
			if again.keys[i] != o.keys[i] || string(again.vals[i]) != string(o.vals[i]) {
				t.Fatalf("member %d changed: %q=%s -> %q=%s", i, o.keys[i], o.vals[i], again.keys[i], again.vals[i])
			}
		}
	})
}
