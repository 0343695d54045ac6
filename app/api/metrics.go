package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// metrics writes the pipeline counters in the Prometheus text format.
func (h *handlers) metrics(c *gin.Context) {
	s := h.deps.Metrics()
	var b strings.Builder
	counter := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP enviromon_%s %s\n# TYPE enviromon_%s counter\nenviromon_%s %d\n", name, help, name, name, v)
	}
	counter("messages_total", "Transport messages handed to the pipeline.", s.Messages)
	counter("readings_accepted_total", "Readings counted on their device.", s.Accepted)
	counter("readings_rejected_total", "Invalid readings counted and dead-lettered.", s.Rejected)
	counter("readings_duplicate_total", "Redelivered readings recognised and not counted again.", s.Duplicates)
	counter("readings_failed_total", "Readings whose commit failed; the transport redelivers them.", s.Failed)
	counter("commits_total", "Group commits.", s.Flushes)
	counter("commit_readings_total", "Readings over all group commits.", s.Batched)
	counter("store_writes_total", "State store writes attempted.", s.Writes)
	counter("store_transactions_total", "State store write calls: one per key, or one per atomic batch.", s.Transactions)
	counter("store_batch_conflicts_total", "Atomic batch writes refused by an ETag check and retried key by key.", s.BatchConflicts)
	counter("store_conflicts_total", "State store writes refused by an ETag check.", s.Conflicts)
	counter("store_retries_total", "Keys re-read after an ETag conflict.", s.Retries)
	counter("notified_devices_total", "Device changes handed to the notifier.", s.Notified)
	c.Data(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", []byte(b.String()))
}
