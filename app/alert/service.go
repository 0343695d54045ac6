package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Bounds of the alert list.
const (
	// RecentFor is how long a cleared alert stays listed.
	RecentFor = 24 * time.Hour
	// MaxListed bounds the alerts listed; the oldest cleared go first.
	MaxListed = 1000
	// rulesTTL is how long the evaluator trusts its copy of the rules; a
	// change through this replica applies at once, through another within it.
	rulesTTL = 5 * time.Second
	// attempts bounds the tries of one ETag read-modify-write.
	attempts = 10
)

// Service keeps rules and alert state in a Store.
type Service struct {
	store Store
	now   func() time.Time

	mu       sync.Mutex
	rules    []Rule
	rulesAt  time.Time
	rulesSet bool
}

// NewService returns a service over store; now is the clock.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

type ruleIndex struct {
	IDs []string `json:"ids"`
}

// listed is one entry of the alert list.
type listed struct {
	RuleID   string    `json:"ruleId"`
	DeviceID string    `json:"deviceId"`
	State    Phase     `json:"state"`
	Since    time.Time `json:"since"`
}

type alertList struct {
	Alerts []listed `json:"alerts"`
}

// Rules returns every rule, sorted by id.
func (s *Service) Rules(ctx context.Context) ([]Rule, error) {
	var idx ruleIndex
	if _, err := s.read(ctx, RulesKey, &idx); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	keys := make([]string, len(idx.IDs))
	for i, id := range idx.IDs {
		keys[i] = RuleKey(id)
	}
	got, err := s.store.BulkGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	out := make([]Rule, 0, len(keys))
	for _, k := range keys {
		e, ok := got[k]
		if !ok {
			continue // indexed before its record was written, or deleted meanwhile
		}
		var r Rule
		if err := json.Unmarshal(e.Value, &r); err != nil {
			return nil, fmt.Errorf("list rules: decode %s: %w", k, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Rule returns rule id, or ErrNotFound.
func (s *Service) Rule(ctx context.Context, id string) (Rule, error) {
	var r Rule
	found, err := s.read(ctx, RuleKey(id), &r)
	if err != nil {
		return r, fmt.Errorf("read rule: %w", err)
	}
	if !found {
		return r, fmt.Errorf("rule %q: %w", id, ErrNotFound)
	}
	return r, nil
}

// CreateRule validates and stores a new rule; ErrExists if its id is
// taken (first write wins, across replicas too).
func (s *Service) CreateRule(ctx context.Context, r Rule) (Rule, error) {
	if err := r.Validate(); err != nil {
		return r, err
	}
	r.Created = s.now().UTC()
	// The index first: an indexed id without a record is skipped, while a
	// record missing from the index would be a rule nobody sees.
	if err := s.index(ctx, r.ID, true); err != nil {
		return r, fmt.Errorf("create rule: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("create rule: %w", err)
	}
	switch err := s.store.Set(ctx, RuleKey(r.ID), b, ""); {
	case errors.Is(err, ErrConflict):
		return r, fmt.Errorf("rule %q: %w", r.ID, ErrExists)
	case err != nil:
		return r, fmt.Errorf("create rule: %w", err)
	}
	s.forget()
	return r, nil
}

// UpdateRule validates r and replaces the stored rule of its id, keeping
// its alert state; ErrNotFound if there is none.
func (s *Service) UpdateRule(ctx context.Context, r Rule) (Rule, error) {
	if err := r.Validate(); err != nil {
		return r, err
	}
	err := s.update(ctx, RuleKey(r.ID), nil, func(cur []byte, exists bool) ([]byte, bool, error) {
		if !exists {
			return nil, false, fmt.Errorf("rule %q: %w", r.ID, ErrNotFound)
		}
		var old Rule
		if err := json.Unmarshal(cur, &old); err != nil {
			return nil, false, fmt.Errorf("decode rule %q: %w", r.ID, err)
		}
		r.Created = old.Created
		b, err := json.Marshal(r)
		return b, true, err
	})
	if err != nil {
		return r, fmt.Errorf("update rule: %w", err)
	}
	s.forget()
	return r, nil
}

// DeleteRule removes rule id and the alerts it raised; ErrNotFound if
// there is none.
func (s *Service) DeleteRule(ctx context.Context, id string) error {
	if _, err := s.Rule(ctx, id); err != nil {
		return err
	}
	if err := s.store.Delete(ctx, RuleKey(id), ""); err != nil {
		return fmt.Errorf("delete rule: %w", err)
	}
	s.forget()
	if err := s.index(ctx, id, false); err != nil {
		return fmt.Errorf("delete rule: %w", err)
	}
	var gone []listed
	err := s.updateList(ctx, func(l *alertList) {
		gone = nil
		l.Alerts = slices.DeleteFunc(l.Alerts, func(e listed) bool {
			if e.RuleID == id {
				gone = append(gone, e)
			}
			return e.RuleID == id
		})
	})
	if err != nil {
		return fmt.Errorf("delete rule: %w", err)
	}
	for _, e := range gone {
		if err := s.store.Delete(ctx, StateKey(e.RuleID, e.DeviceID), ""); err != nil {
			return fmt.Errorf("delete rule: %w", err)
		}
	}
	return nil
}

// Alerts returns the firing alerts and those cleared within RecentFor,
// firing first, then newest first.
func (s *Service) Alerts(ctx context.Context) ([]Alert, error) {
	var l alertList
	if _, err := s.read(ctx, ListKey, &l); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	keys := make([]string, len(l.Alerts))
	for i, e := range l.Alerts {
		keys[i] = StateKey(e.RuleID, e.DeviceID)
	}
	got, err := s.store.BulkGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	cutoff := s.now().Add(-RecentFor)
	out := make([]Alert, 0, len(keys))
	for _, k := range keys {
		e, ok := got[k]
		if !ok {
			continue
		}
		var st State
		if err := json.Unmarshal(e.Value, &st); err != nil {
			return nil, fmt.Errorf("list alerts: decode %s: %w", k, err)
		}
		if a := st.Alert; a != nil && (a.State == Firing || a.Since.After(cutoff)) {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if (a.State == Firing) != (b.State == Firing) {
			if a.State == Firing {
				return -1
			}
			return 1
		}
		return b.Since.Compare(a.Since)
	})
	return out, nil
}

// Ack acknowledges the alert of rule on device, once: a second ack keeps
// the first time. ErrNotFound if the rule raised none there.
func (s *Service) Ack(ctx context.Context, rule, device string) (Alert, error) {
	var out Alert
	err := s.update(ctx, StateKey(rule, device), nil, func(cur []byte, exists bool) ([]byte, bool, error) {
		var st State
		if exists {
			if err := json.Unmarshal(cur, &st); err != nil {
				return nil, false, fmt.Errorf("decode alert state: %w", err)
			}
		}
		if st.Alert == nil {
			return nil, false, fmt.Errorf("alert of rule %q on device %q: %w", rule, device, ErrNotFound)
		}
		out = *st.Alert
		if st.Alert.AcknowledgedAt != nil {
			return nil, false, nil
		}
		at := s.now().UTC()
		st.Alert.AcknowledgedAt, out.AcknowledgedAt = &at, &at
		b, err := json.Marshal(st)
		return b, true, err
	})
	if err != nil {
		return out, fmt.Errorf("acknowledge: %w", err)
	}
	return out, nil
}

// activeRules returns the rules, from a copy at most rulesTTL old.
func (s *Service) activeRules(ctx context.Context) ([]Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rulesSet && s.now().Sub(s.rulesAt) < rulesTTL {
		return s.rules, nil
	}
	rules, err := s.Rules(ctx)
	if err != nil {
		return nil, err
	}
	s.rules, s.rulesAt, s.rulesSet = rules, s.now(), true
	return rules, nil
}

// forget drops the copy of the rules after a change through this replica.
func (s *Service) forget() {
	s.mu.Lock()
	s.rulesSet = false
	s.mu.Unlock()
}

// track puts a raised or cleared alert on the alert list, dropping
// cleared ones past RecentFor and, beyond MaxListed, the oldest cleared.
func (s *Service) track(ctx context.Context, a Alert) error {
	cutoff := s.now().Add(-RecentFor)
	return s.updateList(ctx, func(l *alertList) {
		l.Alerts = slices.DeleteFunc(l.Alerts, func(e listed) bool {
			return (e.RuleID == a.RuleID && e.DeviceID == a.DeviceID) || (e.State == Cleared && e.Since.Before(cutoff))
		})
		l.Alerts = append(l.Alerts, listed{RuleID: a.RuleID, DeviceID: a.DeviceID, State: a.State, Since: a.Since})
		if over := len(l.Alerts) - MaxListed; over > 0 {
			// Oldest first, cleared before firing: what goes is the least news.
			slices.SortStableFunc(l.Alerts, func(x, y listed) int {
				if (x.State == Firing) != (y.State == Firing) {
					if x.State == Cleared {
						return -1
					}
					return 1
				}
				return x.Since.Compare(y.Since)
			})
			l.Alerts = l.Alerts[over:]
		}
	})
}

func (s *Service) updateList(ctx context.Context, change func(*alertList)) error {
	return s.update(ctx, ListKey, nil, func(cur []byte, exists bool) ([]byte, bool, error) {
		var l alertList
		if exists {
			if err := json.Unmarshal(cur, &l); err != nil {
				return nil, false, fmt.Errorf("decode alert list: %w", err)
			}
		}
		change(&l)
		b, err := json.Marshal(l)
		return b, true, err
	})
}

// index adds id to the rule index, or removes it.
func (s *Service) index(ctx context.Context, id string, add bool) error {
	return s.update(ctx, RulesKey, nil, func(cur []byte, exists bool) ([]byte, bool, error) {
		var idx ruleIndex
		if exists {
			if err := json.Unmarshal(cur, &idx); err != nil {
				return nil, false, fmt.Errorf("decode rule index: %w", err)
			}
		}
		i, found := slices.BinarySearch(idx.IDs, id)
		switch {
		case add && !found:
			idx.IDs = slices.Insert(idx.IDs, i, id)
		case !add && found:
			idx.IDs = slices.Delete(idx.IDs, i, i+1)
		default:
			return nil, false, nil
		}
		b, err := json.Marshal(idx)
		return b, true, err
	})
}

// read decodes key into v and reports whether it exists.
func (s *Service) read(ctx context.Context, key string, v any) (bool, error) {
	got, err := s.store.BulkGet(ctx, []string{key})
	if err != nil {
		return false, err
	}
	e, ok := got[key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return true, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// update is the one ETag read-modify-write loop of alerts: it reads key
// (or starts from first, when the caller read it already), lets change
// compute the next value, and writes it at the ETag read. A conflict
// re-reads and calls change again, up to attempts times with a growing
// pause; any other error, or change's, ends it.
func (s *Service) update(ctx context.Context, key string, first *Entry, change func(cur []byte, exists bool) ([]byte, bool, error)) error {
	pause := 10 * time.Millisecond
	for range attempts {
		var e Entry
		var exists bool
		if first != nil {
			e, exists, first = *first, first.ETag != "", nil
		} else {
			got, err := s.store.BulkGet(ctx, []string{key})
			if err != nil {
				return err
			}
			e, exists = got[key]
		}
		next, write, err := change(e.Value, exists)
		if err != nil || !write {
			return err
		}
		err = s.store.Set(ctx, key, next, e.ETag)
		if !errors.Is(err, ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
	return fmt.Errorf("%s: %w after %d tries", key, ErrConflict, attempts)
}
