package api

import (
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// answerBound is how long any answer may take, with room for the race
// detector on a busy machine; a hostile body answered in seconds is a bug.
const answerBound = 5 * time.Second

// TestIngestMemoryIsBounded posts the heaviest bodies of the corpus again
// and again, from several clients at once, and checks that every answer is
// prompt and that the live heap afterwards has not grown with them: nothing
// of a body is kept beyond its dead-letter excerpt and device record.
func TestIngestMemoryIsBounded(t *testing.T) {
	bodies := []struct {
		file   string
		status int
	}{
		{"deep-100000.json.gz", http.StatusBadRequest},
		{"deep-objects-50000-unclosed.json.gz", http.StatusBadRequest},
		{"max-size.json.gz", http.StatusOK},
		{"readings-1000.json.gz", http.StatusOK},
		{"one-mebibyte.json.gz", http.StatusRequestEntityTooLarge},
	}
	payloads := make([][]byte, len(bodies))
	for i, b := range bodies {
		var err error
		payloads[i], err = corpusBody(b.file)
		require.NoError(t, err)
	}
	r := realAPI(t, pipeline.Config{})
	round := func() {
		for i, b := range bodies {
			began := time.Now()
			w := post(r, payloads[i], "application/json")
			assert.Equal(t, b.status, w.Code, b.file)
			assert.Less(t, time.Since(began), answerBound, b.file)
		}
	}
	round() // the devices, index and dead letters exist from here on
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const clients, rounds = 4, 10
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range rounds {
				round()
			}
		})
	}
	wg.Wait()
	after := heap()
	// 40 rounds post 10 MiB of bodies in all; what stays is 40 more
	// dead-letter excerpts (<1 KiB each) and larger counters.
	grown := int64(after) - int64(before)
	t.Logf("heap %d KiB before, %d KiB after %d rounds", before>>10, after>>10, clients*rounds)
	assert.Less(t, grown, int64(4<<20), "the heap grew by %d KiB", grown>>10)
}

// FuzzIngest posts any body: the answer is never a server error, comes
// promptly, and agrees with telemetry.Decode: 413 over the size limit, 400
// for what Decode refuses, 200 for the rest.
func FuzzIngest(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.body)
	}
	r := realAPI(f, pipeline.Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		began := time.Now()
		w := post(r, body, "application/json")
		if took := time.Since(began); took > answerBound {
			t.Fatalf("answered in %v", took)
		}
		want := http.StatusOK
		if _, err := telemetry.Decode(body); err != nil {
			want = http.StatusBadRequest
		}
		if len(body) > telemetry.MaxPayload {
			want = http.StatusRequestEntityTooLarge
		}
		if w.Code != want {
			t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
		}
	})
}
