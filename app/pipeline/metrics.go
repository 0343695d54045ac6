package pipeline

import (
	"sync/atomic"
	"time"
)

// Metrics are the pipeline's counters since start. All fields are safe for
// concurrent use. Histograms are not kept here: the pipeline hands each
// measurement to its Observer, and the metrics adapter owns the buckets.
type Metrics struct {
	Messages   atomic.Int64 // transport messages handed to Process
	Accepted   atomic.Int64 // readings counted on their device
	Rejected   atomic.Int64 // invalid readings counted and dead-lettered
	Duplicates atomic.Int64 // readings recognised as redelivered
	Failed     atomic.Int64 // readings whose commit failed (the transport redelivers)
	// Unprepared counts messages answered with an error before all their
	// readings were handed to a commit: the calibration could not be read,
	// or the pipeline was stopping. The transport redelivers them.
	Unprepared atomic.Int64
	Flushes    atomic.Int64 // group commits
	Batched    atomic.Int64 // readings over all flushes (Batched/Flushes = mean batch)
	Writes     atomic.Int64 // keys written or attempted
	// Transactions counts store write calls: one per key, or one per batch
	// where the store writes several keys atomically.
	Transactions   atomic.Int64
	BatchConflicts atomic.Int64 // batch writes refused by an ETag check, then retried key by key
	Conflicts      atomic.Int64 // writes refused by an ETag check
	Retries        atomic.Int64 // keys re-read after a conflict
	Notified       atomic.Int64 // device changes handed to the notifier
	// HistoryFailed counts history records not written although their
	// device record committed: their readings are missing from history.
	HistoryFailed atomic.Int64
	// RejectedBy splits Rejected by Reason: its entries add up to Rejected.
	RejectedBy [numReasons]atomic.Int64
}

// Snapshot is a point-in-time copy of Metrics.
type Snapshot struct {
	Messages, Accepted, Rejected, Duplicates, Failed int64
	Unprepared                                       int64
	Flushes, Batched, Writes, Conflicts, Retries     int64
	Notified, Transactions, BatchConflicts           int64
	HistoryFailed                                    int64
	RejectedBy                                       [numReasons]int64 // indexed by Reason
}

// Snapshot copies the counters.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{
		Messages: m.Messages.Load(), Accepted: m.Accepted.Load(), Rejected: m.Rejected.Load(),
		Duplicates: m.Duplicates.Load(), Failed: m.Failed.Load(), Unprepared: m.Unprepared.Load(), Flushes: m.Flushes.Load(),
		Batched: m.Batched.Load(), Writes: m.Writes.Load(), Conflicts: m.Conflicts.Load(),
		Retries: m.Retries.Load(), Notified: m.Notified.Load(),
		Transactions: m.Transactions.Load(), BatchConflicts: m.BatchConflicts.Load(),
		HistoryFailed: m.HistoryFailed.Load(),
	}
	for i := range m.RejectedBy {
		s.RejectedBy[i] = m.RejectedBy[i].Load()
	}
	return s
}

// Reason says why a reading was rejected, in the few classes the metrics
// split rejections into (the full reason text goes to the dead-letter
// list, and would make an unbounded label). The zero value means unknown.
type Reason uint8

// The reasons a reading is rejected.
const (
	ReasonUnknown  Reason = iota
	ReasonPayload         // the payload is not telemetry: not JSON, truncated, too deep
	ReasonDevice          // no device id, or one IoT Hub would refuse
	ReasonIdentity        // the payload names another device than the transport authenticated
	ReasonReading         // a field of the reading could not be decoded
	ReasonRange           // a value outside its accepted range, after calibration
	numReasons
)

var reasonNames = [numReasons]string{"unknown", "payload", "device", "identity", "reading", "range"}

// String is the reason's label value.
func (r Reason) String() string {
	if r >= numReasons {
		return reasonNames[ReasonUnknown]
	}
	return reasonNames[r]
}

// Observer receives the pipeline's measurements, for histograms. Its
// methods are called on the commit path and must not block. Durations are
// never negative.
type Observer interface {
	// Commit is called after each group commit of readings, with how long
	// its store work took: the device index, the device writes and the
	// dead-letter list, conflict retries included.
	Commit(readings int, took time.Duration)
	// IngestLatency is called once per message whose readings were
	// committed (accepted or rejected; not a redelivery of duplicates
	// only), with the time from its device's creation time, else from the
	// transport's enqueue time, to the commit. Messages with neither time
	// are not observed.
	IngestLatency(d time.Duration)
	// EnqueueLatency is called for the same messages, with the time from
	// the transport's enqueue time to the commit, when the transport gave
	// one (IoT Hub and Event Hubs do; MQTT and HTTP ingest do not).
	EnqueueLatency(d time.Duration)
}

// WithObserver sets where the pipeline's measurements go; none by default.
func WithObserver(o Observer) Option { return func(p *Processor) { p.observer = o } }

// nopObserver drops every measurement.
type nopObserver struct{}

func (nopObserver) Commit(int, time.Duration)    {}
func (nopObserver) IngestLatency(time.Duration)  {}
func (nopObserver) EnqueueLatency(time.Duration) {}
