package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/metrics"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// fakePipeline answers from fields; each error field fails its call.
type fakePipeline struct {
	devices  []telemetry.Summary
	err      error
	saved    map[string]telemetry.Calibration
	messages []pipeline.Message
	now      time.Time // Fleet's clock
}

func (f *fakePipeline) Process(_ context.Context, m pipeline.Message) (pipeline.Result, error) {
	f.messages = append(f.messages, m)
	return pipeline.Result{Accepted: 1}, f.err
}

// Fleet adds up f.devices as the pipeline does, at the time of the newest.
func (f *fakePipeline) Fleet(_ context.Context, offlineAfter time.Duration) (telemetry.Fleet, error) {
	var fl telemetry.Fleet
	for _, d := range f.devices {
		fl.Add(d, f.now, offlineAfter)
	}
	return fl, f.err
}

// DevicePage pages f.devices, which the test gives sorted by id.
func (f *fakePipeline) DevicePage(_ context.Context, after string, limit int) ([]telemetry.Summary, string, error) {
	var out []telemetry.Summary
	for _, d := range f.devices {
		if d.DeviceID > after {
			out = append(out, d)
		}
	}
	if len(out) > limit {
		return out[:limit], out[limit-1].DeviceID, f.err
	}
	return out, "", f.err
}
func (f *fakePipeline) Device(_ context.Context, id string) (telemetry.Summary, error) {
	if f.err != nil {
		return telemetry.Summary{}, f.err
	}
	for _, d := range f.devices {
		if d.DeviceID == id {
			return d, nil
		}
	}
	return telemetry.Summary{}, fmt.Errorf("device %q: %w", id, pipeline.ErrNotFound)
}
func (f *fakePipeline) Rejected(context.Context) ([]pipeline.Rejection, error) { return nil, f.err }
func (f *fakePipeline) Calibration(_ context.Context, id string) (telemetry.Calibration, error) {
	c, ok := f.saved[id]
	if !ok {
		return c, pipeline.ErrNotFound
	}
	return c, f.err
}
func (f *fakePipeline) SetCalibration(_ context.Context, id string, c telemetry.Calibration) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if f.err != nil {
		return f.err
	}
	f.saved[id] = c
	return nil
}
func (f *fakePipeline) DeleteCalibration(_ context.Context, id string) error {
	delete(f.saved, id)
	return f.err
}

func serve(t *testing.T, f *fakePipeline, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := NewRouter(Deps{Ingest: f, Devices: f, Calibrations: f,
		Metrics:   metrics.New(metrics.Sources{Pipeline: func() pipeline.Snapshot { return pipeline.Snapshot{Conflicts: 7} }}),
		Ready:     map[string]Check{"store": func(context.Context) error { return f.err }},
		Dashboard: http.FS(fstest.MapFS{"index.html": {Data: []byte("<h1>dash</h1>")}}),
	})
	w := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Message-Id", "hdr-1")
	r.ServeHTTP(w, req)
	return w
}

