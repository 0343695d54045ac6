package iothub

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrDevice is wrapped by the errors of Device.Check.
var ErrDevice = errors.New("invalid device record")

// KeySize is the length in bytes of the keys NewDevice makes, as IoT Hub
// makes them (44 characters of base64).
const KeySize = 32

// minKeySize is the shortest key Check accepts: 128 bits.
const minKeySize = 16

// Status says whether a registered device may connect. The zero value is
// unset, which no stored record has.
type Status string

// The statuses of IoT Hub's device registry.
const (
	Enabled  Status = "enabled"
	Disabled Status = "disabled"
)

// Device is a record of the identity registry: a device that authenticates
// with a symmetric key. It has two keys so that one can be replaced while
// devices still use the other; a token signed with either is accepted.
type Device struct {
	ID           string
	PrimaryKey   []byte
	SecondaryKey []byte
	Status       Status
	Created      time.Time
}

// NewDevice returns an enabled device id with two keys of KeySize bytes
// read from random (crypto/rand.Reader; a test may pass another reader).
// The id must pass CheckDeviceID.
func NewDevice(id string, created time.Time, random io.Reader) (Device, error) {
	if err := CheckDeviceID(id); err != nil {
		return Device{}, err
	}
	keys := make([]byte, 2*KeySize)
	if _, err := io.ReadFull(random, keys); err != nil {
		return Device{}, fmt.Errorf("device keys: %w", err)
	}
	return Device{ID: id, PrimaryKey: keys[:KeySize:KeySize], SecondaryKey: keys[KeySize:],
		Status: Enabled, Created: created.UTC()}, nil
}

// Check reports what makes d unfit to be stored or trusted: a bad id, a
// key shorter than 128 bits, or a status other than Enabled or Disabled.
// Errors wrap ErrDevice, or ErrDeviceID for the id.
func (d Device) Check() error {
	if err := CheckDeviceID(d.ID); err != nil {
		return err
	}
	switch {
	case len(d.PrimaryKey) < minKeySize || len(d.SecondaryKey) < minKeySize:
		return fmt.Errorf("%w: device %q: keys must be at least %d bytes", ErrDevice, d.ID, minKeySize)
	case d.Status != Enabled && d.Status != Disabled:
		return fmt.Errorf("%w: device %q: status %q, want %q or %q", ErrDevice, d.ID, printable(string(d.Status)), Enabled, Disabled)
	}
	return nil
}

// Keys returns the keys a token may be signed with.
func (d Device) Keys() [][]byte { return [][]byte{d.PrimaryKey, d.SecondaryKey} }

// Credentials returns what the device needs to connect to host with its
// primary key; their ConnectionString is what the registry hands out.
func (d Device) Credentials(host string) Credentials {
	return Credentials{HostName: host, DeviceID: d.ID, Key: d.PrimaryKey}
}

// Grant is what a verified token allows: to act as DeviceID until Expiry,
// when IoT Hub closes the device's connection.
type Grant struct {
	DeviceID string
	Expiry   time.Time
}
