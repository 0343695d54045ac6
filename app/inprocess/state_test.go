package inprocess

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dapr/components-contrib/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/pipeline"
)

// TestStateContract runs the pipeline.Store contract against each store,
// plus the key prefix daprd would apply and racing inserts.
func TestStateContract(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.component(t)
			s := openState(t, c)
			ctx := t.Context()

			t.Run("insert", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-insert", []byte(`{"n":1}`), ""))
				got := get(t, s, "dev-insert")
				assert.JSONEq(t, `{"n":1}`, string(got.Value))
				assert.NotEmpty(t, got.ETag)
			})

			t.Run("insert on existing key conflicts", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-twice", []byte(`{"n":1}`), ""))
				err := s.Set(ctx, "dev-twice", []byte(`{"n":2}`), "")
				require.ErrorIs(t, err, pipeline.ErrConflict)
				assert.JSONEq(t, `{"n":1}`, string(get(t, s, "dev-twice").Value), "first write wins")
			})

			t.Run("update with current etag, stale etag conflicts", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-update", []byte(`{"n":1}`), ""))
				first := get(t, s, "dev-update")
				require.NoError(t, s.Set(ctx, "dev-update", []byte(`{"n":2}`), first.ETag))
				second := get(t, s, "dev-update")
				assert.JSONEq(t, `{"n":2}`, string(second.Value))
				assert.NotEqual(t, first.ETag, second.ETag)

				err := s.Set(ctx, "dev-update", []byte(`{"n":3}`), first.ETag)
				require.ErrorIs(t, err, pipeline.ErrConflict)
				assert.JSONEq(t, `{"n":2}`, string(get(t, s, "dev-update").Value))
			})

			t.Run("batch writes all or nothing", func(t *testing.T) {
				err := s.SetBatch(ctx, []pipeline.Write{{Key: "batch-a", Value: []byte(`1`)}, {Key: "batch-b", Value: []byte(`1`)}})
				if !b.atomicBatch {
					require.ErrorIs(t, err, errors.ErrUnsupported, "no batch where a failed check could leave half a batch written")
					return
				}
				require.NoError(t, err)
				a := get(t, s, "batch-a")
				err = s.SetBatch(ctx, []pipeline.Write{
					{Key: "batch-a", Value: []byte(`2`), ETag: a.ETag},
					{Key: "batch-b", Value: []byte(`2`)}, // insert onto an existing key: refused
				})
				require.ErrorIs(t, err, pipeline.ErrConflict)
				assert.Equal(t, `1`, string(get(t, s, "batch-a").Value), "the valid item of a refused batch is not written")
				require.NoError(t, s.SetBatch(ctx, []pipeline.Write{
					{Key: "batch-a", Value: []byte(`3`), ETag: a.ETag},
					{Key: "batch-b", Value: []byte(`3`), ETag: get(t, s, "batch-b").ETag},
				}))
				assert.Equal(t, `3`, string(get(t, s, "batch-b").Value))
			})

			t.Run("malformed etag", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-badetag", []byte(`{"n":1}`), ""))
				err := s.Set(ctx, "dev-badetag", []byte(`{"n":2}`), "not-an-etag")
				require.Error(t, err)
				if b.malformedETagFails {
					assert.NotErrorIs(t, err, pipeline.ErrConflict, "a 400 is bad input, not a conflict")
				} else {
					assert.ErrorIs(t, err, pipeline.ErrConflict)
				}
				assert.JSONEq(t, `{"n":1}`, string(get(t, s, "dev-badetag").Value))
			})

			t.Run("etag on a missing key", func(t *testing.T) {
				err := s.Set(ctx, "dev-never", []byte(`{"n":1}`), "1")
				if b.etagInsertsMissing {
					require.NoError(t, err, "this store inserts")
					assert.JSONEq(t, `{"n":1}`, string(get(t, s, "dev-never").Value))
					return
				}
				require.ErrorIs(t, err, pipeline.ErrConflict)
			})

			t.Run("bulk get leaves missing keys out", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-a", []byte(`"a"`), ""))
				require.NoError(t, s.Set(ctx, "dev-b", []byte(`"b"`), ""))
				got, err := s.BulkGet(ctx, []string{"dev-a", "dev-missing", "dev-b", "dev-a"})
				require.NoError(t, err)
				require.Len(t, got, 2)
				assert.Equal(t, `"a"`, string(got["dev-a"].Value))
				assert.Equal(t, `"b"`, string(got["dev-b"].Value))

				none, err := s.BulkGet(ctx, nil)
				require.NoError(t, err)
				assert.Empty(t, none)
			})

			t.Run("delete", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-del", []byte(`1`), ""))
				old := get(t, s, "dev-del")
				require.NoError(t, s.Set(ctx, "dev-del", []byte(`2`), old.ETag))
				require.ErrorIs(t, s.Delete(ctx, "dev-del", old.ETag), pipeline.ErrConflict, "stale etag")
				require.NoError(t, s.Delete(ctx, "dev-del", get(t, s, "dev-del").ETag))
				assertAbsent(t, s, "dev-del")

				require.NoError(t, s.Set(ctx, "dev-del", []byte(`3`), ""), "insert again after delete")
				require.NoError(t, s.Delete(ctx, "dev-del", ""))
				assertAbsent(t, s, "dev-del")
				require.NoError(t, s.Delete(ctx, "dev-del", ""), "deleting a missing key")
			})

			t.Run("keys are stored as appID||key", func(t *testing.T) {
				require.NoError(t, s.Set(ctx, "dev-prefix", []byte(`"p"`), ""))
				raw, err := s.store.Get(ctx, &state.GetRequest{Key: "enviromon||dev-prefix"})
				require.NoError(t, err)
				assert.Equal(t, `"p"`, string(raw.Data))
				bare, err := s.store.Get(ctx, &state.GetRequest{Key: "dev-prefix"})
				require.NoError(t, err)
				assert.Empty(t, bare.Data)
			})

			t.Run("keys with the separator are refused", func(t *testing.T) {
				err := s.Set(ctx, "a||b", []byte(`1`), "")
				require.Error(t, err)
				assert.NotErrorIs(t, err, pipeline.ErrConflict)
				_, err = s.BulkGet(ctx, []string{"a||b"})
				require.Error(t, err)
			})

			t.Run("insert over a key written without first-write", func(t *testing.T) {
				// What daprd writes for a save without an etag and without
				// first-write concurrency (the Dapr CLI, a plain HTTP POST).
				require.NoError(t, s.store.Set(ctx, &state.SetRequest{Key: "enviromon||dev-lastwrite", Value: []byte(`1`)}))
				err := s.Set(ctx, "dev-lastwrite", []byte(`2`), "")
				if b.overwritesLastWrite {
					require.NoError(t, err, "this store lets the insert overwrite")
					return
				}
				require.ErrorIs(t, err, pipeline.ErrConflict)
			})

			t.Run("racing inserts: exactly one wins", func(t *testing.T) {
				other := s
				if b.shared {
					other = openState(t, c) // a second replica on the same backing store
				}
				for round := range 10 {
					key := fmt.Sprintf("dev-race-%d", round)
					results := raceInserts(ctx, key, 8, s, other)
					wins := 0
					var winner string
					for i, err := range results {
						switch {
						case err == nil:
							wins++
							winner = fmt.Sprintf(`"writer-%d"`, i)
						default:
							require.ErrorIs(t, err, pipeline.ErrConflict, "writer %d", i)
						}
					}
					require.Equal(t, 1, wins, "round %d", round)
					assert.Equal(t, winner, string(get(t, other, key).Value), "the winner's value is stored")
				}
			})
		})
	}
}

// raceInserts starts n inserts of key at once, alternating between the
// stores, and returns each one's error.
func raceInserts(ctx context.Context, key string, n int, stores ...*State) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = stores[i%len(stores)].Set(ctx, key, fmt.Appendf(nil, `"writer-%d"`, i), "")
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func get(t *testing.T, s *State, key string) pipeline.Entry {
	t.Helper()
	got, err := s.BulkGet(t.Context(), []string{key})
	require.NoError(t, err)
	e, ok := got[key]
	require.True(t, ok, "key %q not found", key)
	return e
}

func assertAbsent(t *testing.T, s *State, key string) {
	t.Helper()
	got, err := s.BulkGet(t.Context(), []string{key})
	require.NoError(t, err)
	assert.NotContains(t, got, key)
}
