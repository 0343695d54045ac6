package inprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/enviromon/enviromon/app/component"
)

// ErrSkipped marks a component that could not start while its manifest
// sets spec.ignoreErrors: daprd logs such a failure and goes on without the
// component. Check and OpenOutput return it; OpenState and OpenInput never
// do, because the app cannot run without its state store or its input
// binding.
var ErrSkipped = errors.New("skipped, as its spec.ignoreErrors is set")

// optional is the error of a component the app can go without: skipped
// when its manifest says so.
func optional(c component.Component, err error) error {
	if c.IgnoreErrors {
		return fmt.Errorf("%w; %w", err, ErrSkipped)
	}
	return err
}

// required is the error of a component the app cannot go without, naming
// what it is for: spec.ignoreErrors does not make daprd's choice here.
func required(c component.Component, role string, err error) error {
	if c.IgnoreErrors {
		return fmt.Errorf("%w (spec.ignoreErrors is set, but the app cannot run without its %s)", err, role)
	}
	return err
}

// initTimeout is how long c's Init may take: its spec.initTimeout, else
// daprd's default.
func initTimeout(c component.Component) time.Duration {
	if c.InitTimeout > 0 {
		return c.InitTimeout
	}
	return component.DefaultInitTimeout
}

// initialize runs start, a component's Init, bounded by c's init timeout as
// daprd bounds it, and wraps its error as daprd's callers read it. Unlike
// daprd it does not wait for an Init that ignores its context: that Init
// is left to finish on its own, and stop (the component's Close) releases
// whatever it opened if it ever succeeds; a failure of that Close goes to
// log.
func initialize(ctx context.Context, c component.Component, log *slog.Logger, start func(context.Context) error, stop func() error) error {
	d := initTimeout(c)
	ictx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- start(ictx) }()

	select {
	case err := <-done:
		switch {
		case err == nil:
			return nil
		case errors.Is(ictx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
			return fmt.Errorf("component %q: init %s: timed out after %s (spec.initTimeout): %w", c.Name, c.Type, d, err)
		}
		return fmt.Errorf("component %q: init %s: %w", c.Name, c.Type, err)
	case <-ictx.Done():
	}
	go func() {
		if <-done != nil {
			return
		}
		if err := stop(); err != nil && log != nil {
			log.Warn("closing a component whose init ended after its timeout", "component", c.Name, "err", err)
		}
	}()
	if ctx.Err() != nil {
		return fmt.Errorf("component %q: init %s: %w", c.Name, c.Type, context.Cause(ctx))
	}
	return fmt.Errorf("component %q: init %s: timed out after %s (spec.initTimeout): %w", c.Name, c.Type, d, context.DeadlineExceeded)
}
