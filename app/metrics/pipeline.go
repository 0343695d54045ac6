package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/enviromon/enviromon/app/pipeline"
)

// counter is one pipeline counter: its name without the enviromon_ prefix,
// its help, and where it is in a snapshot.
type counter struct {
	name, help string
	value      func(pipeline.Snapshot) int64
}

// counters are the pipeline's counters, with the names and help they had
// when /metrics was written by hand.
var counters = []counter{
	{"messages_total", "Transport messages handed to the pipeline.", func(s pipeline.Snapshot) int64 { return s.Messages }},
	{"readings_accepted_total", "Readings counted on their device.", func(s pipeline.Snapshot) int64 { return s.Accepted }},
	{"readings_rejected_total", "Invalid readings counted and dead-lettered.", func(s pipeline.Snapshot) int64 { return s.Rejected }},
	{"readings_duplicate_total", "Redelivered readings recognised and not counted again.", func(s pipeline.Snapshot) int64 { return s.Duplicates }},
	{"readings_failed_total", "Readings whose commit failed; the transport redelivers them.", func(s pipeline.Snapshot) int64 { return s.Failed }},
	{"messages_failed_total", "Messages failed before their readings reached a commit (calibration unreadable, stopping); the transport redelivers them.", func(s pipeline.Snapshot) int64 { return s.Unprepared }},
	{"commits_total", "Group commits.", func(s pipeline.Snapshot) int64 { return s.Flushes }},
	{"commit_readings_total", "Readings over all group commits.", func(s pipeline.Snapshot) int64 { return s.Batched }},
	{"store_writes_total", "State store writes attempted.", func(s pipeline.Snapshot) int64 { return s.Writes }},
	{"store_transactions_total", "State store write calls: one per key, or one per atomic batch.", func(s pipeline.Snapshot) int64 { return s.Transactions }},
	{"store_batch_conflicts_total", "Atomic batch writes refused by an ETag check and retried key by key.", func(s pipeline.Snapshot) int64 { return s.BatchConflicts }},
	{"store_conflicts_total", "State store writes refused by an ETag check.", func(s pipeline.Snapshot) int64 { return s.Conflicts }},
	{"store_retries_total", "Keys re-read after an ETag conflict.", func(s pipeline.Snapshot) int64 { return s.Retries }},
	{"notified_devices_total", "Device changes handed to the notifier.", func(s pipeline.Snapshot) int64 { return s.Notified }},
}

// Descriptors of the pipeline's counters, made once.
var (
	counterDescs = func() []*prometheus.Desc {
		out := make([]*prometheus.Desc, len(counters))
		for i, c := range counters {
			out[i] = prometheus.NewDesc("enviromon_"+c.name, c.help, nil, nil)
		}
		return out
	}()
	rejectionsDesc = prometheus.NewDesc("enviromon_rejections_total",
		"Invalid readings by reason (payload, device, identity, reading, range); they add up to enviromon_readings_rejected_total.",
		[]string{"reason"}, nil)
)

// pipelineCollector reads the pipeline's counters at scrape time.
type pipelineCollector struct {
	snapshot func() pipeline.Snapshot // nil reads as zero
}

// Describe sends the descriptors of every pipeline counter.
func (c pipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range counterDescs {
		ch <- d
	}
	ch <- rejectionsDesc
}

// Collect takes one snapshot and sends every counter from it, and every
// reason's rejections, zero included, so that rate() sees the first one.
func (c pipelineCollector) Collect(ch chan<- prometheus.Metric) {
	var s pipeline.Snapshot
	if c.snapshot != nil {
		s = c.snapshot()
	}
	for i, counter := range counters {
		ch <- prometheus.MustNewConstMetric(counterDescs[i], prometheus.CounterValue, float64(counter.value(s)))
	}
	for r, n := range s.RejectedBy {
		if reason := pipeline.Reason(r); reason != pipeline.ReasonUnknown || n > 0 {
			ch <- prometheus.MustNewConstMetric(rejectionsDesc, prometheus.CounterValue, float64(n), reason.String())
		}
	}
}
