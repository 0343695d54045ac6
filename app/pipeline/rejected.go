package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/enviromon/enviromon/app/telemetry"
)

// rejectedShards spreads the dead-letter list over several keys so that
// replicas rejecting messages at once rarely contend for one record, and
// one noisy device cannot push every other device's rejections out.
const rejectedShards = 8

// maxPayloadKept bounds the payload excerpt kept with a rejection.
const maxPayloadKept = 512

// Rejection is one invalid message kept in the dead-letter list.
type Rejection struct {
	DeviceID  string    `json:"deviceId,omitempty"`
	MessageID string    `json:"messageId,omitempty"`
	Reason    string    `json:"reason"`
	Payload   string    `json:"payload,omitempty"`
	At        time.Time `json:"at"`
}

func (r Rejection) same(o Rejection) bool {
	return r.MessageID != "" && r.MessageID == o.MessageID && r.DeviceID == o.DeviceID
}

// deadLetters is the bounded list of recent rejections, in the store.
type deadLetters struct {
	commit *committer
	keep   int // per shard
}

func rejectedKey(deviceID string) string {
	return rejectedShardKey(telemetry.Shard(deviceID, rejectedShards))
}

func rejectedShardKey(n int) string { return "rejected:" + strconv.Itoa(n) }

// add appends rejections, skipping ones already listed (a redelivery), and
// keeps the newest d.keep per shard. It returns the error per shard key.
func (d *deadLetters) add(ctx context.Context, rs []Rejection) map[string]error {
	byKey := make(map[string][]Rejection)
	for _, r := range rs {
		k := rejectedKey(r.DeviceID)
		byKey[k] = append(byKey[k], r)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	return d.commit.commit(ctx, keys, func(key string, cur []byte, exists bool) ([]byte, bool, error) {
		var list []Rejection
		if exists {
			if err := json.Unmarshal(cur, &list); err != nil {
				return nil, false, fmt.Errorf("decode %s: %w", key, err)
			}
		}
		changed := false
		for _, r := range byKey[key] {
			if !slices.ContainsFunc(list, r.same) {
				list = append(list, r)
				changed = true
			}
		}
		if !changed {
			return nil, false, nil
		}
		if over := len(list) - d.keep; over > 0 {
			list = slices.Delete(list, 0, over)
		}
		next, err := json.Marshal(list)
		return next, true, err
	})
}

// list returns every kept rejection, newest first.
func (d *deadLetters) list(ctx context.Context) ([]Rejection, error) {
	keys := make([]string, rejectedShards)
	for i := range keys {
		keys[i] = rejectedShardKey(i)
	}
	got, err := d.commit.store.BulkGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read rejected: %w", err)
	}
	var all []Rejection
	for key, e := range got {
		var list []Rejection
		if err := json.Unmarshal(e.Value, &list); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		all = append(all, list...)
	}
	slices.SortStableFunc(all, func(a, b Rejection) int { return b.At.Compare(a.At) })
	return all, nil
}

// excerpt returns payload as text, cut to maxPayloadKept bytes on a rune
// boundary.
func excerpt(payload []byte) string {
	if len(payload) <= maxPayloadKept {
		return string(payload)
	}
	cut := maxPayloadKept
	for cut > 0 && !utf8.RuneStart(payload[cut]) {
		cut--
	}
	return string(payload[:cut]) + "…"
}
