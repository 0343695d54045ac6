package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/pipeline"
)

type notifierCounts struct{ sends, failures int64 }

func (n notifierCounts) Sends() int64    { return n.sends }
func (n notifierCounts) Failures() int64 { return n.failures }

// families gathers r by name.
func families(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	got, err := r.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.MetricFamily, len(got))
	for _, f := range got {
		out[f.GetName()] = f
	}
	return out
}

func TestCountersAreReadAtScrapeTime(t *testing.T) {
	var snap pipeline.Snapshot
	online := 0
	r := New(Sources{
		Pipeline: func() pipeline.Snapshot { return snap },
		Online:   func() int { return online },
		Notifier: notifierCounts{sends: 12, failures: 3},
	})
	snap = pipeline.Snapshot{Messages: 10, Accepted: 7, Rejected: 3, Conflicts: 2, Batched: 1_234_567}
	snap.RejectedBy[pipeline.ReasonRange] = 2
	snap.RejectedBy[pipeline.ReasonPayload] = 1
	online = 42

	f := families(t, r)
	value := func(name string) float64 {
		t.Helper()
		require.Contains(t, f, name)
		m := f[name].GetMetric()
		require.Len(t, m, 1, name)
		if c := m[0].GetCounter(); c != nil {
			return c.GetValue()
		}
		return m[0].GetGauge().GetValue()
	}
	assert.Equal(t, 10.0, value("enviromon_messages_total"))
	assert.Equal(t, 7.0, value("enviromon_readings_accepted_total"))
	assert.Equal(t, 2.0, value("enviromon_store_conflicts_total"))
	assert.Equal(t, 1_234_567.0, value("enviromon_commit_readings_total"))
	assert.Equal(t, 42.0, value("enviromon_devices_online"))
	assert.Equal(t, 12.0, value("enviromon_notifier_sends_total"))
	assert.Equal(t, 3.0, value("enviromon_notifier_failures_total"))

	byReason := map[string]float64{}
	for _, m := range f["enviromon_rejections_total"].GetMetric() {
		require.Len(t, m.GetLabel(), 1)
		byReason[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"payload": 1, "device": 0, "identity": 0, "reading": 0, "range": 2}, byReason,
		"every reason is there from the start, so rate() sees its first rejection")
	assert.Contains(t, f, "go_goroutines")
	assert.Contains(t, f, "process_resident_memory_bytes")
}

func TestNilSourcesReadAsZero(t *testing.T) {
	f := families(t, New(Sources{}))
	for _, name := range []string{"enviromon_messages_total", "enviromon_notifier_sends_total", "enviromon_devices_online"} {
		require.Contains(t, f, name)
		m := f[name].GetMetric()[0]
		assert.Zero(t, m.GetCounter().GetValue()+m.GetGauge().GetValue(), name)
	}
}

func TestObservationsFillTheHistograms(t *testing.T) {
	r := New(Sources{})
	r.Commit(3, 4*time.Millisecond)
	r.Commit(700, 30*time.Millisecond)
	r.IngestLatency(40 * time.Millisecond)
	r.EnqueueLatency(2 * time.Second)

	f := families(t, r)
	hist := func(name string) *dto.Histogram {
		t.Helper()
		require.Contains(t, f, name)
		return f[name].GetMetric()[0].GetHistogram()
	}
	batch := hist("enviromon_commit_batch_readings")
	assert.Equal(t, uint64(2), batch.GetSampleCount())
	assert.Equal(t, 703.0, batch.GetSampleSum())
	assert.Equal(t, 4096.0, batch.GetBucket()[len(batch.GetBucket())-1].GetUpperBound(), "up to the default MaxBatch")
	cumulative := map[float64]uint64{}
	for _, b := range batch.GetBucket() {
		cumulative[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	assert.Equal(t, uint64(1), cumulative[4], "3 readings ≤ 4")
	assert.Equal(t, uint64(1), cumulative[512])
	assert.Equal(t, uint64(2), cumulative[1024], "700 readings ≤ 1024")

	commit := hist("enviromon_commit_duration_seconds")
	assert.InDelta(t, 0.034, commit.GetSampleSum(), 1e-9)

	ingest := hist("enviromon_ingest_latency_seconds")
	assert.Equal(t, uint64(1), ingest.GetSampleCount())
	var les []float64
	for _, b := range ingest.GetBucket() {
		les = append(les, b.GetUpperBound())
	}
	assert.Equal(t, []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60}, les,
		"the buckets the hand-made histogram had")
	assert.Contains(t, f["enviromon_ingest_latency_seconds"].GetHelp(), "iothub-creation-time-utc")
	assert.Contains(t, f["enviromon_enqueue_latency_seconds"].GetHelp(), "enqueue time")
	assert.Equal(t, 2.0, hist("enviromon_enqueue_latency_seconds").GetSampleSum())
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(Sources{}), New(Sources{})
	a.IngestLatency(time.Second)
	assert.Equal(t, 1, testutil.CollectAndCount(a.ingest))
	assert.Equal(t, uint64(0), families(t, b)["enviromon_ingest_latency_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(),
		"two apps in one process do not share metrics")
}

func TestRegistryIsConsistent(t *testing.T) {
	// Every descriptor is valid and unique: Gather reports any clash.
	problems, err := testutil.GatherAndLint(New(Sources{}))
	require.NoError(t, err)
	for _, p := range problems {
		if p.Metric == "enviromon_commit_batch_readings" {
			continue // a count of readings has no unit suffix to give
		}
		assert.Failf(t, "lint", "%s: %s", p.Metric, p.Text)
	}
}
