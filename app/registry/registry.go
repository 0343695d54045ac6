// Package registry is the device identity registry, kept in the state
// store beside the devices' telemetry: one record per device under
// telemetry.RegistryKey, holding its two symmetric keys and its status
// (iothub.Device). It registers and removes devices, and authenticates
// their SAS tokens for the embedded broker and HTTP ingest, reading
// records through a short-lived cache.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// Errors of the registry's operations.
var (
	ErrExists   = errors.New("device already registered")
	ErrNotFound = errors.New("device not registered")
)

// Store is the state store the registry keeps its records in: a subset of
// pipeline.Store, with its ETag rules.
type Store interface {
	BulkGet(ctx context.Context, keys []string) (map[string]pipeline.Entry, error)
	Set(ctx context.Context, key string, value []byte, etag string) error
	Delete(ctx context.Context, key string, etag string) error
}

// Config configures a Registry; zero fields take the defaults named.
type Config struct {
	// Host is the hub host name devices connect to, in their connection
	// strings, MQTT user names and tokens, e.g. "localhost".
	Host string
	// CacheTTL is how long a record read for authentication is trusted:
	// a device deleted or disabled by another replica is refused at most
	// this long after. 0 means DefaultCacheTTL.
	CacheTTL time.Duration
	// MaxCached bounds the cached records; 0 means DefaultMaxCached.
	MaxCached int
	Now       func() time.Time // nil means time.Now
	Random    io.Reader        // key material; nil means crypto/rand
}

// Defaults of Config.
const (
	DefaultCacheTTL  = 5 * time.Second
	DefaultMaxCached = 10_000
)

// Registry registers devices and authenticates them. It is safe for
// concurrent use.
type Registry struct {
	host   string
	store  Store
	now    func() time.Time
	random io.Reader
	cache  *cache
}

