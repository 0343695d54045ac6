// Package metrics is Enviromon's Prometheus exposition, on
// prometheus/client_golang. One Registry per app, not the library's global
// default, so that tests can run several apps in one process.
//
// The pipeline imports no metrics library: its counters are plain atomics,
// read here at scrape time (one pipeline.Snapshot per scrape, so they agree
// with each other), and its per-commit and per-message measurements reach
// the histograms through pipeline.Observer, which Registry implements.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/enviromon/enviromon/app/pipeline"
)

// Sources are what the registry reads at scrape time. Each is called once
// per scrape; a nil one reads as zero.
type Sources struct {
	Pipeline func() pipeline.Snapshot // the pipeline's counters
	Online   func() int               // the devices online (pipeline.Processor.Online)
	Notifier Notifier                 // live updates; nil without them
}

// Notifier counts live update sends (notify.Notifier).
type Notifier interface {
	Sends() int64    // invocations sent
	Failures() int64 // invocations that failed, to be retried with the next
}

// Registry holds every metric of one app: the pipeline's counters, its
// histograms, the notifier's counters, the devices online, and the Go and
// process collectors. Gather it (promhttp.HandlerFor) to serve /metrics.
type Registry struct {
	reg                            *prometheus.Registry
	batch, commit, ingest, enqueue prometheus.Histogram
}

var (
	_ pipeline.Observer   = (*Registry)(nil)
	_ prometheus.Gatherer = (*Registry)(nil)
)

// Latency buckets, 1 ms to 60 s: a commit lingers a few milliseconds; a
// backlog or a retrying store shows as seconds. They are the buckets the
// hand-made histogram had, so dashboards and recorded data carry over.
var latencyBuckets = []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60}

// commitBuckets, 0.5 ms to 10 s: an SQLite transaction takes a millisecond
// or so, a remote store tens, conflict retries with backoff seconds.
var commitBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10}

// batchBuckets, 1 to 4096 readings in powers of two: 4096 is the default
// pipeline.Config.MaxBatch.
var batchBuckets = prometheus.ExponentialBuckets(1, 2, 13)

// Help of enviromon_ingest_latency_seconds, as it always read.
const ingestHelp = "Seconds from the device's creation time (iothub-creation-time-utc), else the hub's enqueue time, to the commit of the message's readings."

// New returns the registry of one app, reading src at scrape time.
func New(src Sources) *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "enviromon_commit_batch_readings",
			Help: "Readings per group commit.", Buckets: batchBuckets}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "enviromon_commit_duration_seconds",
			Help:    "Seconds per group commit in the state store: device index, device writes and dead-letter list, conflict retries included.",
			Buckets: commitBuckets}),
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "enviromon_ingest_latency_seconds",
			Help: ingestHelp, Buckets: latencyBuckets}),
		enqueue: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "enviromon_enqueue_latency_seconds",
			Help:    "Seconds from the transport's enqueue time (IoT Hub's iothub-enqueuedtime, Event Hubs' x-opt-enqueued-time) to the commit of the message's readings; MQTT and HTTP ingest give none.",
			Buckets: latencyBuckets}),
	}
	r.reg.MustRegister(
		r.batch, r.commit, r.ingest, r.enqueue,
		pipelineCollector{src.Pipeline},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enviromon_devices_online",
			Help: "Devices whose readings this replica committed with a last-seen time within the last 60 s (an estimate kept in memory: no store reads)."},
			func() float64 { return float64(call(src.Online)) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "enviromon_notifier_sends_total",
			Help: "Live update invocations sent to the SignalR output binding."},
			func() float64 { return notifierCount(src.Notifier, Notifier.Sends) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "enviromon_notifier_failures_total",
			Help: "Live update invocations that failed; their devices go out with the next send."},
			func() float64 { return notifierCount(src.Notifier, Notifier.Failures) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// Gather collects every metric, for promhttp.HandlerFor.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

// Commit observes one group commit.
func (r *Registry) Commit(readings int, took time.Duration) {
	r.batch.Observe(float64(readings))
	r.commit.Observe(took.Seconds())
}

// IngestLatency observes one message's latency from its creation time.
func (r *Registry) IngestLatency(d time.Duration) { r.ingest.Observe(d.Seconds()) }

// EnqueueLatency observes one message's latency from its enqueue time.
func (r *Registry) EnqueueLatency(d time.Duration) { r.enqueue.Observe(d.Seconds()) }

func call(f func() int) int {
	if f == nil {
		return 0
	}
	return f()
}

func notifierCount(n Notifier, count func(Notifier) int64) float64 {
	if n == nil {
		return 0
	}
	return float64(count(n))
}
