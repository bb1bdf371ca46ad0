package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// table is a GitHub-flavoured markdown table.
type table struct {
	head  []string
	right []bool // right-align the column (numbers)
	rows  [][]string
}

// newTable starts a table; a heading ending in ">" is right-aligned (the
// marker is dropped).
func newTable(head ...string) *table {
	t := &table{}
	for _, h := range head {
		h, r := strings.CutSuffix(h, ">")
		t.head, t.right = append(t.head, h), append(t.right, r)
	}
	return t
}

// add appends a row, padded or cut to the table's width.
func (t *table) add(cells ...string) {
	row := make([]string, len(t.head))
	copy(row, cells)
	t.rows = append(t.rows, row)
}

// String renders the table, one row per line, with cells escaped.
func (t *table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + escapeCell(c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for _, r := range t.right {
		if r {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// escapeCell keeps a cell on one line and its pipes literal.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", " ")
}

// groupDigits writes an integer with thousands separators: 19848 → 19,848.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtInt(n int) string { return groupDigits(int64(n)) }

// fmtMS formats milliseconds with about three significant digits.
func fmtMS(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0 ms"
	case a < 10:
		return fmt.Sprintf("%.2f ms", v)
	case a < 100:
		return fmt.Sprintf("%.1f ms", v)
	case a < 10000:
		return groupDigits(int64(math.Round(v))) + " ms"
	}
	return fmt.Sprintf("%.1f s", v/1000)
}

// fmtRate formats a per-second rate.
func fmtRate(v float64) string {
	if math.Abs(v) < 100 {
		return fmt.Sprintf("%.1f/s", v)
	}
	return groupDigits(int64(math.Round(v))) + "/s"
}

// fmtKB formats bytes in KB of 1,000 bytes, the unit of the targets.
func fmtKB(b float64) string { return fmt.Sprintf("%.1f KB", b/1000) }

// fmtMB formats bytes in MB of 10⁶ bytes.
func fmtMB(b float64) string { return fmt.Sprintf("%.1f MB", b/1e6) }

// ratio is v / ref; ok is false without a usable reference.
func ratio(v, ref float64) (float64, bool) {
	if ref == 0 || math.IsNaN(ref) || math.IsNaN(v) {
		return 0, false
	}
	return v / ref, true
}

func fmtRatio(r float64) string {
	if math.Abs(r) >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// withRatio appends "(r×)", the ratio of v to the node figure ref, to a
// formatted value; nothing when there is no reference.
func withRatio(s string, v float64, ref *float64) string {
	if ref == nil {
		return s
	}
	if r, ok := ratio(v, *ref); ok {
		return s + " (" + fmtRatio(r) + ")"
	}
	return s
}

// countsCell lists {kind: count} as "kind 3, other 1", "0" when empty.
func countsCell(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { // largest first, then by name
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+groupDigits(m[k]))
	}
	return strings.Join(parts, ", ")
}

// clip shortens s to n bytes for a table cell.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
