package dapr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/enviromon/enviromon/app/pipeline"
)

// sdkErr is a daprd answer as the SDK returns it: a gRPC status wrapped
// with the SDK's own prefix.
func sdkErr(code codes.Code, msg string) error {
	return fmt.Errorf("error saving state: %w", status.Error(code, msg))
}

// The texts below are daprd v1.16's (pkg/api/grpc/grpc.go, pkg/messages)
// around components-contrib v1.16's store errors.
var daprdAnswers = map[string]struct {
	err      error
	conflict bool
}{
	"etag mismatch": {sdkErr(codes.Aborted,
		"failed saving state in state store state: possible etag mismatch. error from state store"), true},
	"invalid etag (redis, non-number)": {sdkErr(codes.InvalidArgument,
		`failed saving state in state store state: invalid etag value: strconv.Atoi: parsing "x": invalid syntax`), true},
	"store not found": {sdkErr(codes.InvalidArgument, "state store nope is not found"), false},
	"illegal key":     {sdkErr(codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'"), false},
	"redis refuses insert onto existing key": {sdkErr(codes.Internal,
		"failed saving state in state store state: failed to set key t||dev1: ERR user_script:13: failed to set key t||dev1 script: 4e08f13b, on @user_script:13."), true},
	"redis down": {sdkErr(codes.Internal,
		"failed saving state in state store state: failed to set key t||dev1: dial tcp 127.0.0.1:6379: connect: connection refused"), false},
	"store failure":     {sdkErr(codes.Internal, "failed saving state in state store state: database is locked"), false},
	"sidecar down":      {sdkErr(codes.Unavailable, "connection error: desc = \"transport: Error while dialing\""), false},
	"deadline":          {sdkErr(codes.DeadlineExceeded, "context deadline exceeded"), false},
	"context cancelled": {fmt.Errorf("error saving state: %w", context.Canceled), false},
}

func TestStateConflictMapping(t *testing.T) {
	ops := map[string]struct {
		prefix string
		call   func(s *State) error
	}{
		"insert": {`set "dev1": `, func(s *State) error { return s.Set(t.Context(), "dev1", []byte(`{}`), "") }},
		"update": {`set "dev1": `, func(s *State) error { return s.Set(t.Context(), "dev1", []byte(`{}`), "e1") }},
		"delete": {`delete "dev1": `, func(s *State) error { return s.Delete(t.Context(), "dev1", "e1") }},
	}
	for answer, tt := range daprdAnswers {
		for op, o := range ops {
			t.Run(answer+"/"+op, func(t *testing.T) {
				f := &fakeClient{saveErr: tt.err, deleteErr: tt.err}
				err := o.call(NewState(f, "state"))
				require.Error(t, err)
				assert.Equal(t, tt.conflict, errors.Is(err, pipeline.ErrConflict), "conflict: %v", err)
				// The cause stays reachable for logs and for status.Code.
				assert.ErrorIs(t, err, tt.err)
				assert.Equal(t, status.Code(tt.err), status.Code(err))
				assert.True(t, strings.HasPrefix(err.Error(), o.prefix), "operation prefix: %v", err)
			})
		}
	}
}

func TestStateSetIsFirstWrite(t *testing.T) {
	for name, tt := range map[string]struct {
		etag string
		want *client.ETag
	}{
		"insert sends no etag":  {"", nil},
		"update sends the etag": {"e1", &client.ETag{Value: "e1"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeClient{}
			require.NoError(t, NewState(f, "state").Set(t.Context(), "dev1", []byte(`{"t":1}`), tt.etag))
			require.Len(t, f.saved, 1)
			require.Len(t, f.saved[0], 1)
			item := f.saved[0][0]
			assert.Equal(t, "dev1", item.Key)
			assert.Equal(t, []byte(`{"t":1}`), item.Value)
			assert.Equal(t, tt.want, item.Etag)
			require.NotNil(t, item.Options)
			assert.Equal(t, client.StateConcurrencyFirstWrite, item.Options.Concurrency)
			assert.Equal(t, []string{"state"}, f.stores)
		})
	}
}

func TestStateDelete(t *testing.T) {
	for name, tt := range map[string]struct {
		etag        string
		wantETag    *client.ETag
		concurrency client.StateConcurrency
	}{
		"unconditional": {"", nil, client.StateConcurrencyLastWrite},
		"at an etag":    {"e1", &client.ETag{Value: "e1"}, client.StateConcurrencyFirstWrite},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeClient{}
			require.NoError(t, NewState(f, "state").Delete(t.Context(), "dev1", tt.etag))
			require.Len(t, f.deleted, 1)
			assert.Equal(t, "dev1", f.deleted[0].key)
			assert.Equal(t, tt.wantETag, f.deleted[0].etag)
			require.NotNil(t, f.deleted[0].opts)
			assert.Equal(t, tt.concurrency, f.deleted[0].opts.Concurrency)
		})
	}
}

