package sim

import (
	"fmt"
	"math/rand/v2"
)

// repeatPool bounds how many acknowledged messages a device keeps for
// re-sending, so a long run does not grow without end.
const repeatPool = 64

// Device is one simulated device: a BME280-like random walk (or the Pi web
// simulator's uniform draws) plus the dice that make messages invalid or
// repeated. Its sequence depends only on the config's seed, its index and
// which messages were acknowledged. A Device is not safe for concurrent use.
type Device struct {
	id      string
	shape   Shape
	invalid float64
	repeat  float64
	rng     *rand.Rand
	seq     int

	temp, hum, pres walk
	lux             *walk
	acked           []Message // ring of recent acknowledged new messages
	ackedNext       int
}

// walk is a mean-reverting random walk kept inside [lo, hi], so a reading
// drifts like a real room rather than wandering off to the limits.
type walk struct {
	value, mean, step, lo, hi float64
}

func (w *walk) next(rng *rand.Rand) float64 {
	w.value += 0.02*(w.mean-w.value) + w.step*rng.NormFloat64()
	w.value = min(max(w.value, w.lo), w.hi)
	return w.value
}

// NewDevice returns device i (1-based) of cfg, named cfg.IDs[i-1] or, with
// no IDs, with DeviceID.
func NewDevice(cfg Config, i int) (*Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new device: %w", err)
	}
	if len(cfg.IDs) > 0 && (i < 1 || i > len(cfg.IDs)) {
		return nil, fmt.Errorf("new device: device %d of %d named ones", i, len(cfg.IDs))
	}
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
	between := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	d := &Device{
		id:      cfg.id(i),
		shape:   cfg.Shape,
		invalid: cfg.Invalid,
		repeat:  cfg.Repeat,
		rng:     rng,
	}
	t := between(20, 25)
	d.temp = walk{value: t, mean: t, step: 0.1, lo: 5, hi: 40}
	h := between(45, 75)
	d.hum = walk{value: h, mean: h, step: 0.3, lo: 40, hi: 80}
	p := between(1008, 1018)
	d.pres = walk{value: p, mean: p, step: 0.05, lo: 980, hi: 1040}
	if cfg.Light {
		l := between(100, 800)
		d.lux = &walk{value: l, mean: l, step: 5, lo: 0, hi: 2000}
	}
	return d, nil
}

// ID returns the device id.
func (d *Device) ID() string { return d.id }

// Next returns the device's next message: with the repeat share's
// probability a re-send of a recent acknowledged message (same id, same
// bytes), otherwise a new reading, invalid with the invalid share's
// probability. Before anything is acknowledged every message is new.
func (d *Device) Next() (Message, error) {
	if len(d.acked) > 0 && d.rng.Float64() < d.repeat {
		m := d.acked[d.rng.IntN(len(d.acked))]
		m.Repeat = true
		return m, nil
	}
	r := d.read()
	if d.rng.Float64() < d.invalid {
		kinds := faults(d.shape)
		r.Fault = kinds[d.rng.IntN(len(kinds))]
	}
	b, err := Payload(d.shape, r)
	if err != nil {
		return Message{}, fmt.Errorf("next: %w", err)
	}
	return Message{DeviceID: d.id, ID: r.MessageID(d.shape), Fault: r.Fault, Payload: b}, nil
}

// Ack records that m was acknowledged, making it a candidate for repeats.
// Repeats and other devices' messages are ignored.
func (d *Device) Ack(m Message) {
	if m.Repeat || m.DeviceID != d.id {
		return
	}
	if len(d.acked) < repeatPool {
		d.acked = append(d.acked, m)
		return
	}
	d.acked[d.ackedNext] = m
	d.ackedNext = (d.ackedNext + 1) % repeatPool
}

// read advances the sensors by one message.
func (d *Device) read() Reading {
	d.seq++
	r := Reading{DeviceID: d.id, Seq: d.seq}
	if d.shape == ShapePi {
		// The web simulator draws each value afresh in its fixed range.
		r.Temperature = 20 + 12*d.rng.Float64()
		r.Humidity = 60 + 20*d.rng.Float64()
	} else {
		r.Temperature = d.temp.next(d.rng)
		r.Humidity = d.hum.next(d.rng)
		r.Pressure = d.pres.next(d.rng)
	}
	if d.lux != nil {
		l := d.lux.next(d.rng)
		r.Light = &l
	}
	return r
}
