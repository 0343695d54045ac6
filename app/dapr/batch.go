package dapr

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/enviromon/enviromon/app/pipeline"
)

// batchMode is what a store can do with a state transaction.
type batchMode int

const (
	batchUnknown     batchMode = iota // not asked yet
	batchAtomic                       // all or nothing
	batchUnsupported                  // refused by daprd, or not atomic
)

// featureTransactional is how daprd's metadata lists components-contrib's
// state.FeatureTransactional among a store's capabilities.
const featureTransactional = "TRANSACTIONAL"

// SetBatch writes items in one state transaction, all or none, with Set's
// ETag rules per item; a failed check of any item returns ErrConflict. It
// returns errors.ErrUnsupported for a store without transactions (Table
// Storage) or whose transactions are not atomic (Redis: MULTI/EXEC runs the
// remaining commands after one script refuses its write), which it learns
// once from the sidecar's metadata and remembers.
func (s *State) SetBatch(ctx context.Context, items []pipeline.Write) error {
	if len(items) == 0 {
		return nil
	}
	ops := make([]*client.StateOperation, len(items))
	for i, w := range items {
		if err := checkKey(w.Key); err != nil {
			return fmt.Errorf("set batch: %w", err)
		}
		ops[i] = &client.StateOperation{Type: client.StateOperationTypeUpsert, Item: setItem(w.Key, w.Value, w.ETag)}
	}
	mode, err := s.batchMode(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("set batch: %w", err)
	case mode == batchUnsupported:
		return fmt.Errorf("set batch on %q: %w", s.store, errors.ErrUnsupported)
	}
	err = s.client.ExecuteStateTransaction(traced(ctx), s.store, nil, ops)
	switch {
	case err == nil:
		return nil
	case status.Code(err) == codes.Unimplemented:
		// daprd's "state store doesn't support transactions": the metadata
		// said otherwise, so believe the refusal from now on.
		s.setBatchMode(batchUnsupported)
		return fmt.Errorf("set batch on %q: %w: %w", s.store, errors.ErrUnsupported, err)
	case conflict(err):
		return fmt.Errorf("set batch: %w: %w", pipeline.ErrConflict, err)
	}
	return fmt.Errorf("set batch: %w", err)
}

// batchMode returns what the store does with transactions, asking the
// sidecar the first time. A failed question is not remembered.
func (s *State) batchMode(ctx context.Context) (batchMode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch != batchUnknown {
		return s.batch, nil
	}
	md, err := s.client.GetMetadata(ctx)
	if err != nil {
		return batchUnknown, fmt.Errorf("sidecar metadata: %w", err)
	}
	if md != nil {
		for _, c := range md.RegisteredComponents {
			if c != nil && c.Name == s.store {
				s.batch = modeOf(c.Type, c.Capabilities)
				return s.batch, nil
			}
		}
	}
	return batchUnknown, fmt.Errorf("sidecar metadata: no component %q", s.store)
}

func (s *State) setBatchMode(m batchMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch = m
}

// modeOf decides from a component's type and capabilities. daprd refuses a
// transaction on a store without the transactional feature; components-
// contrib's Redis has the feature, but queues one Lua script per write in
// MULTI/EXEC and Redis runs the rest when one refuses, so an ETag failure
// can leave a partial write.
func modeOf(typ string, capabilities []string) batchMode {
	if typ == "state.redis" || !slices.Contains(capabilities, featureTransactional) {
		return batchUnsupported
	}
	return batchAtomic
}
