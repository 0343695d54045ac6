package dapr

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/pipeline"
)

// backend is a state store behind daprd, with the quirks that differ.
type backend struct {
	name               string
	component          func(t *testing.T) (typ string, meta map[string]string)
	etagInsertsMissing bool // a Set with an etag on a missing key inserts
	malformedETagFails bool // a malformed etag is a failure (400), not a conflict
	atomicBatch        bool // SetBatch works; otherwise ErrUnsupported
	partialMulti       bool // daprd's transaction can write part of a failed one
}

func backends() []backend {
	return []backend{
		{name: "sqlite", atomicBatch: true, component: func(t *testing.T) (string, map[string]string) {
			return "state.sqlite", map[string]string{"connectionString": filepath.Join(t.TempDir(), "state.db")}
		}},
		{name: "redis", etagInsertsMissing: true, partialMulti: true, component: func(t *testing.T) (string, map[string]string) {
			return "state.redis", map[string]string{"redisHost": testenv.StartRedis(t)}
		}},
		{name: "tablestorage", etagInsertsMissing: true, malformedETagFails: true, component: func(t *testing.T) (string, map[string]string) {
			az := testenv.StartAzurite(t)
			return "state.azure.tablestorage", map[string]string{
				"accountName": az.Account, "accountKey": az.Key, "tableName": "enviromon", "serviceURL": az.TableURL,
			}
		}},
	}
}

// TestOnDaprd runs the pipeline.Store contract through a real daprd v1.16
// for each store: what the fakes assume about daprd's answers is checked
// here.
func TestOnDaprd(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			typ, meta := b.component(t)
			c := startDaprd(t, "state", typ, meta)
			t.Run("StoreContract", func(t *testing.T) { storeContract(t, b, NewState(c, "state")) })
			if b.atomicBatch {
				t.Run("AtomicBatch", func(t *testing.T) { atomicBatch(t, NewState(c, "state")) })
			} else {
				t.Run("BatchUnsupported", func(t *testing.T) {
					err := NewState(c, "state").SetBatch(t.Context(), []pipeline.Write{{Key: "a", Value: []byte(`1`)}, {Key: "b", Value: []byte(`1`)}})
					assert.ErrorIs(t, err, errors.ErrUnsupported)
				})
			}
			if b.partialMulti {
				t.Run("TransactionIsNotAtomic", func(t *testing.T) { partialTransaction(t, c) })
			}
			t.Run("UnknownStore", func(t *testing.T) { unknownStore(t, NewState(c, "nope")) })
		})
	}
}

