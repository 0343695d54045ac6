package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// deviceAppTests is how many tests dashboard/test/device-app.test.mjs holds;
// a run with fewer passes means some were skipped or never ran.
const deviceAppTests = 6

// seedDays is how much history the seeded devices have: more than the
// device page's longest range (7 d).
const seedDays = 8

// seedEvery is how often a seeded device "reported": several readings a
// minute, so that minute buckets have a min..max band.
const seedEvery = 20 * time.Second

// TestDevicePageInChromium starts the app in embedded mode (SQLite, the
// embedded MQTT broker, the local SignalR service) on a store seeded with
// eight days of history of a few devices, then runs
// dashboard/test/device-app.test.mjs (playwright-core driving Debian's
// Chromium) against it: sparklines and device charts from history after a
// reload, the seeded 1 h, 24 h and 7 d charts, a calibration round trip
// through the form with a refused value, the CSV download against the
// history API, and the phone layout. Screenshots land in test-artifacts/.
func TestDevicePageInChromium(t *testing.T) {
	root := requireBrowser(t)
	devices := []seedDevice{
		{ID: "greenhouse-north", Light: true, base: 24, swing: 6, seed: 1},
		{ID: "greenhouse-south", Light: true, base: 22, swing: 5, seed: 2},
		{ID: "cold-store", base: 4, swing: 0.8, seed: 3},
		{ID: "server-room", base: 19, swing: 1.5, seed: 4},
	}
	now := time.Now()
	a := startSeeded(t, func(ctx context.Context, store pipeline.BatchStore, keep telemetry.Retention) error {
		for _, d := range devices {
			if err := seedHistory(ctx, store, d, now.Add(-seedDays*24*time.Hour), now.Add(-time.Minute), keep); err != nil {
				return err
			}
		}
		return nil
	}, "-dashboard", filepath.Join(root, "dashboard"), "-negotiate-per-minute", "600")
	base := "http://" + a.httpAddr

	// History alone makes no device: each reports once, as it would after
	// the app's start, which writes its device record and index entry.
	for _, d := range devices {
		postReading(t, base, d, time.Now())
	}
	for _, d := range devices {
		n := historyPoints(t, base, d.ID, "temperature", now.Add(-24*time.Hour), now, "1m")
		require.GreaterOrEqual(t, n, 1430, "%s: the seeded 24 h of minute buckets", d.ID)
	}

	seeded, err := json.Marshal(devices)
	require.NoError(t, err)
	runBrowserTests(t, browserRun{file: "device-app.test.mjs", url: base, env: []string{"ENVIROMON_SEEDED=" + string(seeded)},
		want: deviceAppTests, screenshots: []string{"fleet-view.png", "fleet-view-phone.png", "device-page.png", "device-page-phone.png"},
		timeout: 5 * time.Minute})
}

// seedDevice is a device whose past the test writes into the store before
// the app starts. The exported fields go to the browser tests.
type seedDevice struct {
	ID    string  `json:"id"`
	Light bool    `json:"light"`
	base  float64 // mean temperature, °C
	swing float64 // half the day–night temperature swing, °C
	seed  uint64  // of its sensor noise
}

// reading is what d measured at t: a daily temperature cycle (warmest at
// 15:00 UTC), humidity falling as it warms, slowly drifting pressure and,
// for a device with a light sensor, daylight; with a little noise from rng.
func (d seedDevice) reading(t time.Time, rng *rand.Rand) telemetry.Reading {
	day := 2 * math.Pi * (float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60 - 15) / 24
	sec := float64(t.Unix())
	noise := func(amp float64) float64 { return amp * (2*rng.Float64() - 1) }
	temp := d.base + d.swing*math.Cos(day) + 0.4*math.Sin(2*math.Pi*sec/(47*60)) + noise(0.15)
	r := telemetry.Reading{
		DeviceID:    d.ID,
		Temperature: round2(temp),
		Humidity:    round2(max(0, min(100, 58-1.5*(temp-d.base)+noise(0.6)))),
		Pressure:    round2(1013 + 5*math.Sin(2*math.Pi*sec/(79*3600)) + noise(0.2)),
	}
	if d.Light {
		r.Light = round2(max(0, 900*math.Cos(day)+noise(15)))
	}
	return r
}

func round2(v float64) *float64 {
	r := math.Round(v*100) / 100
	return &r
}

