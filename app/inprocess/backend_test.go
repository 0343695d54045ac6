package inprocess

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/internal/testenv"
)

// testAppID is the app id the stores are opened for in tests.
const testAppID = "enviromon"

// backend is one state store type the contract runs against.
type backend struct {
	name string
	// component returns a state component for a fresh, empty backing store.
	component func(t *testing.T) component.Component
	// shared says two OpenState calls on one component see the same data;
	// the in-memory store lives inside its instance.
	shared bool
	// etagInsertsMissing says a Set with an etag on a key that does not
	// exist inserts it instead of failing (see State.Set).
	etagInsertsMissing bool
	// malformedETagFails says a malformed etag is refused as bad input (a
	// plain error) rather than as a mismatch.
	malformedETagFails bool
	// atomicBatch says SetBatch writes all items or none.
	atomicBatch bool
	// overwritesLastWrite says an insert (etag "") succeeds on a key that
	// was last written without first-write concurrency.
	overwritesLastWrite bool
}

func backends() []backend {
	return []backend{
		{name: "sqlite", component: sqliteComponent, shared: true, atomicBatch: true},
		{name: "in-memory", component: memoryComponent, atomicBatch: true},
		{name: "redis", component: redisComponent, shared: true, etagInsertsMissing: true, overwritesLastWrite: true},
		{name: "tablestorage", component: tablesComponent, shared: true, etagInsertsMissing: true, malformedETagFails: true},
	}
}

func sqliteComponent(t *testing.T) component.Component {
	return component.Component{Name: "statestore", Type: "state.sqlite", Version: "v1", Metadata: map[string]string{
		"connectionString": filepath.Join(t.TempDir(), "state.db"),
		"busyTimeout":      "10s",
	}}
}

func memoryComponent(*testing.T) component.Component {
	return component.Component{Name: "statestore", Type: "state.in-memory", Version: "v1", Metadata: map[string]string{}}
}

func redisComponent(t *testing.T) component.Component {
	return component.Component{Name: "statestore", Type: "state.redis", Version: "v1", Metadata: map[string]string{
		"redisHost": testenv.StartRedis(t),
	}}
}

func tablesComponent(t *testing.T) component.Component {
	az := testenv.StartAzurite(t)
	return component.Component{Name: "statestore", Type: "state.azure.tablestorage", Version: "v1", Metadata: map[string]string{
		"accountName": az.Account,
		"accountKey":  az.Key,
		"tableName":   "enviromon",
		"serviceURL":  az.TableURL,
	}}
}

// openState opens c for testAppID and closes it when the test ends.
func openState(t *testing.T, c component.Component, opts ...Option) *State {
	t.Helper()
	s, err := OpenState(t.Context(), c, testAppID, nil, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}
