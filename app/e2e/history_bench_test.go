//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// historyOff switches history off: no hour records, so no minute buckets
// either (-history-minutes must not exceed -history-hours).
var historyOff = []string{"-history-hours", "0", "-history-minutes", "0"}

// BenchmarkHistory is the ingest cost of history (issue 10): the embedded
// app with history on (the defaults, 1-minute buckets for 48 h and 1-hour
// ones for 30 days) against the same app with history off, two processes
// side by side in the same run, 1,000 devices so that every commit touches
// many history records. Each iteration measures the two in the order ABBA
// (BAAB on odd iterations), burst messages each time, so that a machine
// growing slower or faster during the iteration moves both alike; with
// -benchtime 1x every run is its own ABBA.
func BenchmarkHistory(b *testing.B) {
	const devices = 1000
	b.Run("devices=1000", func(b *testing.B) {
		on := newHistorySide(b, devices)
		off := newHistorySide(b, devices, historyOff...)
		requireHistory(b, on, http.StatusOK)
		requireHistory(b, off, http.StatusBadRequest) // "history with step 1h is not kept"
		i := 0
		for b.Loop() {
			order := []*historySide{on, off, off, on}
			if i%2 == 1 {
				order = []*historySide{off, on, on, off}
			}
			i++
			for _, s := range order {
				s.measure(b, burst)
			}
			onRate, onWrites := on.result()
			offRate, offWrites := off.result()
			report(b, onRate, offRate, "history-off")
			b.ReportMetric(onWrites, "writes/msg")
			b.ReportMetric(offWrites, "history-off-writes/msg")
		}
	})
}

// historySide is one of the two apps and what its measurements of the
// current iteration added up to.
type historySide struct {
	app     appEndpoint
	load    load
	next    int // the next message number
	msgs    int
	seconds float64
	writes  int64
}

// newHistorySide starts an embedded app with args and sends each device
// its first message, which creates its record and its first hour record.
func newHistorySide(b *testing.B, devices int, args ...string) *historySide {
	b.Helper()
	s := &historySide{app: startEmbedded(b, b.TempDir(), args...)}
	s.load = load{broker: s.app.mqttURL, prefix: "hist", devices: devices}
	measure(b, s.load, 0, devices, s.app.accepted)
	s.next = devices
	return s
}

// measure publishes n messages and adds their time and store writes to
// the side's totals.
func (s *historySide) measure(b *testing.B, n int) {
	b.Helper()
	before := metrics(b, s.app.base)["enviromon_store_writes_total"]
	r := measure(b, s.load, s.next, n, s.app.accepted)
	s.writes += metrics(b, s.app.base)["enviromon_store_writes_total"] - before
	s.next += n
	s.msgs += n
	s.seconds += float64(n) / r
}

// result is the iteration's messages counted per second and store writes
// (records written) per message, and starts the next iteration's totals.
func (s *historySide) result() (rate, writesPerMsg float64) {
	rate, writesPerMsg = float64(s.msgs)/s.seconds, float64(s.writes)/float64(s.msgs)
	s.msgs, s.seconds, s.writes = 0, 0, 0
	return rate, writesPerMsg
}

// requireHistory asks the app for the last hours of one device's
// temperature and requires the status, and points when history is on: the
// flags took effect, and the two apps differ in what they keep.
func requireHistory(t testing.TB, s *historySide, status int) {
	t.Helper()
	now := time.Now().UTC()
	q := url.Values{"metric": {"temperature"}, "step": {"1h"},
		"from": {now.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}}
	resp, err := http.Get(s.app.base + "/api/devices/" + s.load.id(0) + "/history?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, status, resp.StatusCode, "history of %s", s.load.id(0))
	if status != http.StatusOK {
		return
	}
	var body struct {
		Points []json.RawMessage `json:"points"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotEmpty(t, body.Points, "history on, yet no bucket for %s", s.load.id(0))
}
