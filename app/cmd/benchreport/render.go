package main

import (
	"errors"
	"fmt"
	"strings"
)

// column is one unit a table shows, under a header.
type column struct{ unit, header string }

// table is one README table: every benchmark whose name starts with prefix,
// a row each.
type table struct {
	title, prefix, note string
	columns             []column
}

// tables are the README's Performance tables, in order.
var tables = []table{
	{
		title:  "Throughput: embedded (`make run`'s configuration)",
		prefix: "BenchmarkEmbedded/",
		note: "Ceiling A: the same load generator → mosquitto (the repository's configuration) → a subscriber that only acknowledges. " +
			"New devices: each device's first message, which also creates its record and index entry.",
		columns: []column{{"msgs/s", "counted/s"}, {"ceilingA-msgs/s", "ceiling A/s"}, {"x-ceilingA", "ratio to A"}, {"new-devices/s", "new devices/s"}},
	},
	{
		title:  "Throughput: the app beside daprd",
		prefix: "BenchmarkSidecar/",
		note: "Ceiling B: the same load generator → mosquitto → daprd `bindings.mqtt3` (components/local) → an app that only answers 200. " +
			"Baseline: the original system's per-message algorithm (read + ETag, calibrate, validate, If-Match write, one SignalR call), one message at a time per partition over IoT Hub's default 4 partitions, beside its own daprd on the same kind of store. " +
			"Writes/msg: the app's state store writes per message counted.",
		columns: []column{{"msgs/s", "counted/s"}, {"ceilingB-msgs/s", "ceiling B/s"}, {"x-ceilingB", "ratio to B"},
			{"baseline-msgs/s", "baseline/s"}, {"x-baseline", "× baseline"}, {"writes/msg", "writes/msg"}, {"readings/commit", "readings/commit"}, {"new-devices/s", "new devices/s"}},
	},
	{
		title:  "Latency at half the peak rate",
		prefix: "BenchmarkLatency/",
		note: "Publish → committed: the app's `enviromon_ingest_latency_seconds` histogram (from the creation time the device puts in its topic), interpolated. " +
			"Publish → client: receipt in the official `@microsoft/signalr` client, through the app's negotiate and the local SignalR service.",
		columns: []column{{"rate-msgs/s", "rate/s"}, {"commit-p50-ms", "committed p50 ms"}, {"commit-p99-ms", "committed p99 ms"},
			{"client-p50-ms", "client p50 ms"}, {"client-p99-ms", "client p99 ms"}},
	},
	{
		title:   "Fan-out: live stream to many official clients",
		prefix:  "BenchmarkFanout",
		note:    "Official `@microsoft/signalr` clients on WebSockets, all connected to the local SignalR service, receiving every broadcast.",
		columns: []column{{"clients", "clients"}, {"dropped-clients", "dropped"}, {"p50-ms", "p50 ms"}, {"p99-ms", "p99 ms"}},
	},
	{
		title:  "Scale: 100,000 devices",
		prefix: "BenchmarkScale/",
		note:   "The embedded app: resident memory and live heap above idle per device, both after a garbage collection once every device exists; first messages (new devices) and later messages (known devices) per second; resident memory after paging through every device.",
		columns: []column{{"devices", "devices"}, {"rss-bytes/device", "RSS bytes/device"}, {"heap-bytes/device", "live heap bytes/device"}, {"new-devices/s", "new devices/s"},
			{"msgs/s", "known devices msgs/s"}, {"page-rss-mb", "RSS after paging all, MB"}},
	},
	{
		title:  "Ingest cost of history",
		prefix: "BenchmarkHistory/",
		note: "Two embedded apps side by side in the same run: history on (the defaults: 1-minute buckets for 48 h, 1-hour buckets for 30 days) and off (`-history-hours 0 -history-minutes 0`), " +
			"measured on, off, off, on (or the reverse) in each run with the same load over the same devices. Writes/msg: records written per message counted (device and history records).",
		columns: []column{{"msgs/s", "history on/s"}, {"history-off-msgs/s", "history off/s"}, {"x-history-off", "on ÷ off"},
			{"writes/msg", "writes/msg on"}, {"history-off-writes/msg", "writes/msg off"}},
	},
	{
		title:   "Embedded broker alone",
		prefix:  "BenchmarkPublish/",
		note:    "app/broker: QoS 1 publishes acknowledged per second, one subscriber acknowledging; durable = on disk before PUBACK.",
		columns: []column{{"publishes/s", "publishes/s"}},
	},
}

// target is one of the targets, checked against a median.
type target struct {
	label string
	name  string // benchmark
	unit  string
	// per, when set, divides the figure by this benchmark's unit median.
	per, perUnit string
	atLeast      bool
	limit        float64
}

