package main

import (
	"testing"
)

func TestTableString(t *testing.T) {
	for _, tc := range []struct {
		name string
		head []string
		rows [][]string
		want string
	}{
		{"aligned", []string{"deployment", "joins/s>"}, [][]string{{"dev", "1,234/s"}, {"node", "410/s"}},
			"| deployment | joins/s |\n|---|---:|\n| dev | 1,234/s |\n| node | 410/s |\n"},
		{"short row padded", []string{"a", "b", "c"}, [][]string{{"x"}},
			"| a | b | c |\n|---|---|---|\n| x |  |  |\n"},
		{"escaped", []string{"kind"}, [][]string{{"a|b\nc\r"}},
			"| kind |\n|---|\n| a\\|b c |\n"},
		{"no rows", []string{"x>"}, nil, "| x |\n|---:|\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTable(tc.head...)
			for _, r := range tc.rows {
				tb.add(r...)
			}
			if got := tb.String(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestGroupDigits(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 19848: "19,848", 100000: "100,000",
		1234567: "1,234,567", -1234: "-1,234", -12: "-12"} {
		if got := groupDigits(in); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtMS(0), "0 ms"},
		{fmtMS(0.423), "0.42 ms"},
		{fmtMS(12.345), "12.3 ms"},
		{fmtMS(1234.4), "1,234 ms"},
		{fmtMS(12345), "12.3 s"},
		{fmtRate(12.34), "12.3/s"},
		{fmtRate(12345.6), "12,346/s"},
		{fmtKB(7950), "8.0 KB"},
		{fmtKB(-120), "-0.1 KB"},
		{fmtMB(95_000_000), "95.0 MB"},
		{fmtRatio(0.4123), "0.41×"},
		{fmtRatio(3), "3.00×"},
		{fmtRatio(12.6), "13×"},
		{clip("a  b\n c", 10), "a b c"},
		{clip("abcdefghijkl", 5), "abcde…"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestRatio(t *testing.T) {
	ref := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		v    float64
		ref  *float64
		want string
	}{
		{"half", 5, ref(10), "x (0.50×)"},
		{"triple", 30, ref(10), "x (3.00×)"},
		{"no node", 5, nil, "x"},
		{"node zero", 5, ref(0), "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withRatio("x", tc.v, tc.ref); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, ok := ratio(1, 0); ok {
		t.Error("ratio to zero is ok")
	}
}

func TestCountsCell(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]int64
		want string
	}{
		{nil, "0"},
		{map[string]int64{"connect:timeout": 3}, "connect:timeout 3"},
		{map[string]int64{"b": 1, "a": 1, "c": 80123}, "c 80,123, a 1, b 1"},
	} {
		if got := countsCell(tc.in); got != tc.want {
			t.Errorf("countsCell(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFmtNs(t *testing.T) {
	for in, want := range map[float64]string{240.1: "240.1 ns", 2590: "2.59 µs", 11178: "11.2 µs", 111780: "112 µs", 812345: "812 µs", 1050000: "1.05 ms"} {
		if got := fmtNs(in); got != want {
			t.Errorf("fmtNs(%v) = %q, want %q", in, got, want)
		}
	}
}