func storeContract(t *testing.T, b backend, s *State) {
	ctx := t.Context()

	require.NoError(t, s.Set(ctx, "dev1", []byte(`{"v":1}`), ""), "insert")
	e1 := read(t, s, "dev1")
	assert.JSONEq(t, `{"v":1}`, string(e1.Value))
	require.NotEmpty(t, e1.ETag)

	assert.ErrorIs(t, s.Set(ctx, "dev1", []byte(`{"v":9}`), ""), pipeline.ErrConflict, "insert onto an existing key")
	require.NoError(t, s.Set(ctx, "dev1", []byte(`{"v":2}`), e1.ETag), "update at the current etag")
	e2 := read(t, s, "dev1")
	assert.JSONEq(t, `{"v":2}`, string(e2.Value))
	assert.NotEqual(t, e1.ETag, e2.ETag)
	assert.ErrorIs(t, s.Set(ctx, "dev1", []byte(`{"v":9}`), e1.ETag), pipeline.ErrConflict, "stale etag")

	err := s.Set(ctx, "dev1", []byte(`{"v":9}`), "not-an-etag")
	require.Error(t, err, "malformed etag")
	assert.Equal(t, !b.malformedETagFails, errors.Is(err, pipeline.ErrConflict), "malformed etag: %v", err)
	assert.JSONEq(t, `{"v":2}`, string(read(t, s, "dev1").Value), "refused writes changed nothing")

	err = s.Set(ctx, "ghost", []byte(`{"v":1}`), e1.ETag)
	if b.etagInsertsMissing {
		assert.NoError(t, err, "this store inserts")
		require.NoError(t, s.Delete(ctx, "ghost", ""))
	} else {
		assert.ErrorIs(t, err, pipeline.ErrConflict, "etag on a missing key")
	}

	got, err := s.BulkGet(ctx, []string{"dev1", "absent", "ghost"})
	require.NoError(t, err)
	assert.Equal(t, []string{"dev1"}, keys(got), "absent keys are left out")
	assert.Equal(t, e2.ETag, got["dev1"].ETag)

	assert.ErrorIs(t, s.Delete(ctx, "dev1", e1.ETag), pipeline.ErrConflict, "delete at a stale etag")
	require.NoError(t, s.Delete(ctx, "dev1", e2.ETag), "delete at the current etag")
	require.NoError(t, s.Delete(ctx, "dev1", ""), "deleting a missing key")
	require.NoError(t, s.Set(ctx, "dev1", []byte(`{"v":3}`), ""), "insert again after the delete")
	require.NoError(t, s.Delete(ctx, "dev1", ""), "unconditional delete")
	got, err = s.BulkGet(ctx, []string{"dev1"})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func atomicBatch(t *testing.T, s *State) {
	ctx := t.Context()
	require.NoError(t, s.SetBatch(ctx, []pipeline.Write{
		{Key: "a", Value: []byte(`{"v":1}`)},
		{Key: "b", Value: []byte(`{"v":1}`)},
	}))
	before, err := s.BulkGet(ctx, []string{"a", "b", "c"})
	require.NoError(t, err)
	require.Len(t, before, 2)

	for name, bad := range map[string]pipeline.Write{
		"stale etag":               {Key: "b", Value: []byte(`{"v":9}`), ETag: "stale"},
		"insert onto existing key": {Key: "b", Value: []byte(`{"v":9}`)},
	} {
		err := s.SetBatch(ctx, []pipeline.Write{
			{Key: "a", Value: []byte(`{"v":2}`), ETag: before["a"].ETag},
			{Key: "c", Value: []byte(`{"v":2}`)},
			bad,
		})
		require.ErrorIs(t, err, pipeline.ErrConflict, name)
		after, err := s.BulkGet(ctx, []string{"a", "b", "c"})
		require.NoError(t, err)
		assert.Equal(t, before, after, "%s: nothing of the batch was written", name)
	}

	require.NoError(t, s.SetBatch(ctx, []pipeline.Write{
		{Key: "a", Value: []byte(`{"v":2}`), ETag: before["a"].ETag},
		{Key: "b", Value: []byte(`{"v":2}`), ETag: before["b"].ETag},
		{Key: "c", Value: []byte(`{"v":2}`)},
	}))
	after, err := s.BulkGet(ctx, []string{"a", "b", "c"})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		assert.JSONEq(t, `{"v":2}`, string(after[k].Value), k)
	}
}

// partialTransaction shows why SetBatch refuses Redis: a transaction whose
// second write fails an ETag check still writes the first. If this starts
// failing, components-contrib made Redis transactions atomic.
func partialTransaction(t *testing.T, c StateClient) {
	ctx := t.Context()
	s := NewState(c, "state")
	require.NoError(t, s.Set(ctx, "tx-b", []byte(`1`), ""))
	fw := &client.StateOptions{Concurrency: client.StateConcurrencyFirstWrite}
	err := c.ExecuteStateTransaction(ctx, "state", nil, []*client.StateOperation{
		{Type: client.StateOperationTypeUpsert, Item: &client.SetStateItem{Key: "tx-a", Value: []byte(`1`), Options: fw}},
		{Type: client.StateOperationTypeUpsert, Item: &client.SetStateItem{Key: "tx-b", Value: []byte(`2`), Etag: &client.ETag{Value: "99"}, Options: fw}},
	})
	require.Error(t, err, "the stale etag fails the transaction")
	assert.True(t, conflict(err), "and reads as a conflict: %v", err)
	got, err := s.BulkGet(ctx, []string{"tx-a", "tx-b"})
	require.NoError(t, err)
	assert.Contains(t, got, "tx-a", "yet the first write of the failed transaction is stored")
}

func unknownStore(t *testing.T, s *State) {
	ctx := t.Context()
	for op, err := range map[string]error{
		"set":   s.Set(ctx, "k", []byte(`{}`), ""),
		"batch": s.SetBatch(ctx, []pipeline.Write{{Key: "a", Value: []byte(`{}`)}, {Key: "b", Value: []byte(`{}`)}}),
	} {
		require.Error(t, err, op)
		assert.NotErrorIs(t, err, pipeline.ErrConflict, op)
		assert.NotErrorIs(t, err, errors.ErrUnsupported, op)
	}
}

func read(t *testing.T, s *State, key string) pipeline.Entry {
	t.Helper()
	got, err := s.BulkGet(t.Context(), []string{key})
	require.NoError(t, err)
	require.Contains(t, got, key)
	return got[key]
}

func keys(m map[string]pipeline.Entry) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
