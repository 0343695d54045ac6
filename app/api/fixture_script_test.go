package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// makeFixtures runs the scenario and returns the fixture files by name.
func makeFixtures(t *testing.T) map[string][]byte {
	now := fixtureNow
	s := newScene(t, now.Add(-25*time.Hour))
	for _, rule := range []string{
		`{"id":"hot","metric":"temperature","above":25,"for":"5m","hysteresis":0.5}`,
		`{"id":"offline","offlineFor":"30m"}`,
		`{"id":"dry","metric":"humidity","below":5,"deviceId":"zero-degrees"}`,
		`{"id":"dark","metric":"light","below":50,"deviceId":"with-light"}`,
	} {
		s.do(http.MethodPost, "/api/alert-rules", rule, http.StatusCreated)
	}
	events := script(s, now)
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	live := slices.IndexFunc(events, func(e event) bool { return !e.at.Before(now) })

	for _, e := range events[:live] {
		e.do()
	}
	s.at(now)
	files := snapshot(t, s, now)

	// What the dashboard hears after the snapshot: each commit's live
	// update and each alert raised or cleared, in the order sent.
	s.invocations()
	s.recording = true
	for _, e := range events[live:] {
		e.do()
	}
	frames := s.invocations()
	files["live.json"] = encode(t, frames)
	files["now.json"] = encode(t, map[string]time.Time{"now": now})
	checkScenario(t, files, frames)

	for name, b := range files {
		var buf bytes.Buffer
		require.NoError(t, layout(&buf, b, 0), name)
		buf.WriteByte('\n')
		files[name] = buf.Bytes()
	}
	return files
}

// event is one step of the scenario at its time.
type event struct {
	at time.Time
	do func()
}

// kitchen is a device id as awkward as IoT Hub's rules allow: quotes,
// parentheses, '=', '$', %-escapes of markup, and long.
const kitchen = `kitchen(1)'=$x%3Cb%3E-a-very-long-device-identifier-0123456789abcdef`

