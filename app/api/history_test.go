package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// History answers f.err: the fake keeps no history.
func (f *fakePipeline) History(context.Context, string, telemetry.Metric, time.Time, time.Time, time.Duration) ([]telemetry.Point, error) {
	return nil, f.err
}

// historyAPI is the router over a running pipeline that keeps history,
// at now, fed the messages of device d1 at the given offsets from now.
func historyAPI(t *testing.T, now time.Time, temps map[time.Duration]float64) http.Handler {
	t.Helper()
	cfg := pipeline.Config{HistoryMinutes: 48 * time.Hour, HistoryHours: 30 * 24 * time.Hour}
	p, err := pipeline.New(newMemStore(), cfg, pipeline.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	n := 0
	for off, temp := range temps {
		n++
		_, err := p.Process(ctx, pipeline.Message{EnqueuedAt: now.Add(off),
			Payload: fmt.Appendf(nil, `{"deviceId":"d1","messageId":"m%d","temperature":%g}`, n, temp)})
		require.NoError(t, err)
	}
	return NewRouter(Deps{Ingest: p, Devices: p, Calibrations: p})
}

func getHistory(r http.Handler, id string, q url.Values) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/devices/"+id+"/history?"+q.Encode(), nil))
	return w
}

func TestHistoryAnswersBucketsInTimeOrder(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 30, 0, 0, time.UTC)
	r := historyAPI(t, now, map[time.Duration]float64{
		-90 * time.Minute:                10, // 11:00
		-90*time.Minute + 20*time.Second: 20, // the same minute
		-10 * time.Minute:                30, // 12:20
		-3 * time.Hour:                   40, // 09:30
	})
	q := url.Values{"metric": {"temperature"}, "step": {"1m"},
		"from": {now.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}}
	w := getHistory(r, "d1", q)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"deviceId":"d1","metric":"temperature","step":"1m","points":[
		{"t":"2025-03-10T11:00:00Z","min":10,"avg":15,"max":20,"n":2},
		{"t":"2025-03-10T12:20:00Z","min":30,"avg":30,"max":30,"n":1}]}`, w.Body.String())

	q.Set("step", "1h")
	q.Set("from", now.Add(-24*time.Hour).Format(time.RFC3339))
	w = getHistory(r, "d1", q)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var body historyBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	require.Len(t, body.Points, 3)
	assert.Equal(t, []time.Time{now.Add(-3*time.Hour - 30*time.Minute), now.Add(-90 * time.Minute), now.Add(-30 * time.Minute)},
		[]time.Time{body.Points[0].T, body.Points[1].T, body.Points[2].T})

	q.Set("metric", "humidity")
	w = getHistory(r, "d1", q)
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"deviceId":"d1","metric":"humidity","step":"1h","points":[]}`, w.Body.String(), "never measured: no points, not null")
}

func TestHistoryRefusesBadQueries(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 30, 0, 0, time.UTC)
	r := historyAPI(t, now, map[time.Duration]float64{-time.Minute: 20})
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name, metric, step, from, to, want string
	}{
		{"unknown metric", "wind", "1m", at(-time.Hour), at(0), "metric must be one of"},
		{"missing metric", "", "1m", at(-time.Hour), at(0), "metric must be one of"},
		{"unknown step", "temperature", "5m", at(-time.Hour), at(0), "step must be 1m or 1h"},
		{"bad from", "temperature", "1m", "yesterday", at(0), "from must be an RFC 3339 time"},
		{"missing to", "temperature", "1m", at(-time.Hour), "", "to must be an RFC 3339 time"},
		{"from after to", "temperature", "1m", at(0), at(-time.Hour), "from must be before to"},
		{"minutes span too long", "temperature", "1m", at(-49 * time.Hour), at(0), "spans at most 48h"},
		{"hours span too long", "temperature", "1h", at(-32 * 24 * time.Hour), at(0), "spans at most 744h"},
		{"minutes outside retention", "temperature", "1m", at(-60 * time.Hour), at(-50 * time.Hour), "before the oldest 1m bucket kept"},
		{"hours outside retention", "temperature", "1h", at(-40 * 24 * time.Hour), at(-31 * 24 * time.Hour), "before the oldest 1h bucket kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := getHistory(r, "d1", url.Values{"metric": {tt.metric}, "step": {tt.step}, "from": {tt.from}, "to": {tt.to}})
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.Contains(t, w.Body.String(), tt.want)
		})
	}
}

func TestHistoryOfUnknownDeviceIs404(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 30, 0, 0, time.UTC)
	r := historyAPI(t, now, nil)
	w := getHistory(r, "nobody", url.Values{"metric": {"temperature"}, "step": {"1h"},
		"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}})
	assert.Equal(t, http.StatusNotFound, w.Code, w.Body.String())
}
