package dapr

import (
	"context"
	"sync"

	"github.com/dapr/go-sdk/client"
)

// fakeClient is a StateClient and BindingClient that records its calls and
// answers what the test set.
type fakeClient struct {
	mu sync.Mutex

	bulk       []*client.BulkStateItem
	bulkErr    error
	saveErr    error
	deleteErr  error
	txErr      error
	meta       *client.GetMetadataResponse
	metaErr    error
	invokeResp *client.BindingEvent
	invokeErr  error

	bulkKeys [][]string
	saved    [][]*client.SetStateItem
	deleted  []deleteCall
	txs      [][]*client.StateOperation
	metaAsks int
	invoked  []*client.InvokeBindingRequest
	stores   []string
}

type deleteCall struct {
	key  string
	etag *client.ETag
	opts *client.StateOptions
}

var (
	_ StateClient   = (*fakeClient)(nil)
	_ BindingClient = (*fakeClient)(nil)
	// The real client must keep satisfying both.
	_ StateClient   = client.Client(nil)
	_ BindingClient = client.Client(nil)
)

func (f *fakeClient) GetBulkState(_ context.Context, store string, keys []string, _ map[string]string, _ int32) ([]*client.BulkStateItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stores = append(f.stores, store)
	f.bulkKeys = append(f.bulkKeys, keys)
	return f.bulk, f.bulkErr
}

func (f *fakeClient) SaveBulkState(_ context.Context, store string, items ...*client.SetStateItem) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stores = append(f.stores, store)
	f.saved = append(f.saved, items)
	return f.saveErr
}

func (f *fakeClient) DeleteStateWithETag(_ context.Context, store, key string, etag *client.ETag, _ map[string]string, opts *client.StateOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stores = append(f.stores, store)
	f.deleted = append(f.deleted, deleteCall{key: key, etag: etag, opts: opts})
	return f.deleteErr
}

func (f *fakeClient) ExecuteStateTransaction(_ context.Context, store string, _ map[string]string, ops []*client.StateOperation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stores = append(f.stores, store)
	f.txs = append(f.txs, ops)
	return f.txErr
}

func (f *fakeClient) GetMetadata(context.Context) (*client.GetMetadataResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metaAsks++
	return f.meta, f.metaErr
}

func (f *fakeClient) InvokeBinding(_ context.Context, in *client.InvokeBindingRequest) (*client.BindingEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invoked = append(f.invoked, in)
	return f.invokeResp, f.invokeErr
}

// sidecarWith is a metadata answer listing one state store.
func sidecarWith(name, typ string, capabilities ...string) *client.GetMetadataResponse {
	return &client.GetMetadataResponse{RegisteredComponents: []*client.MetadataRegisteredComponents{
		{Name: "signalr", Type: "bindings.azure.signalr", Version: "v1", Capabilities: []string{"OUTPUT_BINDING"}},
		{Name: name, Type: typ, Version: "v1", Capabilities: capabilities},
	}}
}