func TestRoutes(t *testing.T) {
	temp := 0.0
	tests := []struct {
		name         string
		err          error
		method, path string
		body         string
		wantStatus   int
		wantBody     string
	}{
		{"list devices", nil, "GET", "/api/devices", "", 200, `"temperature":0`},
		{"one device", nil, "GET", "/api/devices/d1", "", 200, `"deviceId":"d1"`},
		{"unknown device", nil, "GET", "/api/devices/nope", "", 404, `not found`},
		{"rejected is a list even when empty", nil, "GET", "/api/rejected", "", 200, `[]`},
		{"store down hides detail", errors.New("dial tcp secret-host"), "GET", "/api/devices", "", 500, `Internal Server Error`},
		{"stopped", pipeline.ErrStopped, "POST", "/api/telemetry", `{"deviceId":"d1"}`, 503, `processor stopped`},
		{"conflict exhausted", pipeline.ErrConflict, "PUT", "/api/calibration/d1", `{"temperatureSlope":1}`, 409, `etag conflict`},
		{"ingest", nil, "POST", "/api/telemetry", `{"deviceId":"d1","temperature":1}`, 200, `"accepted":1`},
		// A PUT that succeeds: TestPutCalibration.
		{"string number", nil, "PUT", "/api/calibration/d1", `{"temperatureSlope":"NaN"}`, 400, `finite numbers`},
		{"huge number", nil, "PUT", "/api/calibration/d1", `{"temperatureSlope":1e400}`, 400, `finite numbers`},
		{"unknown field", nil, "PUT", "/api/calibration/d1", `{"slope":1}`, 400, `unknown field`},
		{"not an object", nil, "PUT", "/api/calibration/d1", `[1]`, 400, `finite numbers`},
		{"empty body", nil, "PUT", "/api/calibration/d1", ``, 400, `finite numbers`},
		{"two objects", nil, "PUT", "/api/calibration/d1", `{} {}`, 400, `one JSON object`},
		{"missing calibration", nil, "GET", "/api/calibration/zz", "", 404, `not found`},
		{"delete calibration", nil, "DELETE", "/api/calibration/d1", "", 204, ``},
		{"health", nil, "GET", "/healthz", "", 200, `ok`},
		{"ready", nil, "GET", "/readyz", "", 200, `ready`},
		{"not ready names the check", errors.New("store down"), "GET", "/readyz", "", 503, `"store":"store down"`},
		{"metrics", nil, "GET", "/metrics", "", 200, "enviromon_store_conflicts_total 7"},
		{"dashboard", nil, "GET", "/", "", 200, "<h1>dash</h1>"},
		{"no POST to static files", nil, "POST", "/index.html", "", 404, "not found"},
	}
	slope := 1.5
	stored := map[string]telemetry.Calibration{"d1": {TemperatureSlope: &slope}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePipeline{err: tt.err, saved: maps.Clone(stored),
				devices: []telemetry.Summary{{DeviceID: "d1", Temperature: &temp}}}
			w := serve(t, f, tt.method, tt.path, tt.body)
			body := w.Body.String()
			assert.Equal(t, tt.wantStatus, w.Code, body)
			if tt.wantBody == "" {
				assert.Empty(t, body)
			} else {
				assert.Contains(t, body, tt.wantBody)
			}
			if tt.wantStatus == http.StatusInternalServerError {
				assert.JSONEq(t, `{"error":"Internal Server Error"}`, body, "internal detail stays in the log")
			}
			switch tt.method {
			case http.MethodDelete:
				assert.NotContains(t, f.saved, "d1", "deleted")
			case http.MethodPut: // every PUT here is refused
				assert.Equal(t, stored, f.saved, "a refused calibration changes nothing")
			}
		})
	}
}

// TestPutCalibration: a PUT stores the calibration it answers with, under
// the device's id, and a GET reads it back, whatever the case of the names.
func TestPutCalibration(t *testing.T) {
	two, minusOne := 2.0, -1.0
	tests := []struct {
		name, body string
		want       telemetry.Calibration
	}{
		{"temperature", `{"temperatureSlope":2,"temperatureYIntercept":-1}`,
			telemetry.Calibration{TemperatureSlope: &two, TemperatureYIntercept: &minusOne}},
		{"humidity and pressure", `{"humiditySlope":2,"pressureYIntercept":-1}`,
			telemetry.Calibration{HumiditySlope: &two, PressureYIntercept: &minusOne}},
		{"original PascalCase names", `{"TemperatureSlope":2,"PressureSlope":-1}`,
			telemetry.Calibration{TemperatureSlope: &two, PressureSlope: &minusOne}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePipeline{saved: map[string]telemetry.Calibration{}}
			w := serve(t, f, http.MethodPut, "/api/calibration/d1", tt.body)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var echo telemetry.Calibration
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &echo))
			assert.Equal(t, tt.want, echo, "answered")
			assert.Equal(t, map[string]telemetry.Calibration{"d1": tt.want}, f.saved, "stored")

			w = serve(t, f, http.MethodGet, "/api/calibration/d1", "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var got telemetry.Calibration
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, tt.want, got, "read back")
		})
	}
}

type fakeNegotiator struct{ err error }

func (f fakeNegotiator) Negotiate(context.Context, string) (notify.Negotiation, error) {
	return notify.Negotiation{URL: "http://127.0.0.1:8088/client/?hub=enviromon", AccessToken: "tok"}, f.err
}