var targets = []target{
	{label: "embedded ≥ 0.8 × ceiling A (1,000 devices)", name: "BenchmarkEmbedded/devices=1000", unit: "x-ceilingA", atLeast: true, limit: 0.8},
	{label: "embedded ≥ 0.8 × ceiling A (10,000 devices)", name: "BenchmarkEmbedded/devices=10000", unit: "x-ceilingA", atLeast: true, limit: 0.8},
	{label: "sidecar on sqlite ≥ 0.8 × ceiling B", name: "BenchmarkSidecar/store=sqlite", unit: "x-ceilingB", atLeast: true, limit: 0.8},
	{label: "sidecar on redis ≥ 0.8 × ceiling B", name: "BenchmarkSidecar/store=redis", unit: "x-ceilingB", atLeast: true, limit: 0.8},
	{label: "sidecar on sqlite ≥ 20 × baseline", name: "BenchmarkSidecar/store=sqlite", unit: "x-baseline", atLeast: true, limit: 20},
	{label: "sidecar on redis ≥ 20 × baseline", name: "BenchmarkSidecar/store=redis", unit: "x-baseline", atLeast: true, limit: 20},
	{label: "embedded ≥ 20 × baseline (sqlite)", name: "BenchmarkEmbedded/devices=1000", unit: "msgs/s",
		per: "BenchmarkSidecar/store=sqlite", perUnit: "baseline-msgs/s", atLeast: true, limit: 20},
	{label: "Azurite ≤ 0.2 store writes per message", name: "BenchmarkSidecar/store=tablestorage", unit: "writes/msg", limit: 0.2},
	{label: "embedded p99 publish → committed ≤ 20 ms", name: "BenchmarkLatency/embedded", unit: "commit-p99-ms", limit: 20},
	{label: "embedded p99 publish → client ≤ 150 ms", name: "BenchmarkLatency/embedded", unit: "client-p99-ms", limit: 150},
	{label: "sidecar on sqlite p99 publish → committed ≤ 50 ms", name: "BenchmarkLatency/sidecar-sqlite", unit: "commit-p99-ms", limit: 50},
	{label: "fan-out p99 ≤ 250 ms", name: "BenchmarkFanout", unit: "p99-ms", limit: 250},
	{label: "fan-out: no client dropped", name: "BenchmarkFanout", unit: "dropped-clients", limit: 0},
	{label: "≤ 2 KB resident per device", name: "BenchmarkScale/devices=100000", unit: "rss-bytes/device", limit: 2048},
	{label: "history on ≥ 0.85 × history off (1,000 devices)", name: "BenchmarkHistory/devices=1000", unit: "x-history-off", atLeast: true, limit: 0.85},
}

// check returns the target's figure and whether it is met; ok is false
// when the benchmarks did not report it.
func (t target) check(r *results) (figure float64, met, ok bool) {
	s, ok := r.get(t.name, t.unit)
	if !ok {
		return 0, false, false
	}
	figure = s.median()
	if t.per != "" {
		d, ok := r.get(t.per, t.perUnit)
		if !ok {
			return 0, false, false
		}
		figure /= d.median()
	}
	if t.atLeast {
		return figure, figure >= t.limit, true
	}
	return figure, figure <= t.limit, true
}

// header is what the section says about where the figures come from.
type header struct {
	by                      string // the command that writes the section: make bench
	date, machine, versions string
	commands                []string
	runs                    string
	// measuredOnly leaves out the targets of benchmarks that did not run,
	// for a section that runs some of them.
	measuredOnly bool
}

// render writes the Performance section's body.
func render(r *results, h header) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Written by `%s` on %s. Machine: %s. %s.\n\n", h.by, h.date, h.machine, h.versions)
	fmt.Fprintf(&b, "Each figure is the median of %s, with the smallest and largest in brackets; every ratio is taken between a path and its ceiling measured right before it, in the same run. Commands:\n\n```sh\n", h.runs)
	for _, c := range h.commands {
		b.WriteString(c + "\n")
	}
	b.WriteString("```\n\n")

	b.WriteString("| target | median | met |\n|---|---|---|\n")
	for _, t := range targets {
		if h.measuredOnly && !r.ran(t.name) {
			continue
		}
		fig, met, ok := t.check(r)
		switch {
		case !ok:
			fmt.Fprintf(&b, "| %s | not measured | – |\n", t.label)
		case met:
			fmt.Fprintf(&b, "| %s | %s | yes |\n", t.label, num(fig))
		default:
			fmt.Fprintf(&b, "| %s | %s | **no** |\n", t.label, num(fig))
		}
	}
	for _, t := range tables {
		var rows []string
		for _, name := range r.order {
			if !strings.HasPrefix(name, t.prefix) {
				continue
			}
			label := strings.TrimPrefix(name, t.prefix)
			if label == "" {
				label = strings.TrimPrefix(name, "Benchmark")
			}
			cells := []string{label}
			for _, c := range t.columns {
				if s, ok := r.get(name, c.unit); ok {
					cells = append(cells, cell(s))
				} else {
					cells = append(cells, "–")
				}
			}
			rows = append(rows, "| "+strings.Join(cells, " | ")+" |")
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n**%s.** %s\n\n| |", t.title, t.note)
		for _, c := range t.columns {
			b.WriteString(" " + c.header + " |")
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(t.columns)) + "\n")
		b.WriteString(strings.Join(rows, "\n") + "\n")
	}
	return b.String()
}

// markers returns the comments around a generated block of the README,
// which `make <block>` writes: <!-- bench:begin … --> … <!-- bench:end -->.
func markers(block string) (begin, end string) {
	return "<!-- " + block + ":begin (written by make " + block + "; do not edit) -->", "<!-- " + block + ":end -->"
}

// splice replaces what lies between the markers of block in doc with body.
func splice(doc, block, body string) (string, error) {
	begin, end := markers(block)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", errors.New("README has no " + begin + " … " + end + " block")
	}
	return doc[:i+len(begin)] + "\n" + body + doc[j:], nil
}
