package sim

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitsError is the pipeline's validation, written out independently of the
// generator: a missing reading passes, a present one must be a number in range.
func limitsError(payload []byte) error {
	var body map[string]any
	if err := json.Unmarshal(payload, &body); err != nil {
		return err
	}
	if id, _ := body["deviceId"].(string); id == "" {
		return fmt.Errorf("no device id")
	}
	limits := map[string][2]float64{
		"temperature": {-40, 80},
		"humidity":    {0, 100},
		"pressure":    {600, 1600},
	}
	for field, lim := range limits {
		v, ok := body[field]
		if !ok {
			continue
		}
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%s %v is not a number", field, v)
		}
		if f < lim[0] || f > lim[1] {
			return fmt.Errorf("%s %v out of %v", field, f, lim)
		}
	}
	return nil
}

func TestPayload(t *testing.T) {
	light := 345.678
	r := Reading{DeviceID: "sim-001", Seq: 42, Temperature: 21.3749, Humidity: 55.2, Pressure: 1012.8049}
	lit := r
	lit.Light = &light
	tests := []struct {
		name  string
		shape Shape
		r     Reading
		want  string
	}{
		{"bme280", ShapeBME280, r,
			`{"deviceId":"sim-001","messageId":"sim-001-42","temperature":21.37,"humidity":55.2,"pressure":1012.8}`},
		{"bme280 with light", ShapeBME280, lit,
			`{"deviceId":"sim-001","messageId":"sim-001-42","temperature":21.37,"humidity":55.2,"pressure":1012.8,"light":345.68}`},
		{"pi has a numeric id and no pressure", ShapePi, r,
			`{"messageId":42,"deviceId":"sim-001","temperature":21.37,"humidity":55.2}`},
		{"rounds half away from zero", ShapePi, Reading{DeviceID: "d", Seq: 1, Temperature: -0.125, Humidity: 60.005},
			`{"messageId":1,"deviceId":"d","temperature":-0.13,"humidity":60.01}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Payload(tt.shape, tt.r)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
			assert.NoError(t, limitsError(got))
		})
	}
}

func TestPayloadFaultIsInvalid(t *testing.T) {
	r := Reading{DeviceID: "sim-007", Seq: 3, Temperature: 22, Humidity: 50, Pressure: 1013}
	tests := []struct {
		shape Shape
		fault Fault
		field string
		want  any
	}{
		{ShapeBME280, FaultHot, "temperature", 999.0},
		{ShapeBME280, FaultWet, "humidity", 150.0},
		{ShapeBME280, FaultVacuum, "pressure", 10.0},
		{ShapeBME280, FaultNotANumber, "temperature", "hot"},
		{ShapePi, FaultHot, "temperature", 999.0},
		{ShapePi, FaultWet, "humidity", 150.0},
		{ShapePi, FaultNotANumber, "temperature", "hot"},
	}
	for _, tt := range tests {
		t.Run(string(tt.shape)+"/"+tt.fault.String(), func(t *testing.T) {
			r := r
			r.Fault = tt.fault
			got, err := Payload(tt.shape, r)
			require.NoError(t, err)
			var body map[string]any
			require.NoError(t, json.Unmarshal(got, &body))
			assert.Equal(t, tt.want, body[tt.field])
			assert.Equal(t, "sim-007", body["deviceId"], "an invalid reading still names its device")
			assert.Error(t, limitsError(got))
		})
	}
}

func TestPayloadRefuses(t *testing.T) {
	_, err := Payload(ShapePi, Reading{DeviceID: "d", Fault: FaultVacuum})
	assert.Error(t, err, "pi has no pressure to break")
	_, err = Payload("xml", Reading{DeviceID: "d"})
	assert.Error(t, err)
}