func TestNegotiateAndCORS(t *testing.T) {
	tests := []struct {
		name, method, origin string
		negErr               error
		wantStatus           int
		wantAllow            string
		wantBody             string
	}{
		{"negotiate", "POST", "", nil, 200, "", `"accessToken":"tok"`},
		{"negotiate failing hides detail", "POST", "", errors.New("dial tcp 10.0.0.1"), 500, "", "Internal Server Error"},
		{"allowed origin", "POST", "https://dash.example", nil, 200, "https://dash.example", `"url"`},
		{"other origin gets no CORS grant", "POST", "https://evil.example", nil, 200, "", `"url"`},
		{"preflight", "OPTIONS", "https://dash.example", nil, 204, "https://dash.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRouter(Deps{Negotiate: fakeNegotiator{tt.negErr}, AllowedOrigins: []string{"https://dash.example/"}})
			w := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, "/api/negotiate?negotiateVersion=1", nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			r.ServeHTTP(w, req)
			assert.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			assert.Equal(t, tt.wantAllow, w.Header().Get("Access-Control-Allow-Origin"))
			assert.Empty(t, w.Header().Get("Access-Control-Allow-Credentials"))
			if tt.wantBody == "" {
				assert.Empty(t, w.Body.String())
			} else {
				assert.Contains(t, w.Body.String(), tt.wantBody)
			}
			if tt.wantStatus == http.StatusInternalServerError {
				assert.JSONEq(t, `{"error":"Internal Server Error"}`, w.Body.String(), "internal detail stays in the log")
			}
		})
	}
}

func TestIngestPassesTransportHeaderAndLimitsBody(t *testing.T) {
	f := &fakePipeline{}
	w := serve(t, f, "POST", "/api/telemetry", `{"deviceId":"d1"}`)
	require.Equal(t, 200, w.Code)
	require.Len(t, f.messages, 1)
	assert.Equal(t, "hdr-1", f.messages[0].MessageID)

	big := `{"deviceId":"` + strings.Repeat("x", maxBody) + `"}`
	w = serve(t, f, "POST", "/api/telemetry", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Len(t, f.messages, 1, "an oversized body never reaches the pipeline")
}

// TestDevicePaging follows the Link headers of GET /api/devices from the
// first page to the last, and refuses malformed paging parameters.
func TestDevicePaging(t *testing.T) {
	f := &fakePipeline{}
	for _, id := range []string{"a", "b/c", "d", "e", "f"} {
		f.devices = append(f.devices, telemetry.Summary{DeviceID: id})
	}
	var pages [][]string
	path := "/api/devices?limit=2"
	for range 10 {
		w := serve(t, f, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var got []telemetry.Summary
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), "still a JSON array")
		var ids []string
		for _, d := range got {
			ids = append(ids, d.DeviceID)
		}
		pages = append(pages, ids)
		link := w.Header().Get("Link")
		if link == "" {
			break
		}
		m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(link)
		require.NotNil(t, m, "Link header %q", link)
		path = m[1]
	}
	assert.Equal(t, [][]string{{"a", "b/c"}, {"d", "e"}, {"f"}}, pages)

	w := serve(t, f, http.MethodGet, "/api/devices", "")
	assert.Empty(t, w.Header().Get("Link"), "5 devices fit the default page")

	for _, bad := range []string{"limit=0", "limit=10001", "limit=x", "cursor=%21%21", "cursor="} {
		w := serve(t, f, http.MethodGet, "/api/devices?"+bad, "")
		if bad == "cursor=" {
			assert.Equal(t, http.StatusOK, w.Code, "an empty cursor is the first page")
			continue
		}
		assert.Equal(t, http.StatusBadRequest, w.Code, bad)
	}
}

func TestSummary(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	f := &fakePipeline{now: now, devices: []telemetry.Summary{
		{DeviceID: "a", Count: 3, LastSeen: now.Add(-30 * time.Second)},
		{DeviceID: "b", Count: 4, Rejected: 1, LastSeen: now.Add(-90 * time.Second)},
	}}
	tests := []struct {
		query      string
		wantStatus int
		wantOnline int
	}{
		{"", http.StatusOK, 1},
		{"?offlineAfter=2m", http.StatusOK, 2},
		{"?offlineAfter=10ms", http.StatusBadRequest, 0},
		{"?offlineAfter=48h", http.StatusBadRequest, 0},
		{"?offlineAfter=soon", http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := serve(t, f, http.MethodGet, "/api/summary"+tt.query, "")
			require.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			if tt.wantStatus != http.StatusOK {
				return
			}
			var got telemetry.Fleet
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, 2, got.Devices)
			assert.Equal(t, tt.wantOnline, got.Online)
			assert.Equal(t, 2-tt.wantOnline, got.Offline)
			assert.Equal(t, int64(7), got.Messages)
			assert.Equal(t, int64(1), got.Rejected)
		})
	}
}
