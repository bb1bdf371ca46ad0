package shared_test

import (
	"strconv"
	"testing"

	"github.com/rtcmesh/rtcmesh/shared"
)

func TestParseBeat(t *testing.T) {
	cases := []struct {
		name    string
		subject string
		data    string
		id      string
		seq     uint64
		ok      bool
	}{
		{"valid", shared.GatewayBeat("gw-1"), "42", "gw-1", 42, true},
		{"zero", shared.GatewayBeat("gw-1"), "0", "gw-1", 0, true},
		{"max", shared.GatewayBeat("g"), "18446744073709551615", "g", 1<<64 - 1, true},
		{"empty payload", shared.GatewayBeat("gw-1"), "", "", 0, false},
		{"not a number", shared.GatewayBeat("gw-1"), "x1", "", 0, false},
		{"negative", shared.GatewayBeat("gw-1"), "-1", "", 0, false},
		{"too long", shared.GatewayBeat("gw-1"), "000000000000000000001", "", 0, false},
		{"alive subject", shared.GatewayAlive("gw-1"), "1", "", 0, false},
		{"dotted id", "gw.a.b.beat", "1", "", 0, false},
		{"empty id", "gw..beat", "1", "", 0, false},
		{"other prefix", "gx.a.beat", "1", "", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, seq, err := shared.ParseBeat(tc.subject, []byte(tc.data))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseBeat(%q, %q) error %v, want ok=%v", tc.subject, tc.data, err, tc.ok)
			}
			if tc.ok && (id != tc.id || seq != tc.seq) {
				t.Fatalf("ParseBeat = %q %d, want %q %d", id, seq, tc.id, tc.seq)
			}
		})
	}
}

func FuzzParseBeat(f *testing.F) {
	f.Add(shared.GatewayBeat("gw-1"), []byte("7"))
	f.Add("gw..beat", []byte(""))
	f.Add("gw.a.b.beat", []byte("99999999999999999999999"))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		id, seq, err := shared.ParseBeat(subject, data)
		if err != nil {
			return
		}
		if !shared.ValidGatewayID(id) || shared.GatewayBeat(id) != subject {
			t.Fatalf("ParseBeat(%q) gave id %q", subject, id)
		}
		if strconv.FormatUint(seq, 10) != string(data) && len(data) > shared.MaxBeatBytes {
			t.Fatalf("accepted a payload of %d bytes", len(data))
		}
	})
}
