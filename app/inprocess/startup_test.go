package inprocess

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dapr/components-contrib/bindings"
	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/components-contrib/state"
	"github.com/dapr/kit/logger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
)

// fake is a component whose Init the test decides, counting Close calls.
type fake struct {
	init   func(ctx context.Context) error
	closed atomic.Int32
}

func (f *fake) Close() error { f.closed.Add(1); return nil }

// fakeStore is a state store with the fake's Init; the tests call nothing
// else on it.
type fakeStore struct {
	state.Store
	f *fake
}

func (s fakeStore) Init(ctx context.Context, _ state.Metadata) error { return s.f.init(ctx) }
func (s fakeStore) Features() []state.Feature                        { return []state.Feature{state.FeatureETag} }
func (s fakeStore) Close() error                                     { return s.f.Close() }

// fakeBinding is an input and output binding with the fake's Init.
type fakeBinding struct {
	bindings.InputBinding
	f *fake
}

func (b fakeBinding) Init(ctx context.Context, _ bindings.Metadata) error { return b.f.init(ctx) }
func (b fakeBinding) Close() error                                        { return b.f.Close() }
func (b fakeBinding) Operations() []bindings.OperationKind                { return nil }
func (b fakeBinding) GetComponentMetadata() metadata.MetadataMap          { return nil }
func (b fakeBinding) Invoke(context.Context, *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	return nil, errors.ErrUnsupported
}

// registerFake makes state.fake and bindings.fake instances of f until the
// test ends.
func registerFake(t *testing.T, f *fake) {
	t.Helper()
	registry["state.fake"] = constructors{state: func(logger.Logger) state.Store { return fakeStore{f: f} }}
	registry["bindings.fake"] = constructors{
		input:  func(logger.Logger) bindings.InputBinding { return fakeBinding{f: f} },
		output: func(logger.Logger) bindings.OutputBinding { return fakeBinding{f: f} },
	}
	t.Cleanup(func() {
		delete(registry, "state.fake")
		delete(registry, "bindings.fake")
	})
}

// role opens a component as the app opens one of its three, closing it
// when the test ends if it opened.
type role struct {
	name, typ string
	open      func(t *testing.T, c component.Component) error
}

var roles = []role{
	{"state store", "state.fake", func(t *testing.T, c component.Component) error {
		s, err := OpenState(t.Context(), c, testAppID, nil)
		if err == nil {
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
		}
		return err
	}},
	{"input binding", "bindings.fake", func(t *testing.T, c component.Component) error {
		in, err := OpenInput(t.Context(), c, nil)
		if err == nil {
			t.Cleanup(func() { assert.NoError(t, in.Close()) })
		}
		return err
	}},
	{"output binding", "bindings.fake", func(t *testing.T, c component.Component) error {
		out, err := OpenOutput(t.Context(), c, nil)
		if err == nil {
			t.Cleanup(func() { assert.NoError(t, out.Close()) })
		}
		return err
	}},
}

// TestInitTimeout: every component's Init is bounded by its
// spec.initTimeout, whether or not it honours its context; one that
// finishes after being given up is closed.
func TestInitTimeout(t *testing.T) {
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			c := component.Component{Name: "c", Type: r.typ, InitTimeout: 50 * time.Millisecond}

			t.Run("Init that honours its context", func(t *testing.T) {
				f := &fake{init: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
				registerFake(t, f)
				err := openWithin(t, r, c, 2*time.Second)
				require.Error(t, err)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Contains(t, err.Error(), `component "c": init `+r.typ+`: timed out after 50ms (spec.initTimeout)`)
			})

			t.Run("Init that ignores its context", func(t *testing.T) {
				release := make(chan struct{})
				f := &fake{init: func(context.Context) error { <-release; return nil }}
				registerFake(t, f)
				err := openWithin(t, r, c, 2*time.Second)
				require.Error(t, err)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Contains(t, err.Error(), `component "c": init `+r.typ+`: timed out after 50ms (spec.initTimeout)`)
				assert.Zero(t, f.closed.Load())
				close(release)
				assert.Eventually(t, func() bool { return f.closed.Load() == 1 }, 2*time.Second, 5*time.Millisecond,
					"what the late Init opened is closed")
			})

			t.Run("Init within its timeout", func(t *testing.T) {
				f := &fake{init: func(context.Context) error { time.Sleep(10 * time.Millisecond); return nil }}
				registerFake(t, f)
				require.NoError(t, r.open(t, c))
				assert.Zero(t, f.closed.Load())
			})
		})
	}
}

// openWithin opens c as r, failing the test if that takes longer than
// limit: an Init the timeout does not bound would otherwise hang the test.
func openWithin(t *testing.T, r role, c component.Component, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.open(t, c) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("opening the %s took more than %s: its Init is not bounded", r.name, limit)
		return nil
	}
}

