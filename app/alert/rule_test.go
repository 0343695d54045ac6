package alert

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuleValidation(t *testing.T) {
	tests := []struct {
		name, body, wantErr string // wantErr "" means valid
	}{
		{"threshold above", `{"id":"hot","metric":"temperature","above":30,"for":"5m"}`, ""},
		{"threshold below, one device, ISO for", `{"id":"dry.1","metric":"humidity","below":20,"for":"PT10M","deviceId":"kitchen"}`, ""},
		{"offline", `{"id":"gone","offlineFor":"2m"}`, ""},
		{"offline ISO with days", `{"id":"gone","offlineFor":"P1DT2H"}`, ""},
		{"unknown metric", `{"id":"x","metric":"co2","above":1}`, `unknown metric "co2"`},
		{"no metric", `{"id":"x","above":1}`, "metric missing"},
		{"both above and below", `{"id":"x","metric":"light","above":1,"below":0}`, "both above and below"},
		{"neither above nor below", `{"id":"x","metric":"light"}`, "neither above nor below"},
		{"negative for", `{"id":"x","metric":"light","above":1,"for":"-5m"}`, "must be 0 or positive"},
		{"too long for", `{"id":"x","metric":"light","above":1,"for":"800h"}`, "at most 720h"},
		{"negative offlineFor", `{"id":"x","offlineFor":"-1m"}`, "must be positive"},
		{"offline with metric", `{"id":"x","offlineFor":"1m","metric":"temperature"}`, "takes no metric"},
		{"negative hysteresis", `{"id":"x","metric":"pressure","above":1000,"hysteresis":-1}`, "hysteresis must be"},
		{"id with a colon", `{"id":"a:b","metric":"light","above":1}`, `id "a:b"`},
		{"empty id", `{"metric":"light","above":1}`, `id ""`},
		{"id too long", `{"id":"` + string(make65()) + `","metric":"light","above":1}`, "1 to 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Rule
			require.NoError(t, json.Unmarshal([]byte(tt.body), &r))
			err := r.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func make65() []byte {
	b := make([]byte, 65)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func TestDurationParsing(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"90s"`, 90 * time.Second, true},
		{`"1h30m"`, 90 * time.Minute, true},
		{`"PT5M"`, 5 * time.Minute, true},
		{`"pt1.5s"`, 1500 * time.Millisecond, true},
		{`"P1D"`, 24 * time.Hour, true},
		{`"5 minutes"`, 0, false},
		{`"P"`, 0, false},
		{`"PT"`, 0, false},
		{`300`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tt.in), &d)
			if !tt.ok {
				assert.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, time.Duration(d))
		})
	}
}

func TestRuleRoundTrip(t *testing.T) {
	var r Rule
	require.NoError(t, json.Unmarshal([]byte(`{"id":"hot","metric":"temperature","above":30,"for":"PT5M"}`), &r))
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"hot","metric":"temperature","above":30,"for":"5m0s"}`, string(b))
}
