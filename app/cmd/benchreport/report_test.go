package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const output = `goos: linux
cpu: Test CPU @ 2GHz
BenchmarkEmbedded/devices=1000-2   	       1	      9000 ceilingA-msgs/s	       800.0 msgs/s	         0.1 x-ceilingA
BenchmarkEmbedded/devices=1000-2   	       1	     10000 ceilingA-msgs/s	       900.0 msgs/s	         0.09 x-ceilingA
BenchmarkEmbedded/devices=1000-2   	       1	     11000 ceilingA-msgs/s	      1000 msgs/s	         0.0909 x-ceilingA
BenchmarkEmbedded/devices=1000 log line that is not a result
BenchmarkSidecar/store=tablestorage-2 	       1	 0.15 writes/msg
PASS
`

func TestParse(t *testing.T) {
	r, err := parse(strings.NewReader(output))
	require.NoError(t, err)
	assert.Equal(t, "Test CPU @ 2GHz", r.cpu)
	assert.Equal(t, []string{"BenchmarkEmbedded/devices=1000", "BenchmarkSidecar/store=tablestorage"}, r.order)
	s, ok := r.get("BenchmarkEmbedded/devices=1000", "msgs/s")
	require.True(t, ok)
	assert.Equal(t, []float64{800, 900, 1000}, s.values)
	assert.Equal(t, "900 (800–1,000)", cell(s))
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		values []float64
		want   float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		assert.Equal(t, tc.want, sample{values: tc.values}.median(), "%v", tc.values)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 123.4: "123", 45.67: "45.7", 2.345: "2.35", 0.1234: "0.123", -4500: "-4,500"} {
		assert.Equal(t, want, num(v), "%v", v)
	}
}

func TestTargets(t *testing.T) {
	r, err := parse(strings.NewReader(output))
	require.NoError(t, err)
	body := render(r, header{by: "make bench", date: "2026-11-30", machine: "m", versions: "v", runs: "3 runs", commands: []string{"make bench"}})
	assert.Contains(t, body, "| embedded ≥ 0.8 × ceiling A (1,000 devices) | 0.091 | **no** |")
	assert.Contains(t, body, "| Azurite ≤ 0.2 store writes per message | 0.150 | yes |")
	assert.Contains(t, body, "| sidecar on redis ≥ 0.8 × ceiling B | not measured | – |")
	assert.Contains(t, body, "| devices=1000 | 900 (800–1,000) | 10,000 (9,000–11,000) |")
}

// historyOutput is `make bench-history` with 3 runs: the middle ratio
// misses 0.85, the best one alone would meet it.
const historyOutput = `cpu: Test CPU @ 2GHz
BenchmarkHistory/devices=1000-2 	       1	         0 ns/op	      6000 history-off-msgs/s	         1.02 history-off-writes/msg	         0.8000 x-history-off	      4800 msgs/s	         2.04 writes/msg
BenchmarkHistory/devices=1000-2 	       1	         0 ns/op	      6200 history-off-msgs/s	         1.01 history-off-writes/msg	         0.9000 x-history-off	      5580 msgs/s	         2.02 writes/msg
BenchmarkHistory/devices=1000-2 	       1	         0 ns/op	      5800 history-off-msgs/s	         1.03 history-off-writes/msg	         0.8400 x-history-off	      4872 msgs/s	         2.06 writes/msg
PASS
`

func TestHistoryTarget(t *testing.T) {
	for _, tt := range []struct {
		name, output string
		want         string
	}{
		{"median below 0.85", historyOutput, "| history on ≥ 0.85 × history off (1,000 devices) | 0.840 | **no** |"},
		{"median at 0.85", strings.ReplaceAll(historyOutput, "0.8400 x-history-off", "0.8500 x-history-off"),
			"| history on ≥ 0.85 × history off (1,000 devices) | 0.850 | yes |"},
		{"not run", output, "| history on ≥ 0.85 × history off (1,000 devices) | not measured | – |"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parse(strings.NewReader(tt.output))
			require.NoError(t, err)
			body := render(r, header{by: "make bench", runs: "3 runs"})
			assert.Contains(t, body, tt.want)
		})
	}
}

func TestHistoryBlock(t *testing.T) {
	r, err := parse(strings.NewReader(historyOutput))
	require.NoError(t, err)
	body := render(r, header{by: "make bench-history", runs: "3 runs", measuredOnly: true})
	assert.Contains(t, body, "Written by `make bench-history`")
	assert.Contains(t, body, "| history on ≥ 0.85 × history off (1,000 devices) | 0.840 | **no** |")
	assert.NotContains(t, body, "ceiling A", "targets of benchmarks that did not run are left out")
	assert.Contains(t, body, "| devices=1000 | 4,872 (4,800–5,580) | 6,000 (5,800–6,200) | 0.840 (0.800–0.900) | 2.04 (2.02–2.06) | 1.02 (1.01–1.03) |")
}

func TestSplice(t *testing.T) {
	bench, benchEnd := markers("bench")
	history, historyEnd := markers("bench-history")
	require.Equal(t, "<!-- bench:begin (written by make bench; do not edit) -->", bench, "the README's existing marker")
	doc := "# R\n## Performance\n" + bench + "\nold\n" + benchEnd + "\n" + history + "\nold history\n" + historyEnd + "\nafter\n"

	got, err := splice(doc, "bench", "new\n")
	require.NoError(t, err)
	assert.Equal(t, "# R\n## Performance\n"+bench+"\nnew\n"+benchEnd+"\n"+history+"\nold history\n"+historyEnd+"\nafter\n", got)

	got, err = splice(doc, "bench-history", "new history\n")
	require.NoError(t, err)
	assert.Equal(t, "# R\n## Performance\n"+bench+"\nold\n"+benchEnd+"\n"+history+"\nnew history\n"+historyEnd+"\nafter\n", got)

	_, err = splice("# no markers", "bench", "x")
	assert.Error(t, err)
}

func TestCharge(t *testing.T) {
	for _, tc := range []struct {
		stack []string // leaf first
		want  string
	}{
		{[]string{"runtime.memmove", "modernc.org/sqlite/lib._sqlite3VdbeExec", "database/sql.(*Tx).ExecContext"}, "SQLite"},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.write", "net.(*conn).Write", "github.com/mochi-mqtt/server/v2.(*Client).WritePacket"}, "embedded broker (mochi + bbolt)"},
		{[]string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker"}, "garbage collector"},
		{[]string{"encoding/json.(*decodeState).object", "github.com/enviromon/enviromon/app/pipeline.(*Processor).flush"}, "JSON"},
		{[]string{"runtime.futex", "runtime.schedule"}, "Go runtime (scheduler, allocator)"},
		{[]string{"strings.Index", "github.com/acme/other.F"}, "github.com/acme/other"},
	} {
		assert.Equal(t, tc.want, charge(tc.stack), "%v", tc.stack)
	}
}

func TestCostsOfSavedProfile(t *testing.T) {
	assert.Empty(t, topCosts(t.TempDir()), "no profiles, no list")
}
