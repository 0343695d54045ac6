package iothub_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
)

func TestNewDevice(t *testing.T) {
	created := time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	d, err := iothub.NewDevice(device, created, rand.Reader)
	require.NoError(t, err)
	assert.Equal(t, device, d.ID)
	assert.Equal(t, iothub.Enabled, d.Status)
	assert.Equal(t, time.UTC, d.Created.Location())
	assert.True(t, d.Created.Equal(created))
	assert.Len(t, d.PrimaryKey, iothub.KeySize)
	assert.Len(t, d.SecondaryKey, iothub.KeySize)
	assert.NotEqual(t, d.PrimaryKey, d.SecondaryKey)
	require.NoError(t, d.Check())

	again, err := iothub.NewDevice(device, created, rand.Reader)
	require.NoError(t, err)
	assert.NotEqual(t, d.PrimaryKey, again.PrimaryKey, "fresh keys every time")

	// The connection string it hands out signs tokens its keys verify.
	c, err := iothub.ParseConnectionString(d.Credentials("localhost").ConnectionString())
	require.NoError(t, err)
	s, err := iothub.ParseSAS(c.Token(created.Add(time.Hour)))
	require.NoError(t, err)
	assert.NoError(t, s.Check("localhost", device, d.Keys(), created))
}

func TestNewDeviceRefuses(t *testing.T) {
	_, err := iothub.NewDevice("a/b", time.Now(), rand.Reader)
	assert.ErrorIs(t, err, iothub.ErrDeviceID)
	_, err = iothub.NewDevice(device, time.Now(), bytes.NewReader(make([]byte, iothub.KeySize)))
	assert.ErrorContains(t, err, "device keys", "too few random bytes")
	_, err = iothub.NewDevice(device, time.Now(), iotest.ErrReader(assert.AnError))
	assert.ErrorIs(t, err, assert.AnError)
}

func TestDeviceCheck(t *testing.T) {
	ok := iothub.Device{ID: device, PrimaryKey: primary, SecondaryKey: secondary, Status: iothub.Disabled}
	require.NoError(t, ok.Check())
	tests := []struct {
		name string
		edit func(d *iothub.Device)
		want string
	}{
		{"bad id", func(d *iothub.Device) { d.ID = "a#b" }, "not allowed"},
		{"short key", func(d *iothub.Device) { d.SecondaryKey = []byte("short") }, "at least 16 bytes"},
		{"no key", func(d *iothub.Device) { d.PrimaryKey = nil }, "at least 16 bytes"},
		{"status unset", func(d *iothub.Device) { d.Status = "" }, `status ""`},
		{"unknown status", func(d *iothub.Device) { d.Status = iothub.Status(strings.Repeat("x", 200)) }, "want \"enabled\" or \"disabled\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok
			tt.edit(&d)
			err := d.Check()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
