package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/pipeline"
)

// openSQLite opens a state.sqlite store on file, as the embedded YAML does.
func openSQLite(t testing.TB, file string) *inprocess.State {
	t.Helper()
	c := component.Component{Name: "statestore", Type: "state.sqlite", Version: "v1",
		Metadata: map[string]string{"connectionString": file, "tableName": "state", "busyTimeout": "10s"}}
	s, err := inprocess.OpenState(context.Background(), c, "enviromon", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestReplicasOnSQLite simulates eight replicas: eight processors, each with
// its own state.sqlite instance on one database file, fed 20,000 messages
// over 50 devices, with redeliveries sent to any replica. Every device's
// count must equal its unique valid messages, and the ETag conflicts this
// provokes must have been resolved, not lost.
func TestReplicasOnSQLite(t *testing.T) {
	const (
		replicas = 8
		devices  = 50
		messages = 20_000
		feeders  = 64
	)
	file := filepath.Join(t.TempDir(), "state.db")
	procs := make([]*pipeline.Processor, replicas)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range procs {
		p, err := pipeline.New(openSQLite(t, file), pipeline.Config{})
		require.NoError(t, err)
		procs[i] = p
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	// The plan: message i belongs to device i%devices; every 10th is invalid;
	// about one send in eight repeats one of the last 200 sends (a
	// redelivery: soon after, possibly while the original is still being
	// committed by another replica). De-duplication remembers the last
	// DedupWindow ids per device, 256 by default: far more than the four or
	// so messages per device that 200 sends span here.
	type send struct {
		device, id string
		valid      bool
	}
	rng := rand.New(rand.NewPCG(1, 2))
	plan := make([]send, 0, messages+messages/8)
	wantValid := map[string]int64{}
	wantRejected := map[string]int64{}
	for i := range messages {
		s := send{device: fmt.Sprintf("dev-%02d", i%devices), id: fmt.Sprintf("m-%d", i), valid: i%10 != 0}
		plan = append(plan, s)
		if s.valid {
			wantValid[s.device]++
		} else {
			wantRejected[s.device]++
		}
		if rng.IntN(8) == 0 {
			back := min(len(plan), 200)
			plan = append(plan, plan[len(plan)-1-rng.IntN(back)])
		}
	}

	var next, redelivered atomic.Int64
	var fwg sync.WaitGroup
	began := time.Now()
	for range feeders {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			for {
				n := next.Add(1) - 1
				if n >= int64(len(plan)) {
					return
				}
				s := plan[n]
				temp := 21.5
				if !s.valid {
					temp = 999
				}
				payload := fmt.Sprintf(`{"deviceId":%q,"messageId":%q,"temperature":%g}`, s.device, s.id, temp)
				// Like a transport: a failed message is redelivered, to any replica.
				for attempt := 0; ; attempt++ {
					p := procs[rand.IntN(replicas)]
					_, err := p.Process(ctx, pipeline.Message{Payload: []byte(payload)})
					if err == nil {
						break
					}
					redelivered.Add(1)
					if !assert.Less(t, attempt, 20, "message %s kept failing: %v", s.id, err) {
						return
					}
				}
			}
		}()
	}
	fwg.Wait()
	took := time.Since(began)

	reader := procs[0]
	all, more, err := reader.DevicePage(context.Background(), "", devices+1)
	require.Empty(t, more, "one page holds every device")
	require.NoError(t, err)
	require.Len(t, all, devices, "every device is in the index")
	for _, d := range all {
		assert.Equal(t, wantValid[d.DeviceID], d.Count, "count of %s", d.DeviceID)
		assert.Equal(t, wantRejected[d.DeviceID], d.Rejected, "rejected of %s", d.DeviceID)
	}
	var total pipeline.Snapshot
	for _, p := range procs {
		s := p.Metrics().Snapshot()
		total.Conflicts += s.Conflicts
		total.Retries += s.Retries
		total.Duplicates += s.Duplicates
		total.Accepted += s.Accepted
		total.Flushes += s.Flushes
		total.Failed += s.Failed
	}
	t.Logf("%d sends (%d planned repeats) in %v: %.0f msg/s; %d commits, %d conflicts, %d keys retried, %d failed and redelivered, %d duplicates",
		len(plan), len(plan)-messages, took.Round(time.Millisecond), float64(len(plan))/took.Seconds(),
		total.Flushes, total.Conflicts, total.Retries, redelivered.Load(), total.Duplicates)
	assert.Positive(t, total.Conflicts, "eight replicas on one store must have conflicted")
	assert.GreaterOrEqual(t, total.Retries, total.Conflicts, "every conflict was re-read and re-applied")
	assert.GreaterOrEqual(t, total.Duplicates, int64(len(plan)-messages), "every repeat was recognised")
}
