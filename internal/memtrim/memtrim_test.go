package memtrim

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var sink []byte

func TestCheckReturnsFreedHeap(t *testing.T) {
	tr := New(Config{Threshold: 4 << 20})
	// A large allocation, dropped and collected, leaves free spans that
	// the background scavenger releases only slowly.
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = byte(i)
	}
	sink = nil
	runtime.GC()
	before := tr.freeRetained()
	if before < 4<<20 {
		t.Fatalf("after dropping 64 MiB, free retained heap is only %d bytes", before)
	}
	if !tr.Check() {
		t.Fatalf("Check did not trim %d free bytes over a 4 MiB threshold", before)
	}
	if after := tr.freeRetained(); after >= before {
		t.Fatalf("free retained heap %d -> %d: nothing returned", before, after)
	}
}

func TestCheckBelowThresholdDoesNothing(t *testing.T) {
	tr := New(Config{Threshold: 1 << 40})
	if tr.Check() {
		t.Fatal("Check trimmed below its threshold")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(Config{Interval: time.Millisecond}).Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
