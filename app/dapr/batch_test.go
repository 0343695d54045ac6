package dapr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/enviromon/enviromon/app/pipeline"
)

var twoWrites = []pipeline.Write{
	{Key: "dev1", Value: []byte(`{"t":1}`)},
	{Key: "dev2", Value: []byte(`{"t":2}`), ETag: "e2"},
}

// txErr is a failed transaction as the SDK returns it: daprd answers every
// store error of a transaction with Internal and the store's text.
func txErr(code codes.Code, msg string) error {
	return fmt.Errorf("error executing state transaction: %w", status.Error(code, msg))
}

func TestSetBatchTransaction(t *testing.T) {
	f := &fakeClient{meta: sidecarWith("state", "state.sqlite", "ETAG", "TRANSACTIONAL", "TTL", "ACTOR")}
	s := NewState(f, "state")
	require.NoError(t, s.SetBatch(t.Context(), twoWrites))
	require.NoError(t, s.SetBatch(t.Context(), twoWrites))

	assert.Equal(t, 1, f.metaAsks, "the sidecar is asked once")
	require.Len(t, f.txs, 2)
	ops := f.txs[0]
	require.Len(t, ops, 2)
	for i, op := range ops {
		assert.Equal(t, client.StateOperationTypeUpsert, op.Type)
		assert.Equal(t, twoWrites[i].Key, op.Item.Key)
		assert.Equal(t, twoWrites[i].Value, op.Item.Value)
		require.NotNil(t, op.Item.Options)
		assert.Equal(t, client.StateConcurrencyFirstWrite, op.Item.Options.Concurrency)
	}
	assert.Nil(t, ops[0].Item.Etag, "insert-only")
	assert.Equal(t, &client.ETag{Value: "e2"}, ops[1].Item.Etag)
}

func TestSetBatchUnsupported(t *testing.T) {
	for name, meta := range map[string]*client.GetMetadataResponse{
		"table storage has no transactions": sidecarWith("state", "state.azure.tablestorage", "ETAG"),
		"redis transactions are not atomic": sidecarWith("state", "state.redis", "ETAG", "TRANSACTIONAL", "TTL", "ACTOR"),
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeClient{meta: meta}
			s := NewState(f, "state")
			for range 2 {
				err := s.SetBatch(t.Context(), twoWrites)
				require.ErrorIs(t, err, errors.ErrUnsupported)
				assert.NotErrorIs(t, err, pipeline.ErrConflict)
			}
			assert.Empty(t, f.txs, "no transaction sent")
			assert.Equal(t, 1, f.metaAsks)
		})
	}
}

func TestSetBatchRefusedIsRemembered(t *testing.T) {
	f := &fakeClient{
		meta:  sidecarWith("state", "state.custom", "ETAG", "TRANSACTIONAL"),
		txErr: txErr(codes.Unimplemented, "state store state doesn't support transactions"),
	}
	s := NewState(f, "state")
	for range 2 {
		require.ErrorIs(t, s.SetBatch(t.Context(), twoWrites), errors.ErrUnsupported)
	}
	assert.Len(t, f.txs, 1, "refused once, not asked again")
}

func TestSetBatchErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		err      error
		conflict bool
	}{
		"etag mismatch": {txErr(codes.Internal,
			"error while executing state transaction: possible etag mismatch. error from state store"), true},
		"invalid etag": {txErr(codes.Internal,
			`error while executing state transaction: invalid etag value: strconv.Atoi: parsing "x": invalid syntax`), true},
		"store failure": {txErr(codes.Internal,
			"error while executing state transaction: failed to begin transaction: database is locked"), false},
		"too many operations": {txErr(codes.InvalidArgument,
			"the transaction contains 200 operations, which is more than what the state store supports: 100"), false},
		"sidecar down": {txErr(codes.Unavailable, "connection refused"), false},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeClient{meta: sidecarWith("state", "state.sqlite", "ETAG", "TRANSACTIONAL"), txErr: tt.err}
			err := NewState(f, "state").SetBatch(t.Context(), twoWrites)
			require.Error(t, err)
			assert.Equal(t, tt.conflict, errors.Is(err, pipeline.ErrConflict), "conflict: %v", err)
			assert.NotErrorIs(t, err, errors.ErrUnsupported)
			assert.ErrorIs(t, err, tt.err)
		})
	}
}

func TestSetBatchMetadataFailure(t *testing.T) {
	for name, f := range map[string]*fakeClient{
		"metadata call fails":   {metaErr: status.Error(codes.Unavailable, "sidecar starting")},
		"store not registered":  {meta: sidecarWith("other", "state.sqlite", "ETAG", "TRANSACTIONAL")},
		"empty metadata answer": {},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewState(f, "state")
			for range 2 {
				err := s.SetBatch(t.Context(), twoWrites)
				require.Error(t, err)
				assert.NotErrorIs(t, err, errors.ErrUnsupported, "a failed question must not disable batches for good")
				assert.NotErrorIs(t, err, pipeline.ErrConflict)
			}
			assert.Equal(t, 2, f.metaAsks, "asked again next time")
			assert.Empty(t, f.txs)
		})
	}
}

func TestSetBatchEmpty(t *testing.T) {
	f := &fakeClient{}
	require.NoError(t, NewState(f, "state").SetBatch(t.Context(), nil))
	assert.Zero(t, f.metaAsks)
	assert.Empty(t, f.txs)
}
