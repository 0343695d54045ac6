package registry_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/registry"
	"github.com/enviromon/enviromon/app/telemetry"
)

const host = "localhost"

// memStore is an in-memory Store with ETags that counts reads and can fail.
type memStore struct {
	mu      sync.Mutex
	data    map[string]pipeline.Entry
	version int
	reads   atomic.Int64
	err     error // when set, every call fails with it
}

var _ registry.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{data: map[string]pipeline.Entry{}} }

func (m *memStore) BulkGet(_ context.Context, keys []string) (map[string]pipeline.Entry, error) {
	m.reads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	out := map[string]pipeline.Entry{}
	for _, k := range keys {
		if e, ok := m.data[k]; ok {
			out[k] = e
		}
	}
	return out, nil
}

func (m *memStore) Set(_ context.Context, key string, value []byte, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	cur, exists := m.data[key]
	if (etag == "" && exists) || (etag != "" && (!exists || cur.ETag != etag)) {
		return fmt.Errorf("set %s: %w", key, pipeline.ErrConflict)
	}
	m.version++
	m.data[key] = pipeline.Entry{Value: append([]byte(nil), value...), ETag: strconv.Itoa(m.version)}
	return nil
}

func (m *memStore) Delete(_ context.Context, key, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if cur, ok := m.data[key]; ok && etag != "" && cur.ETag != etag {
		return fmt.Errorf("delete %s: %w", key, pipeline.ErrConflict)
	}
	delete(m.data, key)
	return nil
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newRegistry(t *testing.T, s registry.Store, clk *clock) *registry.Registry {
	t.Helper()
	r, err := registry.New(s, registry.Config{Host: host, Now: clk.now})
	require.NoError(t, err)
	return r
}

func TestRegister(t *testing.T) {
	s, clk := newMemStore(), newClock()
	r := newRegistry(t, s, clk)
	d, err := r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	assert.Equal(t, "sensor-01", d.ID)
	assert.Equal(t, iothub.Enabled, d.Status)
	assert.Equal(t, clk.now(), d.Created)
	assert.Len(t, d.PrimaryKey, 32)
	assert.Len(t, d.SecondaryKey, 32)

	// Stored under the registry key, keys in base64.
	e, ok := s.data[telemetry.RegistryKey("sensor-01")]
	require.True(t, ok, "stored under %s", telemetry.RegistryKey("sensor-01"))
	var stored map[string]any
	require.NoError(t, json.Unmarshal(e.Value, &stored))
	assert.Equal(t, base64.StdEncoding.EncodeToString(d.PrimaryKey), stored["primaryKey"])
	assert.Equal(t, "enabled", stored["status"])

	got, err := r.Device(t.Context(), "sensor-01")
	require.NoError(t, err)
	assert.Equal(t, d, got)

	disabled, err := r.Register(t.Context(), "sensor-02", iothub.Disabled)
	require.NoError(t, err)
	assert.Equal(t, iothub.Disabled, disabled.Status)
}

func TestRegisterRefuses(t *testing.T) {
	r := newRegistry(t, newMemStore(), newClock())
	first, err := r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	_, err = r.Register(t.Context(), "sensor-01", "")
	assert.ErrorIs(t, err, registry.ErrExists)
	kept, err := r.Device(t.Context(), "sensor-01")
	require.NoError(t, err)
	assert.Equal(t, first.PrimaryKey, kept.PrimaryKey, "the first registration's keys stay")

	_, err = r.Register(t.Context(), "a/b", "")
	assert.ErrorIs(t, err, iothub.ErrDeviceID)
	assert.ErrorContains(t, err, `character '/'`)
	_, err = r.Register(t.Context(), "sensor-03", "paused")
	assert.ErrorIs(t, err, iothub.ErrDevice)
}

// TestRegisterRacingReplicas registers one id from two registries on one
// SQLite database at once, as two replicas would: exactly one wins, and the
// keys stored are the winner's.
func TestRegisterRacingReplicas(t *testing.T) {
	c := component.Component{Name: "statestore", Type: "state.sqlite", Version: "v1", Metadata: map[string]string{
		"connectionString": filepath.Join(t.TempDir(), "state.db"), "busyTimeout": "10s",
	}}
	var regs []*registry.Registry
	for range 2 {
		s, err := inprocess.OpenState(t.Context(), c, "enviromon", nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		r, err := registry.New(s, registry.Config{Host: host})
		require.NoError(t, err)
		regs = append(regs, r)
	}
	const tries = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []iothub.Device
	)
	for i := range tries {
		wg.Go(func() {
			d, err := regs[i%2].Register(t.Context(), "contested", "")
			if err != nil {
				assert.ErrorIs(t, err, registry.ErrExists)
				return
			}
			mu.Lock()
			winners = append(winners, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Len(t, winners, 1, "first write wins")
	for _, r := range regs {
		got, err := r.Device(t.Context(), "contested")
		require.NoError(t, err)
		assert.Equal(t, winners[0].PrimaryKey, got.PrimaryKey)
	}
}

func TestDelete(t *testing.T) {
	r := newRegistry(t, newMemStore(), newClock())
	assert.ErrorIs(t, r.Delete(t.Context(), "sensor-01"), registry.ErrNotFound)
	_, err := r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	require.NoError(t, r.Delete(t.Context(), "sensor-01"))
	_, err = r.Device(t.Context(), "sensor-01")
	assert.ErrorIs(t, err, registry.ErrNotFound)
	_, err = r.Device(t.Context(), "a/b")
	assert.ErrorIs(t, err, registry.ErrNotFound, "a bad id is no device")
}

func TestAuthenticate(t *testing.T) {
	clk := newClock()
	r := newRegistry(t, newMemStore(), clk)
	d, err := r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	off, err := r.Register(t.Context(), "sensor-off", iothub.Disabled)
	require.NoError(t, err)
	hour := clk.now().Add(time.Hour)
	creds := d.Credentials(host)
	secondary := iothub.Credentials{HostName: host, DeviceID: d.ID, Key: d.SecondaryKey}

	tests := []struct {
		name, id, token string
		want            error // nil: accepted
		why             string
	}{
		{"primary key", "sensor-01", creds.Token(hour), nil, ""},
		{"secondary key", "sensor-01", secondary.Token(hour), nil, ""},
		{"device from the token", "", creds.Token(hour), nil, ""},
		{"host in another case", "", iothub.Credentials{HostName: "LocalHost", DeviceID: d.ID, Key: d.PrimaryKey}.Token(hour), nil, ""},
		{"token for another device", "sensor-02", creds.Token(hour), iothub.ErrResource, ""},
		{"another hub", "", iothub.Credentials{HostName: "hub.azure-devices.net", DeviceID: d.ID, Key: d.PrimaryKey}.Token(hour), iothub.ErrResource, ""},
		{"wrong key", "", iothub.Credentials{HostName: host, DeviceID: d.ID, Key: off.PrimaryKey}.Token(hour), iothub.ErrSignature, ""},
		{"expired", "", creds.Token(clk.now()), iothub.ErrExpired, ""},
		{"unknown device: refused as a wrong key is", "", iothub.Credentials{HostName: host, DeviceID: "ghost", Key: d.PrimaryKey}.Token(hour), iothub.ErrSignature, ""},
		{"disabled device", "", off.Credentials(host).Token(hour), iothub.ErrUnauthorized, "is disabled"},
		{"malformed", "", "Bearer abc", iothub.ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := r.Authenticate(t.Context(), tt.id, tt.token)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, iothub.Grant{DeviceID: "sensor-01", Expiry: hour}, g)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, iothub.ErrUnauthorized)
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.why)
		})
	}
}

func TestAuthenticateStoreDown(t *testing.T) {
	s, clk := newMemStore(), newClock()
	r := newRegistry(t, s, clk)
	d, err := r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	s.err = errors.New("store down")
	_, err = r.Authenticate(t.Context(), "", d.Credentials(host).Token(clk.now().Add(time.Hour)))
	require.Error(t, err)
	assert.NotErrorIs(t, err, iothub.ErrUnauthorized, "an outage is not the device's fault")
}

// TestAuthenticateCache shows what the cache means to a device: its
// connects read the store once per TTL, and a device deleted by another
// replica is refused once the TTL has passed; through this one, at once.
func TestAuthenticateCache(t *testing.T) {
	s, clk := newMemStore(), newClock()
	r := newRegistry(t, s, clk)
	other := newRegistry(t, s, clk) // another replica
	d, err := r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	token := d.Credentials(host).Token(clk.now().Add(time.Hour))
	auth := func() error { _, err := r.Authenticate(t.Context(), "", token); return err }

	before := s.reads.Load()
	for range 5 {
		require.NoError(t, auth())
	}
	assert.Equal(t, int64(1), s.reads.Load()-before, "one read for five connects")

	require.NoError(t, other.Delete(t.Context(), "sensor-01"))
	assert.NoError(t, auth(), "still cached here")
	clk.advance(registry.DefaultCacheTTL)
	assert.ErrorIs(t, auth(), iothub.ErrSignature, "refused once the cache expired")

	// Re-registered through this replica: new keys, old token refused at once.
	_, err = r.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	assert.ErrorIs(t, auth(), iothub.ErrSignature)
	d, err = r.Device(t.Context(), "sensor-01")
	require.NoError(t, err)
	token = d.Credentials(host).Token(clk.now().Add(time.Hour))
	require.NoError(t, auth())
	require.NoError(t, r.Delete(t.Context(), "sensor-01"))
	assert.ErrorIs(t, auth(), iothub.ErrSignature, "deleted here: refused at once")
}

func TestNewRefuses(t *testing.T) {
	_, err := registry.New(newMemStore(), registry.Config{})
	assert.ErrorContains(t, err, "host")
	_, err = registry.New(newMemStore(), registry.Config{Host: host, CacheTTL: -time.Second})
	assert.ErrorContains(t, err, "negative")
}