// script is the scenario: readings up to now, then two minutes of live
// updates:
//   - sim-001 every minute for 24 h (the hot rule fires in the afternoon
//     and clears), some messages redelivered, one reading not a number;
//   - sim-002 calibrated 2 h ago (temperature −0.8, humidity +2.5);
//   - sim-003 silent for 2 h: offline, and its offline alert firing;
//   - with-light, with light, one reading out of range, ids only in the
//     transport's Message-Id (one redelivered); live, its light drops below
//     the dark rule's 50 and comes back (raised, then cleared);
//   - zero-degrees at 0 °C and 0 %: the dry rule fires;
//   - no-readings, whose one reading was refused (and redelivered): offline,
//     alert acknowledged;
//   - kitchen, geo with markup, temperature only;
//   - a reading from an id with markup and a payload cut short: dead-letter
//     only;
//   - sim-004, new in the live updates.
func script(s *scene, now time.Time) []event {
	var ev []event
	send := func(at time.Time, payload string, want int, headers ...string) {
		ev = append(ev, event{at, func() { s.send(at, payload, want, headers...) }})
	}
	// sim-001 sends two samples a message, once a minute: buckets of two.
	wiggle := [4]int{0, 2, -1, 1}
	n := 0
	sample := func(at time.Time) string {
		c := curve(at)
		r := reading{device: "sim-001", messageID: fmt.Sprintf("sim-001-%d", n), geo: "Sydney",
			temperature: ptr(180 + c*90/1000 + wiggle[n%4]), humidity: ptr(700 - c*250/1000 - wiggle[(n+1)%4]),
			pressure: ptr(10100 + c*30/1000 + wiggle[(n+2)%4])}
		n++
		return r.payload()
	}
	for at := now.Add(-24*time.Hour - 10*time.Minute + 30*time.Second); at.Before(now.Add(2 * time.Minute)); at = at.Add(time.Minute) {
		payload := "[" + sample(at.Add(-20*time.Second)) + "," + sample(at) + "]"
		if !at.Before(now) {
			payload = sample(at) // live: one commit, one frame
		}
		send(at, payload, http.StatusOK)
		if n%250 < 2 && at.Before(now.Add(-time.Hour)) {
			send(at.Add(5*time.Second), payload, http.StatusOK) // redelivered: duplicates
		}
	}
	send(now.Add(-3*time.Hour+10*time.Second), `{"deviceId":"sim-001","messageId":"sim-001-bad","temperature":"warm"}`, http.StatusOK)

	ev = append(ev, event{now.Add(-2 * time.Hour), func() {
		s.at(now.Add(-2 * time.Hour))
		s.do(http.MethodPut, "/api/calibration/sim-002",
			`{"temperatureSlope":1,"temperatureYIntercept":-0.8,"humiditySlope":1,"humidityYIntercept":2.5}`, http.StatusOK)
	}})
	for at := now.Add(-150*time.Minute + 30*time.Second); at.Before(now.Add(2 * time.Minute)); at = at.Add(time.Minute) {
		c := curve(at)
		r := reading{device: "sim-002", messageID: "sim-002-" + at.Format("150405"), geo: "Melbourne",
			temperature: ptr(170 + c*80/1000), humidity: ptr(600 - c*200/1000), pressure: ptr(10080 + c*20/1000)}
		send(at, r.payload(), http.StatusOK)
	}
	for at := now.Add(-4 * time.Hour); at.Before(now.Add(-2 * time.Hour)); at = at.Add(time.Minute) {
		c := curve(at)
		r := reading{device: "sim-003", messageID: "sim-003-" + at.Format("150405"), geo: "Perth",
			temperature: ptr(150 + c*60/1000), humidity: ptr(500 + c*40/1000), pressure: ptr(10150)}
		send(at, r.payload(), http.StatusOK)
	}
	k := 0
	for at := now.Add(-time.Hour + 15*time.Second); at.Before(now.Add(2 * time.Minute)); at = at.Add(time.Minute) {
		light := 340 + k*7%25
		if at.Equal(now.Add(15 * time.Second)) {
			light = 30
		}
		r := reading{device: "with-light", geo: "Hobart", temperature: ptr(225 + k%3), humidity: ptr(500 - k%2),
			pressure: ptr(10130), light: &light}
		id := fmt.Sprintf("with-light-%d", k)
		send(at, r.payload(), http.StatusOK, "Message-Id", id)
		if k == 10 {
			send(at.Add(3*time.Second), r.payload(), http.StatusOK, "Message-Id", id)
		}
		k++
	}
	send(now.Add(-40*time.Minute-10*time.Second), `{"deviceId":"with-light","temperature":999}`, http.StatusOK, "Message-Id", "with-light-bad")
	k = 0
	for at := now.Add(-10*time.Minute + 20*time.Second); at.Before(now); at = at.Add(time.Minute) {
		r := reading{device: "zero-degrees", messageID: fmt.Sprintf("zero-%d", k), geo: "Casey Station",
			temperature: ptr(0), humidity: ptr(0), pressure: ptr(10132)}
		send(at, r.payload(), http.StatusOK)
		k++
	}
	refused := `{"deviceId":"no-readings","messageId":"nr-1","humidity":150}`
	send(now.Add(-45*time.Minute), refused, http.StatusOK)
	send(now.Add(-44*time.Minute-30*time.Second), refused, http.StatusOK)
	ev = append(ev, event{now.Add(-5 * time.Minute), func() {
		s.at(now.Add(-5 * time.Minute))
		s.do(http.MethodPost, "/api/alerts/offline/no-readings/ack", "", http.StatusOK)
	}})
	k = 0
	for at := now.Add(-30*time.Minute + 40*time.Second); at.Before(now); at = at.Add(time.Minute) {
		r := reading{device: kitchen, messageID: fmt.Sprintf("k-%d", k), geo: "<b>Kitchen</b><img src=x onerror=alert(1)>",
			temperature: ptr(190 + k%4)}
		send(at, r.payload(), http.StatusOK)
		k++
	}
	send(now.Add(-50*time.Minute), `{"deviceId":"<img src=x onerror=alert(1)>","messageId":"x-1","temperature":20}`, http.StatusOK)
	send(now.Add(-55*time.Minute), `{"deviceId":"sim-003","temperature":2`, http.StatusBadRequest)
	send(now.Add(45*time.Second), reading{device: "sim-004", messageID: "sim-004-0", geo: "Darwin",
		temperature: ptr(301), humidity: ptr(700), pressure: ptr(10080)}.payload(), http.StatusOK)
	return ev
}