// New returns a registry keeping its records in store.
func New(store Store, cfg Config) (*Registry, error) {
	if cfg.Host == "" {
		return nil, errors.New("new registry: no hub host name")
	}
	if cfg.CacheTTL < 0 || cfg.MaxCached < 0 {
		return nil, errors.New("new registry: negative cache TTL or size")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.MaxCached == 0 {
		cfg.MaxCached = DefaultMaxCached
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	return &Registry{host: cfg.Host, store: store, now: cfg.Now, random: cfg.Random,
		cache: newCache(cfg.CacheTTL, cfg.MaxCached, cfg.Now)}, nil
}

// Host returns the hub host name of the registry's devices.
func (r *Registry) Host() string { return r.host }

// Register adds device id with fresh keys and the given status ("" means
// iothub.Enabled). The insert is first-write-wins: of two replicas
// registering one id at once, one gets ErrExists. A bad id returns an
// error wrapping iothub.ErrDeviceID.
func (r *Registry) Register(ctx context.Context, id string, status iothub.Status) (iothub.Device, error) {
	d, err := iothub.NewDevice(id, r.now(), r.random)
	if err != nil {
		return iothub.Device{}, fmt.Errorf("register: %w", err)
	}
	if status != "" {
		d.Status = status
	}
	if err := d.Check(); err != nil {
		return iothub.Device{}, fmt.Errorf("register: %w", err)
	}
	value, err := json.Marshal(toRecord(d))
	if err != nil {
		return iothub.Device{}, fmt.Errorf("register %q: %w", id, err)
	}
	err = r.store.Set(ctx, telemetry.RegistryKey(id), value, "")
	r.cache.forget(id)
	switch {
	case errors.Is(err, pipeline.ErrConflict):
		return iothub.Device{}, fmt.Errorf("register %q: %w", id, ErrExists)
	case err != nil:
		return iothub.Device{}, fmt.Errorf("register %q: %w", id, err)
	}
	return d, nil
}

// Device reads device id's record from the store, uncached; ErrNotFound if
// there is none.
func (r *Registry) Device(ctx context.Context, id string) (iothub.Device, error) {
	d, _, err := r.read(ctx, id)
	if err != nil {
		return iothub.Device{}, fmt.Errorf("device: %w", err)
	}
	return d, nil
}

// Delete removes device id: ErrNotFound if it is not registered,
// pipeline.ErrConflict if its record changed while being deleted. Its
// connections are refused from then on by this process, and by others once
// their cache expires; connections already open stay until their token
// expires.
func (r *Registry) Delete(ctx context.Context, id string) error {
	_, etag, err := r.read(ctx, id)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	err = r.store.Delete(ctx, telemetry.RegistryKey(id), etag)
	r.cache.forget(id)
	if err != nil {
		return fmt.Errorf("delete %q: %w", id, err)
	}
	return nil
}

// Authenticate checks token, a device's SAS token, against the registry and
// returns what it grants. With deviceID "" the device is the one the token
// names; otherwise the token must name deviceID. Refusals wrap
// iothub.ErrUnauthorized: a malformed, expired or misdirected token, or a
// signature that matches no key of an enabled, registered device (an
// unknown device is refused as a wrong key would be, so that a refusal
// does not reveal which ids exist). Other errors are the store's.
func (r *Registry) Authenticate(ctx context.Context, deviceID, token string) (iothub.Grant, error) {
	s, err := iothub.ParseSAS(token)
	if err != nil {
		return iothub.Grant{}, fmt.Errorf("authenticate: %w", err)
	}
	id, err := s.DeviceID(r.host)
	if err != nil {
		return iothub.Grant{}, fmt.Errorf("authenticate: %w", err)
	}
	if deviceID != "" && id != deviceID {
		return iothub.Grant{}, fmt.Errorf("authenticate: %w: %w: it is for device %q, not %q",
			iothub.ErrUnauthorized, iothub.ErrResource, id, deviceID)
	}
	d, found, err := r.lookup(ctx, id)
	if err != nil {
		return iothub.Grant{}, fmt.Errorf("authenticate: %w", err)
	}
	var keys [][]byte
	if found {
		keys = d.Keys()
	}
	if err := s.Check(r.host, id, keys, r.now()); err != nil {
		return iothub.Grant{}, fmt.Errorf("authenticate: %w", err)
	}
	if d.Status != iothub.Enabled {
		return iothub.Grant{}, fmt.Errorf("authenticate: %w: device %q is %s", iothub.ErrUnauthorized, id, d.Status)
	}
	return iothub.Grant{DeviceID: id, Expiry: s.Expiry}, nil
}

// lookup returns device id's record through the cache; found is false for
// a device that is not registered.
func (r *Registry) lookup(ctx context.Context, id string) (iothub.Device, bool, error) {
	if e, ok := r.cache.get(id); ok {
		return e.dev, e.found, nil
	}
	epoch := r.cache.epoch()
	d, _, err := r.read(ctx, id)
	found := err == nil
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	if err != nil {
		return iothub.Device{}, false, err
	}
	r.cache.put(id, entry{dev: d, found: found}, epoch)
	return d, found, nil
}

// read fetches device id's record and its ETag.
func (r *Registry) read(ctx context.Context, id string) (iothub.Device, string, error) {
	if err := iothub.CheckDeviceID(id); err != nil {
		// No such key can exist; and a hostile id goes no further.
		return iothub.Device{}, "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	key := telemetry.RegistryKey(id)
	got, err := r.store.BulkGet(ctx, []string{key})
	if err != nil {
		return iothub.Device{}, "", fmt.Errorf("read %q: %w", id, err)
	}
	e, ok := got[key]
	if !ok {
		return iothub.Device{}, "", fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var rec record
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return iothub.Device{}, "", fmt.Errorf("decode %q: %w", id, err)
	}
	d := rec.device()
	if err := d.Check(); err != nil {
		return iothub.Device{}, "", fmt.Errorf("decode %q: %w", id, err)
	}
	if d.ID != id {
		return iothub.Device{}, "", fmt.Errorf("decode %q: the record is for device %q", id, d.ID)
	}
	return d, e.ETag, nil
}

// record is a device as stored, keys in base64.
type record struct {
	DeviceID     string    `json:"deviceId"`
	PrimaryKey   []byte    `json:"primaryKey"`
	SecondaryKey []byte    `json:"secondaryKey"`
	Status       string    `json:"status"`
	Created      time.Time `json:"created"`
}

func toRecord(d iothub.Device) record {
	return record{DeviceID: d.ID, PrimaryKey: d.PrimaryKey, SecondaryKey: d.SecondaryKey, Status: string(d.Status), Created: d.Created}
}

func (r record) device() iothub.Device {
	return iothub.Device{ID: r.DeviceID, PrimaryKey: r.PrimaryKey, SecondaryKey: r.SecondaryKey,
		Status: iothub.Status(r.Status), Created: r.Created}
}
