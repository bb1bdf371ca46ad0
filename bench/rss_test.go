package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestParsePIDs(t *testing.T) {
	cases := []struct {
		in   string
		want []PID
		err  bool
	}{
		{in: "1234", want: []PID{{"server", 1234}}},
		{in: "rtcmesh=10,node=20", want: []PID{{"rtcmesh", 10}, {"node", 20}}},
		{in: " gw = 5 , 6 ", want: []PID{{"gw", 5}, {"pid6", 6}}},
		{in: "7,8", want: []PID{{"pid7", 7}, {"pid8", 8}}},
		{in: "", want: nil},
		{in: "x", err: true},
		{in: "a=0", err: true},
		{in: "a=1,a=2", err: true},
		{in: "=3", err: true},
	}
	for _, tc := range cases {
		got, err := ParsePIDs(tc.in)
		if (err != nil) != tc.err || len(got) != len(tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestVmRSS(t *testing.T) {
	if v, err := parseVmRSS([]byte("Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t   1024 kB\n")); err != nil || v != 1<<20 {
		t.Errorf("VmRSS = %d, %v", v, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS: x kB\n"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if v, err := ReadRSS(os.Getpid()); err != nil || v == 0 {
		t.Errorf("own RSS = %d, %v", v, err)
	}
}

func TestStable(t *testing.T) {
	s := func(vs ...uint64) []sample {
		var out []sample
		for i, v := range vs {
			out = append(out, sample{time.Duration(i) * time.Second, v})
		}
		return out
	}
	cases := []struct {
		name string
		ss   []sample
		want bool
	}{
		{"too short", s(100, 100, 100), false},
		{"flat", s(100, 100, 100, 100, 100, 100), true},
		{"within 1%", s(1000, 1005, 1009, 1002, 1000, 1001), true},
		{"over 1% swing", s(1000, 1000, 1011, 1000, 1000, 1000), false},
		{"growing", s(100, 200, 300, 400, 500, 600), false},
		{"settled after growth", s(100, 500, 900, 1000, 1001, 1000, 1002, 1000, 1001), true},
		{"zero", s(0, 0, 0, 0, 0, 0), false},
	}
	for _, tc := range cases {
		if got := stable(tc.ss, 5*time.Second); got != tc.want {
			t.Errorf("%s: stable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSettle(t *testing.T) {
	vals := []uint64{100, 300, 500, 600, 600, 600, 600, 600, 600}
	i := 0
	read := func(int) (uint64, error) {
		v := vals[min(i, len(vals)-1)]
		i++
		return v, nil
	}
	res, err := settle(context.Background(), []PID{{"x", 1}}, read, time.Millisecond, 3*time.Millisecond, time.Second)
	if err != nil || len(res) != 1 || !res[0].settled || res[0].v != 600 {
		t.Fatalf("settle: %+v, %v", res, err)
	}
	res, err = settle(context.Background(), []PID{{"x", 1}}, func(int) (uint64, error) { i++; return uint64(i * 100), nil },
		time.Millisecond, 3*time.Millisecond, 20*time.Millisecond)
	if err != nil || res[0].settled {
		t.Fatalf("a growing process must not settle: %+v, %v", res, err)
	}
}
