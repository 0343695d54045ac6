package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// readChunk bounds the keys of one bulk read when listing devices.
const readChunk = 256

// DevicePage returns the devices of up to limit (> 0) indexed ids that sort
// after after ("" for the first page), sorted by id, and the cursor of the
// next page: the last id of this one, or "" when none remain. Only the
// page's records are read: memory and store reads follow limit, not the
// fleet's size. (An indexed id without a record yet is skipped, so a page
// may hold fewer devices than limit.)
func (p *Processor) DevicePage(ctx context.Context, after string, limit int) ([]telemetry.Summary, string, error) {
	ids, err := p.index.all(ctx)
	if err != nil {
		return nil, "", err
	}
	start, found := slices.BinarySearch(ids, after)
	if found {
		start++
	}
	ids = ids[start:]
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	page, err := p.readDevices(ctx, ids)
	return page, next, err
}

// Fleet adds up every indexed device, reading them in chunks so that
// memory stays bounded whatever the fleet's size.
func (p *Processor) Fleet(ctx context.Context, offlineAfter time.Duration) (telemetry.Fleet, error) {
	var f telemetry.Fleet
	ids, err := p.index.all(ctx)
	if err != nil {
		return f, err
	}
	now := p.now()
	for start := 0; start < len(ids); start += readChunk {
		page, err := p.readDevices(ctx, ids[start:min(start+readChunk, len(ids))])
		if err != nil {
			return f, err
		}
		for _, d := range page {
			f.Add(d, now, offlineAfter)
		}
	}
	return f, nil
}

// readDevices reads the device records of ids in bulk, in order, skipping
// ids without a record.
func (p *Processor) readDevices(ctx context.Context, ids []string) ([]telemetry.Summary, error) {
	out := make([]telemetry.Summary, 0, len(ids))
	for start := 0; start < len(ids); start += readChunk {
		chunk := ids[start:min(start+readChunk, len(ids))]
		keys := make([]string, len(chunk))
		for i, id := range chunk {
			keys[i] = telemetry.DeviceKey(id)
		}
		got, err := p.commit.store.BulkGet(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("read devices: %w", err)
		}
		for _, k := range keys {
			e, ok := got[k]
			if !ok {
				continue // indexed, but its first write failed: not a device yet
			}
			d, err := decodeDevice(k, e.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, d.Summary())
		}
	}
	return out, nil
}

// Device returns one device, or ErrNotFound.
func (p *Processor) Device(ctx context.Context, id string) (telemetry.Summary, error) {
	k := telemetry.DeviceKey(id)
	got, err := p.commit.store.BulkGet(ctx, []string{k})
	if err != nil {
		return telemetry.Summary{}, fmt.Errorf("read device: %w", err)
	}
	e, ok := got[k]
	if !ok {
		return telemetry.Summary{}, fmt.Errorf("device %q: %w", id, ErrNotFound)
	}
	d, err := decodeDevice(k, e.Value)
	if err != nil {
		return telemetry.Summary{}, err
	}
	return d.Summary(), nil
}

func decodeDevice(key string, value []byte) (telemetry.Device, error) {
	var d telemetry.Device
	if err := json.Unmarshal(value, &d); err != nil {
		return d, fmt.Errorf("decode device record %s: %w", key, err)
	}
	return d, nil
}

// Rejected returns the dead-letter list, newest first.
func (p *Processor) Rejected(ctx context.Context) ([]Rejection, error) {
	return p.dead.list(ctx)
}

// Calibration returns a device's stored calibration, or ErrNotFound.
func (p *Processor) Calibration(ctx context.Context, id string) (telemetry.Calibration, error) {
	cal, ok, err := p.cals.read(ctx, id)
	if err != nil {
		return cal, err
	}
	if !ok {
		return cal, fmt.Errorf("calibration %q: %w", id, ErrNotFound)
	}
	return cal, nil
}

// SetCalibration validates and stores a device's calibration; readings
// processed from then on use it.
func (p *Processor) SetCalibration(ctx context.Context, id string, cal telemetry.Calibration) error {
	if err := telemetry.CheckDeviceID(id); err != nil {
		return err
	}
	if err := cal.Validate(); err != nil {
		return err
	}
	return p.cals.put(ctx, id, cal)
}

// DeleteCalibration removes a device's calibration; its readings then pass
// unchanged.
func (p *Processor) DeleteCalibration(ctx context.Context, id string) error {
	return p.cals.remove(ctx, id)
}
