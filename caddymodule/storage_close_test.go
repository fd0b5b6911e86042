package caddymodule

import (
	"errors"
	"testing"
	"time"
)

func TestCloseWithinGivesUpOnAStuckClose(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	start := time.Now()
	err := closeWithin(func() error { <-stuck; return nil }, 50*time.Millisecond)
	if err == nil {
		t.Fatal("a close that never returns was reported as done")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("closeWithin waited %s", waited)
	}
	want := errors.New("boom")
	if got := closeWithin(func() error { return want }, time.Second); got != want {
		t.Fatalf("a finished close's error: %v", got)
	}
}