// TestInitTimeoutDefault: without spec.initTimeout, Init gets daprd's 5 s.
func TestInitTimeoutDefault(t *testing.T) {
	assert.Equal(t, 5*time.Second, initTimeout(component.Component{Name: "c", Type: "state.fake"}))
	assert.Equal(t, time.Minute, initTimeout(component.Component{InitTimeout: time.Minute}))

	f := &fake{init: func(ctx context.Context) error {
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline) < 4*time.Second || time.Until(deadline) > 5*time.Second {
			return errors.New("not a 5s deadline")
		}
		return nil
	}}
	registerFake(t, f)
	for _, r := range roles {
		assert.NoError(t, r.open(t, component.Component{Name: "c", Type: r.typ}), r.name)
	}
}

// TestInitTimeoutRedis: a real state.redis whose server accepts and never
// answers is given up at its initTimeout.
func TestInitTimeoutRedis(t *testing.T) {
	addr := silentServer(t)
	c := component.Component{Name: "statestore", Type: "state.redis", InitTimeout: 300 * time.Millisecond,
		Metadata: map[string]string{"redisHost": addr}}
	start := time.Now()
	_, err := OpenState(t.Context(), c, testAppID, nil)
	assert.Less(t, time.Since(start), 3*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `component "statestore": init state.redis: timed out after 300ms (spec.initTimeout)`)
}

// TestIgnoreErrors: a component that fails to start is skipped when its
// manifest sets ignoreErrors, as daprd skips it, only where the app can go
// without it (the output binding: no live updates); the app cannot run
// without its state store or input binding, so those fail whatever the
// manifest says, naming the component.
func TestIgnoreErrors(t *testing.T) {
	registerFake(t, &fake{init: func(context.Context) error { return errors.New("boom") }})
	tests := []struct {
		role        string
		ignore      bool
		wantSkipped bool
		wantErr     string
	}{
		{"state store", false, false, `component "c": init state.fake: boom`},
		{"state store", true, false, `component "c": init state.fake: boom (spec.ignoreErrors is set, but the app cannot run without its state store)`},
		{"input binding", false, false, `component "c": init bindings.fake: boom`},
		{"input binding", true, false, `component "c": init bindings.fake: boom (spec.ignoreErrors is set, but the app cannot run without its input binding)`},
		{"output binding", false, false, `component "c": init bindings.fake: boom`},
		{"output binding", true, true, `component "c": init bindings.fake: boom; skipped, as its spec.ignoreErrors is set`},
	}
	for _, tt := range tests {
		r := roleNamed(t, tt.role)
		t.Run(tt.role+", ignoreErrors "+map[bool]string{true: "true", false: "false"}[tt.ignore], func(t *testing.T) {
			err := r.open(t, component.Component{Name: "c", Type: r.typ, IgnoreErrors: tt.ignore})
			require.Error(t, err)
			assert.Equal(t, tt.wantErr, err.Error())
			assert.Equal(t, tt.wantSkipped, errors.Is(err, ErrSkipped))
		})
	}

	t.Run("a real state store at a closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		// Redis's client dials again until the context ends: the init
		// timeout is what ends the start.
		c := component.Component{Name: "statestore", Type: "state.redis", IgnoreErrors: true,
			InitTimeout: 300 * time.Millisecond, Metadata: map[string]string{"redisHost": addr}}
		start := time.Now()
		_, err = OpenState(t.Context(), c, testAppID, nil)
		assert.Less(t, time.Since(start), 3*time.Second)
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrSkipped)
		assert.Contains(t, err.Error(), `component "statestore": init state.redis: timed out after 300ms (spec.initTimeout)`)
		assert.Contains(t, err.Error(), "the app cannot run without its state store")
	})

	t.Run("a real output binding without an endpoint", func(t *testing.T) {
		c := component.Component{Name: "signalr", Type: "bindings.azure.signalr", IgnoreErrors: true,
			Metadata: map[string]string{"hub": "enviromon"}}
		_, err := OpenOutput(t.Context(), c, nil)
		assert.ErrorIs(t, err, ErrSkipped)
		assert.Contains(t, err.Error(), `component "signalr": init bindings.azure.signalr: `)
	})

	t.Run("a type that cannot run in-process", func(t *testing.T) {
		c := component.Component{Name: "queue", Type: "bindings.kafka"}
		assert.NotErrorIs(t, Check(c), ErrSkipped)
		c.IgnoreErrors = true
		err := Check(c)
		assert.ErrorIs(t, err, ErrSkipped)
		assert.Contains(t, err.Error(), `component "queue": type "bindings.kafka" cannot run in-process`)
		_, err = OpenOutput(t.Context(), c, nil)
		assert.ErrorIs(t, err, ErrSkipped)
		_, err = OpenState(t.Context(), component.Component{Name: "statestore", Type: "state.cassandra", IgnoreErrors: true}, testAppID, nil)
		assert.NotErrorIs(t, err, ErrSkipped)
		assert.ErrorContains(t, err, "the app cannot run without its state store")
	})
}

func roleNamed(t *testing.T, name string) role {
	t.Helper()
	for _, r := range roles {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("no role %q", name)
	return role{}
}

// silentServer accepts TCP connections on loopback and never answers, until
// the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		assert.NoError(t, ln.Close())
		<-done
		for _, c := range conns {
			assert.NoError(t, c.Close())
		}
	})
	return ln.Addr().String()
}
