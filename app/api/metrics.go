package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/pipeline"
)

// latencyHelp describes enviromon_ingest_latency_seconds.
const latencyHelp = "Seconds from the device's creation time (iothub-creation-time-utc), else the hub's enqueue time, to the commit of the message's readings."

// metrics writes the pipeline counters in the Prometheus text format, by
// hand until the module takes on prometheus/client_golang.
func (h *handlers) metrics(c *gin.Context) {
	s := h.deps.Metrics()
	counters := []struct {
		name, help string
		v          int64
	}{
		{"messages_total", "Transport messages handed to the pipeline.", s.Messages},
		{"readings_accepted_total", "Readings counted on their device.", s.Accepted},
		{"readings_rejected_total", "Invalid readings counted and dead-lettered.", s.Rejected},
		{"readings_duplicate_total", "Redelivered readings recognised and not counted again.", s.Duplicates},
		{"readings_failed_total", "Readings whose commit failed; the transport redelivers them.", s.Failed},
		{"messages_failed_total", "Messages failed before their readings reached a commit (calibration unreadable, stopping); the transport redelivers them.", s.Unprepared},
		{"commits_total", "Group commits.", s.Flushes},
		{"commit_readings_total", "Readings over all group commits.", s.Batched},
		{"store_writes_total", "State store writes attempted.", s.Writes},
		{"store_transactions_total", "State store write calls: one per key, or one per atomic batch.", s.Transactions},
		{"store_batch_conflicts_total", "Atomic batch writes refused by an ETag check and retried key by key.", s.BatchConflicts},
		{"store_conflicts_total", "State store writes refused by an ETag check.", s.Conflicts},
		{"store_retries_total", "Keys re-read after an ETag conflict.", s.Retries},
		{"notified_devices_total", "Device changes handed to the notifier.", s.Notified},
	}
	var b strings.Builder
	for _, m := range counters {
		fmt.Fprintf(&b, "# HELP enviromon_%s %s\n# TYPE enviromon_%s counter\nenviromon_%s %d\n", m.name, m.help, m.name, m.name, m.v)
	}
	writeHistogram(&b, "enviromon_ingest_latency_seconds", latencyHelp, s.Latency)
	c.Data(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", []byte(b.String()))
}

// writeHistogram writes h as the Prometheus histogram name: its cumulative
// buckets with le in seconds, then +Inf, _sum and _count.
func writeHistogram(b *strings.Builder, name, help string, h pipeline.HistogramSnapshot) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for i := range min(len(h.Bounds), len(h.Cumulative)) {
		fmt.Fprintf(b, "%s_bucket{le=%q} %d\n", name, formatFloat(h.Bounds[i].Seconds()), h.Cumulative[i])
	}
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n", name, h.Count)
	fmt.Fprintf(b, "%s_sum %s\n%s_count %d\n", name, formatFloat(h.Sum), name, h.Count)
}

// formatFloat writes f as Prometheus' own client does.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