// seedHistory writes the history records d would have, had it reported
// every seedEvery over [from, to) to an app keeping keep: the pipeline's
// own record type, filled by HourRecord.Add and encoded as its commit
// encodes it, under telemetry.HistoryKey.
func seedHistory(ctx context.Context, store pipeline.BatchStore, d seedDevice, from, to time.Time, keep telemetry.Retention) error {
	rng := rand.New(rand.NewPCG(d.seed, 0))
	oldestHour, oldestMinute := keep.Oldest(time.Hour, to), keep.Oldest(time.Minute, to)
	records := make(map[string]*telemetry.HourRecord)
	var keys []string
	for at := from.UTC().Truncate(seedEvery); at.Before(to); at = at.Add(seedEvery) {
		if at.Before(oldestHour) {
			continue
		}
		key := telemetry.HistoryKey(d.ID, at)
		r, ok := records[key]
		if !ok {
			r = &telemetry.HourRecord{}
			records[key] = r
			keys = append(keys, key)
		}
		r.Add(telemetry.Input{DeviceID: d.ID, At: at, Calibrated: d.reading(at, rng)}, keep.Minutes > 0 && !at.Before(oldestMinute))
	}
	writes := make([]pipeline.Write, 0, len(keys))
	for _, k := range keys {
		b, err := json.Marshal(records[k])
		if err != nil {
			return fmt.Errorf("seed %s: %w", k, err)
		}
		writes = append(writes, pipeline.Write{Key: k, Value: b})
	}
	for start := 0; start < len(writes); start += 64 {
		if err := store.SetBatch(ctx, writes[start:min(start+64, len(writes))]); err != nil {
			return fmt.Errorf("seed %s: %w", d.ID, err)
		}
	}
	return nil
}

// startSeeded is startEmbedded with a store that seed has written to before
// the app opens it, through the adapter the app uses (app/inprocess), on
// the component, app id and retention the app's flags give.
func startSeeded(t *testing.T, seed func(context.Context, pipeline.BatchStore, telemetry.Retention) error, extra ...string) *app {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		p := newPorts(t)
		args := append(appArgs(dir, embeddedSetup(t, dir, p), p), extra...)
		require.NoError(t, seedStore(args, seed))
		a, err := tryStart(t, args)
		if err == nil {
			return a
		}
		taken := errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
		if attempt == 3 || !taken {
			require.NoError(t, err)
		}
		t.Logf("port taken meanwhile (%v); trying other ports", err)
	}
}

// seedStore opens the state store the app would open with args, runs seed
// on it and closes it.
func seedStore(args []string, seed func(context.Context, pipeline.BatchStore, telemetry.Retention) error) error {
	noenv := func(string) string { return "" }
	cfg, err := parseConfig(args, noenv, io.Discard)
	if err != nil {
		return err
	}
	comps, err := component.LoadDir(cfg.Components, component.Options{AppID: cfg.AppID, Getenv: noenv, LeaveSecrets: true})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range comps {
		if c.Name != cfg.StateStore {
			continue
		}
		store, err := inprocess.OpenState(ctx, c, cfg.AppID, nil)
		if err != nil {
			return err
		}
		keep := telemetry.Retention{Minutes: cfg.Pipeline.HistoryMinutes, Hours: cfg.Pipeline.HistoryHours}
		return errors.Join(seed(ctx, store, keep), store.Close())
	}
	return fmt.Errorf("state component %q not found in %s", cfg.StateStore, cfg.Components)
}

// postReading sends d's reading at t over HTTP, as the device would.
func postReading(t *testing.T, base string, d seedDevice, at time.Time) {
	t.Helper()
	r := d.reading(at, rand.New(rand.NewPCG(d.seed, uint64(at.UnixNano()))))
	body := map[string]any{"deviceId": d.ID, "messageId": fmt.Sprintf("%s-%d", d.ID, at.UnixNano()),
		"temperature": *r.Temperature, "humidity": *r.Humidity, "pressure": *r.Pressure}
	if r.Light != nil {
		body["light"] = *r.Light
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(base+"/api/telemetry", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(answer))
	require.Contains(t, string(answer), `"accepted":1`)
}

// historyPoints is how many buckets GET /api/devices/{id}/history answers.
func historyPoints(t *testing.T, base, id, metric string, from, to time.Time, step string) int {
	t.Helper()
	q := url.Values{"metric": {metric}, "from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}, "step": {step}}
	resp, err := http.Get(base + "/api/devices/" + url.PathEscape(id) + "/history?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		Points []json.RawMessage `json:"points"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return len(body.Points)
}
