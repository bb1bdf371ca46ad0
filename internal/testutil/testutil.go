// Package testutil holds small helpers shared by the project's tests.
package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond every 5 ms until it holds, failing the test with
// what when timeout passes first. Tests use it instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