func TestStateBulkGet(t *testing.T) {
	f := &fakeClient{bulk: []*client.BulkStateItem{
		{Key: "dev1", Value: []byte(`{"t":1}`), Etag: "e1"},
		{Key: "dev2"}, // absent: daprd answers every key
		{Key: "dev3", Value: []byte(`{}`), Etag: "e3"},
	}}
	got, err := NewState(f, "state").BulkGet(t.Context(), []string{"dev1", "dev2", "dev3", "dev1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]pipeline.Entry{
		"dev1": {Value: []byte(`{"t":1}`), ETag: "e1"},
		"dev3": {Value: []byte(`{}`), ETag: "e3"},
	}, got)
	assert.Equal(t, [][]string{{"dev1", "dev2", "dev3"}}, f.bulkKeys, "each key asked once")
}

func TestStateBulkGetFailures(t *testing.T) {
	for name, tt := range map[string]struct {
		f    *fakeClient
		keys []string
		want string
	}{
		"an item's error fails the call": {
			f: &fakeClient{bulk: []*client.BulkStateItem{
				{Key: "dev1", Value: []byte(`{}`), Etag: "e1"},
				{Key: "dev2", Error: "table storage: 503 server busy"},
			}},
			keys: []string{"dev1", "dev2"},
			want: `bulk get "dev2": table storage: 503 server busy`,
		},
		"the call's error": {
			f:    &fakeClient{bulkErr: sdkErr(codes.Unavailable, "sidecar gone")},
			keys: []string{"dev1"},
			want: "sidecar gone",
		},
		"an answer for a key not asked": {
			f:    &fakeClient{bulk: []*client.BulkStateItem{{Key: "t||dev1", Value: []byte(`{}`), Etag: "e"}}},
			keys: []string{"dev1"},
			want: "unasked key",
		},
		"an illegal key": {f: &fakeClient{}, keys: []string{"a||b"}, want: "illegal key"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := NewState(tt.f, "state").BulkGet(t.Context(), tt.keys)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotErrorIs(t, err, pipeline.ErrConflict)
		})
	}
}

func TestStateBulkGetNoKeys(t *testing.T) {
	f := &fakeClient{}
	got, err := NewState(f, "state").BulkGet(t.Context(), nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Empty(t, f.bulkKeys, "the SDK refuses an empty key list: no call")
}

func TestStateIllegalKeys(t *testing.T) {
	for _, key := range []string{"", "a||b"} {
		f := &fakeClient{}
		s := NewState(f, "state")
		for op, err := range map[string]error{
			"set":    s.Set(t.Context(), key, []byte(`{}`), ""),
			"delete": s.Delete(t.Context(), key, ""),
			"batch":  s.SetBatch(t.Context(), []pipeline.Write{{Key: "ok", Value: []byte(`{}`)}, {Key: key, Value: []byte(`{}`)}}),
		} {
			require.Error(t, err, "%s %q", op, key)
			assert.ErrorIs(t, err, errKey, "%s %q", op, key)
			assert.NotErrorIs(t, err, pipeline.ErrConflict, "%s %q", op, key)
		}
		assert.Empty(t, f.stores, "nothing sent for %q", key)
	}
}
