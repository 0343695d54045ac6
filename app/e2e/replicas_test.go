//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/enviromon/enviromon/app/sim"
	simhttp "github.com/enviromon/enviromon/app/sim/http"
)

// TestReplicas runs two apps, each beside its own daprd (enviromon-a,
// enviromon-b), on one mosquitto stream that the binding's shared
// subscription splits between them, and one shared store. In the second
// sub-case the same devices also post every reading to both apps' POST
// /api/telemetry at once, so both replicas write the same device records
// concurrently: ETag conflicts must happen, and be resolved without losing
// or double-counting a reading.
func TestReplicas(t *testing.T) {
	mqttCfg := sim.Config{Devices: 20, Rate: 10, Count: 50, Invalid: 0.1, Repeat: 0.1, Seed: 11}
	httpCfg := sim.Config{Devices: 20, Rate: 4, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 13}
	for _, tc := range []struct {
		name  string
		store backend
		both  bool // also post the same devices to both apps
	}{
		{"tablestorage/mqtt", tableStorage, false},
		{"tablestorage/mqtt+http-to-both", tableStorage, true},
		{"sqlite/mqtt+http-to-both", sqliteFile, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			began := time.Now()
			st := newStack(t, tc.store)
			rs := []*replica{st.startReplica(t, "enviromon-a"), st.startReplica(t, "enviromon-b")}
			l := startLive(t, rs[0].base)
			startup := time.Since(began)

			var (
				wg        sync.WaitGroup
				httpStats sim.Stats
				posts     *bothSender
			)
			defer wg.Wait() // a failed MQTT run must not leave the HTTP fleet logging after the test
			if tc.both {
				posts = newBothSender(rs)
				wg.Go(func() { httpStats = sendHTTP(t, posts, httpCfg) })
			}
			sendBegan := time.Now()
			mqttStats := sendMQTT(t, st.mqttURL, mqttCfg)
			wg.Wait()
			send := time.Since(sendBegan)
			if t.Failed() {
				return
			}
			want := expected(mqttStats, httpStats)

			var settled time.Duration
			for _, r := range rs {
				settled += settle(t, "GET /api/devices of "+r.pod, 120*time.Second, want, apiDevices(r.base))
			}
			stored := settle(t, tc.store.name+" read directly", 10*time.Second, want, func(ctx context.Context) (map[string]counts, error) {
				return storedDevices(ctx, st.store)
			})
			seen := settle(t, "the official SignalR client", 30*time.Second, want, l.read(want))

			var accepted, rejected, conflicts int64
			for i, r := range rs {
				m := metrics(t, r.base)
				mqttShare := m["enviromon_messages_total"]
				if posts != nil {
					mqttShare -= posts.answered[i].Load()
				}
				assert.Positive(t, mqttShare, "%s processed no MQTT message: the shared subscription gave it nothing", r.pod)
				assert.Zero(t, m["enviromon_readings_failed_total"], "%s failed readings", r.pod)
				accepted += m["enviromon_readings_accepted_total"]
				rejected += m["enviromon_readings_rejected_total"]
				conflicts += m["enviromon_store_conflicts_total"]
				t.Logf("%s: messages %d (MQTT %d), accepted %d, rejected %d, duplicates %d, store_conflicts_total %d, store_batch_conflicts_total %d, retries %d",
					r.pod, m["enviromon_messages_total"], mqttShare, m["enviromon_readings_accepted_total"], m["enviromon_readings_rejected_total"],
					m["enviromon_readings_duplicate_total"], m["enviromon_store_conflicts_total"], m["enviromon_store_batch_conflicts_total"],
					m["enviromon_store_retries_total"])
			}
			// Exactly once across replicas: a reading both received is
			// counted by one and recognised as a duplicate by the other.
			assert.Equal(t, int64(mqttStats.Total.Valid+httpStats.Total.Valid), accepted, "readings accepted, both replicas")
			assert.Equal(t, int64(mqttStats.Total.Invalid+httpStats.Total.Invalid), rejected, "readings rejected, both replicas")
			if tc.both {
				assert.Positive(t, conflicts, "both replicas wrote the same devices at once, yet no ETag conflict")
			}

			t.Logf("mqtt: %s", mqttStats)
			if tc.both {
				t.Logf("http to both: %s", httpStats)
			}
			t.Logf("timings: start-up %s, send %s, settle: API (both replicas) %s, store +%s, live client +%s",
				startup.Round(time.Millisecond), send.Round(time.Millisecond), settled.Round(time.Millisecond),
				stored.Round(time.Millisecond), seen.Round(time.Millisecond))
			record("replicas/%-31s %d devices, %d sends (%d via MQTT, %d×2 via HTTP): start-up %s, send %s, settle %s, conflicts %d",
				tc.name, mqttCfg.Devices, mqttStats.Total.Acked()+httpStats.Total.Acked(), mqttStats.Total.Acked(), httpStats.Total.Acked(),
				startup.Round(time.Millisecond), send.Round(time.Millisecond), settled.Round(time.Millisecond), conflicts)
		})
	}
}

// sendHTTP runs the simulator through s and requires a clean run. It runs
// beside sendMQTT, so it reports with t.Errorf rather than stopping the
// test from another goroutine.
func sendHTTP(t testing.TB, s *bothSender, cfg sim.Config) sim.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stats, err := sim.Run(ctx, cfg, s)
	if err != nil {
		t.Errorf("http run: %v", err)
	}
	if n := stats.Total.Failures + stats.Total.Rejected + stats.Total.Cancelled; n != 0 {
		t.Errorf("http to both: %d sends not acknowledged by both apps: %s", n, stats)
	}
	if stats.Total.Invalid == 0 || stats.Total.Repeats == 0 {
		t.Errorf("http to both: the run must include invalid readings and redeliveries: %s", stats)
	}
	return stats
}

// bothSender posts every message to every replica's POST /api/telemetry at
// the same moment and succeeds only when all of them answered 2xx. Message
// ids get the prefix "http-" so they never equal the MQTT fleet's ids for
// the same devices ("sim-001-7"); a repeat keeps its id.
type bothSender struct {
	senders  []*simhttp.Sender
	answered []atomic.Int64 // HTTP answers per replica: each is one message the app processed
}

func newBothSender(rs []*replica) *bothSender {
	client := &http.Client{Timeout: 30 * time.Second}
	s := &bothSender{answered: make([]atomic.Int64, len(rs))}
	for _, r := range rs {
		s.senders = append(s.senders, simhttp.New(r.base+"/api/telemetry", client))
	}
	return s
}

var _ sim.Sender = (*bothSender)(nil)

func (s *bothSender) Send(ctx context.Context, deviceID string, payload []byte) error {
	payload, err := relabel(payload, "http-")
	if err != nil {
		return err
	}
	errs := make([]error, len(s.senders))
	var wg sync.WaitGroup
	for i, snd := range s.senders {
		wg.Go(func() {
			errs[i] = snd.Send(ctx, deviceID, payload)
			var status *simhttp.StatusError
			if errs[i] == nil || errors.As(errs[i], &status) {
				s.answered[i].Add(1)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// relabel prefixes the payload's messageId.
func relabel(payload []byte, prefix string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("relabel: %w", err)
	}
	var id string
	if err := json.Unmarshal(m["messageId"], &id); err != nil {
		return nil, fmt.Errorf("relabel: messageId: %w", err)
	}
	b, err := json.Marshal(prefix + id)
	if err != nil {
		return nil, err
	}
	m["messageId"] = b
	return json.Marshal(m)
}
