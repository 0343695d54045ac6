//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// checkPartitions sets a calibration for one device through the app's API,
// then reads Azurite directly: the state records of two devices must be in
// different partitions, and the calibration and index records must not all
// share one. With the component's `keyPrefix: none` every record is its
// own partition; the check asserts that outcome, not the mechanism.
func checkPartitions(t testing.TB, base string, s store, devices []string) {
	t.Helper()
	ts, ok := s.(*tableStore)
	require.True(t, ok, "the partition check reads Table Storage")
	require.GreaterOrEqual(t, len(devices), 2, "two devices to compare")
	slices.Sort(devices)
	a, b := devices[0], devices[1]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := `{"temperatureSlope":1.0,"temperatureYIntercept":-0.5}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/calibration/"+a, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "PUT /api/calibration/%s", a)

	entities, err := ts.entities(ctx)
	require.NoError(t, err)
	partition := map[string]string{} // app key → PartitionKey
	perPartition := map[string]int{}
	for _, e := range entities {
		partition[e.PartitionKey+e.RowKey] = e.PartitionKey
		perPartition[e.PartitionKey]++
	}
	find := func(key string) string {
		t.Helper()
		p, ok := partition[key]
		require.True(t, ok, "no entity for %q among %d", key, len(entities))
		return p
	}
	pa, pb := find(telemetry.DeviceKey(a)), find(telemetry.DeviceKey(b))
	assert.NotEqual(t, pa, pb, "devices %s and %s share partition %q", a, b, pa)

	others := map[string]bool{find(telemetry.CalibrationKey(a)): true}
	var index []string
	for k, p := range partition {
		if strings.HasPrefix(k, "index:") {
			index = append(index, k)
			others[p] = true
		}
	}
	assert.NotEmpty(t, index, "no index record in the table")
	assert.Greater(t, len(others), 1, "calibration and index records all in one partition: %v", slices.Collect(maps.Keys(others)))
	busiest := slices.Max(slices.Collect(maps.Values(perPartition)))
	assert.Equal(t, 1, busiest, "a partition holds several records")

	var shown []string
	for _, e := range entities[:min(len(entities), 4)] {
		shown = append(shown, fmt.Sprintf("(PartitionKey %q, RowKey %q)", e.PartitionKey, e.RowKey))
	}
	t.Logf("Azurite: %d entities in %d partitions, e.g. %s", len(entities), len(perPartition), strings.Join(shown, ", "))
	record("partitions/tablestorage  %d entities in %d partitions (at most %d per partition); device %s → PartitionKey %q, device %s → %q, calibration of %s → %q",
		len(entities), len(perPartition), busiest, a, pa, b, pb, a, find(telemetry.CalibrationKey(a)))
}
