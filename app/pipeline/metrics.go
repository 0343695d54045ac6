package pipeline

import "sync/atomic"

// Metrics are the pipeline's counters since start. All fields are safe for
// concurrent use.
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
	// Latency holds, per message whose readings were committed (accepted
	// or rejected), the time from its device's creation time, else its
	// enqueue time, to the commit. Messages with neither time, failed
	// ones and redelivered duplicates are not observed.
	Latency Histogram
}

// Snapshot is a point-in-time copy of Metrics.
type Snapshot struct {
	Messages, Accepted, Rejected, Duplicates, Failed int64
	Unprepared                                       int64
	Flushes, Batched, Writes, Conflicts, Retries     int64
	Notified, Transactions, BatchConflicts           int64
	Latency                                          HistogramSnapshot
}

// Snapshot copies the counters.
func (m *Metrics) Snapshot() Snapshot {
	return Snapshot{
		Messages: m.Messages.Load(), Accepted: m.Accepted.Load(), Rejected: m.Rejected.Load(),
		Duplicates: m.Duplicates.Load(), Failed: m.Failed.Load(), Unprepared: m.Unprepared.Load(), Flushes: m.Flushes.Load(),
		Batched: m.Batched.Load(), Writes: m.Writes.Load(), Conflicts: m.Conflicts.Load(),
		Retries: m.Retries.Load(), Notified: m.Notified.Load(),
		Transactions: m.Transactions.Load(), BatchConflicts: m.BatchConflicts.Load(),
		Latency: m.Latency.Snapshot(),
	}
}
