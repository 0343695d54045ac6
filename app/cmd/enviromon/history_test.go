package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistoryFlags(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	tests := []struct {
		name           string
		args           []string
		env            map[string]string
		minutes, hours time.Duration
		wantErr        bool
	}{
		{"defaults", nil, nil, 48 * time.Hour, 720 * time.Hour, false},
		{"flags", []string{"-history-minutes", "2h", "-history-hours", "24h"}, nil, 2 * time.Hour, 24 * time.Hour, false},
		{"environment", nil, map[string]string{"ENVIROMON_HISTORY_HOURS": "0", "ENVIROMON_HISTORY_MINUTES": "0"}, 0, 0, false},
		{"minutes beyond hours", []string{"-history-minutes", "48h", "-history-hours", "24h"}, nil, 0, 0, true},
		{"negative", []string{"-history-hours", "-1h"}, nil, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(append([]string{"-mode", "embedded"}, tt.args...), env(tt.env), io.Discard)
			if tt.wantErr {
				assert.ErrorContains(t, err, "history-minutes")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.minutes, cfg.Pipeline.HistoryMinutes)
			assert.Equal(t, tt.hours, cfg.Pipeline.HistoryHours)
		})
	}
}
