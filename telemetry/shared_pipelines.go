package telemetry

import (
	"context"
	"sync"
)

// pipelines holds the process-wide export pipelines of one kind (log
// records, event spans), one per key (the resolved exporter setting), each
// with the number of live acquisitions. Caddy provisions a new config before
// it cleans up the old one, so the count briefly reaches two and the
// exporter (and its connection) survives the reload.
type pipelines[P interface{ Shutdown(context.Context) error }] struct {
	mu sync.Mutex
	m  map[string]*sharedPipeline[P]
}

type sharedPipeline[P any] struct {
	p    P
	refs int
}

func noRelease(context.Context) error { return nil }

// acquire returns the pipeline of key, made by create on first use, and a
// release function to call once when the caller no longer needs it; the
// last release shuts the pipeline down (flushing it). Calling a release
// function again is a no-op. create returns ok=false when the setting
// means "off": then acquire returns the zero P and keeps nothing.
func (ps *pipelines[P]) acquire(key string, create func() (p P, ok bool, err error)) (P, func(context.Context) error, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sp, found := ps.m[key]
	if !found {
		p, ok, err := create()
		if err != nil || !ok {
			var zero P
			return zero, noRelease, err
		}
		sp = &sharedPipeline[P]{p: p}
		if ps.m == nil {
			ps.m = map[string]*sharedPipeline[P]{}
		}
		ps.m[key] = sp
	}
	sp.refs++
	var once sync.Once
	release := func(ctx context.Context) error {
		var err error
		once.Do(func() {
			if ps.drop(key, sp) {
				// Outside the lock: flushing to a slow collector must not
				// stall a concurrent acquire, which gets a fresh pipeline.
				err = sp.p.Shutdown(ctx)
			}
		})
		return err
	}
	return sp.p, release, nil
}

// drop drops one reference to sp and reports whether it was the last,
// forgetting sp then.
func (ps *pipelines[P]) drop(key string, sp *sharedPipeline[P]) (last bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sp.refs--
	last = sp.refs == 0
	if last && ps.m[key] == sp {
		delete(ps.m, key)
	}
	return last
}

// size is the number of live pipelines (for tests).
func (ps *pipelines[P]) size() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.m)
}
