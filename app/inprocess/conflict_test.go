package inprocess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/dapr/components-contrib/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/pipeline"
)

func TestIsConflict(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for name, tt := range map[string]struct {
		err  error
		want bool
	}{
		"mismatch":                    {state.NewETagError(state.ETagMismatch, nil), true},
		"invalid":                     {state.NewETagError(state.ETagInvalid, errors.New("bad")), true},
		"wrapped mismatch":            {fmt.Errorf("x: %w", state.NewETagError(state.ETagMismatch, nil)), true},
		"mismatch over a net failure": {state.NewETagError(state.ETagMismatch, netErr), false},
		"mismatch over a timeout":     {state.NewETagError(state.ETagMismatch, context.DeadlineExceeded), false},
		"plain error":                 {errors.New("disk full"), false},
	} {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tt.want, isConflict(tt.err)) })
	}
}

// TestRedisDownIsNotConflict: the redis store labels every failed etag
// write a mismatch; a server that is gone must not look like a conflict,
// or the pipeline would retry it as one.
func TestRedisDownIsNotConflict(t *testing.T) {
	c := redisComponent(t)
	s := openState(t, c)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "dev1", []byte(`1`), ""))
	etag := get(t, s, "dev1").ETag

	shutdownRedis(t, c.Metadata["redisHost"])

	for name, err := range map[string]error{
		"insert": s.Set(ctx, "dev2", []byte(`1`), ""),
		"update": s.Set(ctx, "dev1", []byte(`2`), etag),
		"delete": s.Delete(ctx, "dev1", etag),
	} {
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, pipeline.ErrConflict, name)
	}
}

// shutdownRedis stops the server at addr with SHUTDOWN NOSAVE.
func shutdownRedis(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("SHUTDOWN NOSAVE\r\n"))
	require.NoError(t, err)
	_, _ = conn.Read(make([]byte, 64)) // the server closes the connection as it exits
}
