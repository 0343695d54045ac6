package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func f(v float64) *float64 { return &v }

// reading is one evaluation: the value seen at t0+at, and what it should do.
type reading struct {
	at    time.Duration
	value float64
	want  Phase // Firing: raised here; Cleared: cleared here; "": nothing delivered
}

func TestThresholdEpisodes(t *testing.T) {
	hot := Rule{ID: "hot", Metric: Temperature, Above: f(30), For: Duration(time.Minute)}
	cold := Rule{ID: "cold", Metric: Temperature, Below: f(0)}
	tests := []struct {
		name     string
		rule     Rule
		readings []reading
	}{
		{"raises once the condition held for For", hot, []reading{
			{0, 31, ""}, {30 * time.Second, 32, ""}, {time.Minute, 31, Firing}, {2 * time.Minute, 35, ""},
		}},
		{"a dip below the threshold restarts For", hot, []reading{
			{0, 31, ""}, {30 * time.Second, 29, ""}, {70 * time.Second, 31, ""}, {90 * time.Second, 31, ""}, {130 * time.Second, 31, Firing},
		}},
		{"hovering at the threshold does not flap", hot, []reading{
			{0, 30.1, ""}, {time.Minute, 30.2, Firing},
			{2 * time.Minute, 29.9, ""}, {3 * time.Minute, 30.1, ""}, {4 * time.Minute, 29.5, ""}, {5 * time.Minute, 30.4, ""},
			{6 * time.Minute, 29.4, Cleared}, // 2 % of 30 = 0.6 below the threshold
			{7 * time.Minute, 29.9, ""}, {8 * time.Minute, 29.3, ""},
		}},
		{"a new episode after a clear raises again", hot, []reading{
			{0, 40, ""}, {time.Minute, 40, Firing}, {2 * time.Minute, 20, Cleared},
			{3 * time.Minute, 40, ""}, {4 * time.Minute, 40, Firing}, {5 * time.Minute, 20, Cleared},
		}},
		{"below with no For raises at once; threshold 0 keeps a 0.1 band", cold, []reading{
			{0, -0.5, Firing}, {time.Minute, 0.05, ""}, {2 * time.Minute, -1, ""}, {3 * time.Minute, 0.1, Cleared},
		}},
		{"an absolute hysteresis replaces the 2 %", Rule{ID: "h", Metric: Temperature, Above: f(30), Hysteresis: f(2)}, []reading{
			{0, 31, Firing}, {time.Minute, 28.5, ""}, {2 * time.Minute, 28, Cleared},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st State
			for i, r := range tt.readings {
				now := t0.Add(r.at)
				d := Device{ID: "dev", Values: map[Metric]float64{Temperature: r.value}, LastSeen: now}
				next, _, got := Step(tt.rule, st, d, now)
				st = next
				if r.want == "" {
					assert.Nil(t, got, "reading %d (%v at %v) delivered %+v", i, r.value, r.at, got)
					continue
				}
				if assert.NotNil(t, got, "reading %d (%v at %v) delivered nothing", i, r.value, r.at) {
					assert.Equal(t, r.want, got.State)
					assert.Equal(t, Alert{RuleID: tt.rule.ID, DeviceID: "dev", Metric: Temperature, State: r.want, Since: now, Value: f(r.value)}, *got)
				}
			}
		})
	}
}

func TestOfflineEpisode(t *testing.T) {
	rule := Rule{ID: "gone", OfflineFor: Duration(2 * time.Minute)}
	seen := t0
	var st State
	step := func(at time.Duration) *Alert {
		next, _, a := Step(rule, st, Device{ID: "dev", LastSeen: seen}, t0.Add(at))
		st = next
		return a
	}
	assert.Nil(t, step(time.Minute))
	assert.Nil(t, step(2*time.Minute), "exactly offlineFor is not yet offline")
	raised := step(2*time.Minute + 10*time.Second)
	if assert.NotNil(t, raised) {
		assert.Equal(t, Firing, raised.State)
		assert.Equal(t, Offline, raised.Metric)
		assert.Equal(t, 130.0, *raised.Value, "seconds since last seen")
	}
	assert.Nil(t, step(10*time.Minute), "raised once per episode")
	seen = t0.Add(11 * time.Minute)
	cleared := step(11 * time.Minute)
	if assert.NotNil(t, cleared) {
		assert.Equal(t, Cleared, cleared.State)
	}
	assert.Nil(t, step(12*time.Minute), "cleared once")
	assert.Nil(t, Must(Step(rule, State{}, Device{ID: "never"}, t0)), "a device never seen is not judged")
}

func TestMissingValueAndStaleReadingChangeNothing(t *testing.T) {
	rule := Rule{ID: "hot", Metric: Temperature, Above: f(30)}
	st, _, a := Step(rule, State{}, Device{ID: "d", Values: map[Metric]float64{Temperature: 35}, LastSeen: t0}, t0)
	assert.NotNil(t, a)
	_, changed, a := Step(rule, st, Device{ID: "d", Values: map[Metric]float64{Humidity: 50}, LastSeen: t0.Add(time.Minute)}, t0.Add(time.Minute))
	assert.False(t, changed)
	assert.Nil(t, a)
	_, changed, a = Step(rule, st, Device{ID: "d", Values: map[Metric]float64{Temperature: 10}, LastSeen: t0.Add(-time.Second)}, t0.Add(time.Minute))
	assert.False(t, changed, "an older reading than the one judged is ignored")
	assert.Nil(t, a)
}

func TestStateOfADeletedRuleIsNotTakenOver(t *testing.T) {
	old := Rule{ID: "hot", Metric: Temperature, Above: f(30), For: Duration(time.Hour), Created: t0}
	d := Device{ID: "d", Values: map[Metric]float64{Temperature: 35}, LastSeen: t0}
	st, _, _ := Step(old, State{}, d, t0)
	renewed := old
	renewed.Created = t0.Add(2 * time.Hour)
	d.LastSeen = t0.Add(2 * time.Hour)
	_, _, a := Step(renewed, st, d, d.LastSeen)
	assert.Nil(t, a, "the new rule's For starts now, not when the old rule's did")
}

// Must drops Step's state, for checks of its delivery alone.
func Must(_ State, _ bool, a *Alert) *Alert { return a }