// snapshot reads, at now, every answer the dashboard asks for.
func snapshot(t *testing.T, s *scene, now time.Time) map[string][]byte {
	files := map[string][]byte{}
	get := func(path string) []byte { return s.do(http.MethodGet, path, "", http.StatusOK) }
	files["devices.json"] = get("/api/devices")
	files["summary.json"] = get("/api/summary")
	files["rejected.json"] = get("/api/rejected")
	files["alerts.json"] = get("/api/alerts")
	files["alert-rules.json"] = get("/api/alert-rules")
	files["calibration-sim-002.json"] = get("/api/calibration/sim-002")

	var devices []telemetry.Summary
	require.NoError(t, json.Unmarshal(files["devices.json"], &devices))
	ranges := []struct {
		step string
		span time.Duration
	}{{"1m", 24 * time.Hour}, {"1h", 7 * 24 * time.Hour}}
	for _, d := range devices {
		path := "/api/devices/" + url.PathEscape(d.DeviceID)
		files["device-"+slug(d.DeviceID)+".json"] = get(path)
		for _, m := range telemetry.Metrics {
			for _, r := range ranges {
				q := url.Values{"metric": {string(m)}, "step": {r.step},
					"from": {now.Add(-r.span).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}}
				files[fmt.Sprintf("history-%s-%s-%s.json", slug(d.DeviceID), m, r.step)] = get(path + "/history?" + q.Encode())
			}
		}
	}

	// Refusals the dashboard shows as the API words them.
	type summaryRefusal struct {
		OfflineAfter string          `json:"offlineAfter"`
		Status       int             `json:"status"`
		Body         json.RawMessage `json:"body"`
	}
	var sums []summaryRefusal
	for _, v := range []string{"500ms", "48h", "soon"} {
		body := s.do(http.MethodGet, "/api/summary?offlineAfter="+v, "", http.StatusBadRequest)
		sums = append(sums, summaryRefusal{v, http.StatusBadRequest, body})
	}
	files["summary-refused.json"] = encode(t, sums)

	type calibrationRefusal struct {
		Kind    string          `json:"kind"`
		Field   string          `json:"field,omitempty"`
		Request string          `json:"request"`
		Status  int             `json:"status"`
		Body    json.RawMessage `json:"body"`
	}
	var cals []calibrationRefusal
	put := func(kind, field, body string) {
		answer := s.do(http.MethodPut, "/api/calibration/sim-001", body, http.StatusBadRequest)
		cals = append(cals, calibrationRefusal{kind, field, body, http.StatusBadRequest, answer})
	}
	for f := range reflect.TypeFor[calibrationBody]().Fields() {
		name := f.Tag.Get("json")
		put("number", name, fmt.Sprintf(`{%q:1e999}`, name))
		put("string", name, fmt.Sprintf(`{%q:"1.5"}`, name))
	}
	put("unknownField", "", `{"slope":1}`)
	put("notAnObject", "", `[1]`)
	files["calibration-refused.json"] = encode(t, cals)
	s.do(http.MethodGet, "/api/calibration/sim-001", "", http.StatusNotFound) // nothing refused was stored
	return files
}

// checkScenario fails when the scenario no longer shows what the
// dashboard's tests rely on.
func checkScenario(t *testing.T, files map[string][]byte, frames []json.RawMessage) {
	var sum telemetry.Fleet
	require.NoError(t, json.Unmarshal(files["summary.json"], &sum))
	assert.Equal(t, telemetry.Fleet{Devices: 7, Online: 5, Offline: 2, Messages: sum.Messages, Rejected: 3, LastSeen: fixtureNow.Add(-20 * time.Second)}, sum)
	var alerts []alertBody
	require.NoError(t, json.Unmarshal(files["alerts.json"], &alerts))
	var states []string
	for _, a := range alerts {
		states = append(states, fmt.Sprintf("%s/%s %s acked=%t", a.RuleID, a.DeviceID, a.State, a.AcknowledgedAt != nil))
	}
	assert.Equal(t, []string{"dry/zero-degrees firing acked=false", "offline/no-readings firing acked=true",
		"offline/sim-003 firing acked=false", "hot/sim-001 cleared acked=false"}, states)
	var targets []string
	for _, f := range frames {
		var inv struct{ Target string }
		require.NoError(t, json.Unmarshal(f, &inv))
		targets = append(targets, inv.Target)
	}
	assert.Equal(t, 2, strings.Count(strings.Join(targets, " "), "alert"), "live frames: the dark alert raised and cleared: %v", targets)
	assert.Contains(t, files, "history-sim-001-temperature-1m.json")
	assert.Greater(t, bytes.Count(files["history-sim-001-temperature-1m.json"], []byte(`"n":2`)), 1400, "24 h of minutes, two readings each")
}
