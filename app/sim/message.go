package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Fault is the way an invalid message breaks the pipeline's limits
// (temperature −40..80 °C, humidity 0..100 %, pressure 600..1600 hPa).
// Every fault keeps the device id, so the reading is counted on its device.
type Fault int

const (
	FaultNone       Fault = iota // a valid message
	FaultHot                     // temperature 999 °C
	FaultWet                     // humidity 150 %
	FaultVacuum                  // pressure 10 hPa (not in ShapePi, which has no pressure)
	FaultNotANumber              // temperature "hot"
)

// String names the fault for logs and test names.
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultHot:
		return "hot"
	case FaultWet:
		return "wet"
	case FaultVacuum:
		return "vacuum"
	case FaultNotANumber:
		return "not-a-number"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// faults lists the faults a shape can carry, in a fixed order so a seed
// picks the same one every time.
func faults(s Shape) []Fault {
	if s == ShapePi {
		return []Fault{FaultHot, FaultWet, FaultNotANumber}
	}
	return []Fault{FaultHot, FaultWet, FaultVacuum, FaultNotANumber}
}

// Reading is what a device measured for one message, before any fault is
// written over it.
type Reading struct {
	DeviceID    string
	Seq         int // 1-based message number of the device; the message id derives from it
	Temperature float64
	Humidity    float64
	Pressure    float64  // hPa; not sent in ShapePi
	Light       *float64 // lux; nil when the device has no light sensor
	Fault       Fault
}

// MessageID is the id Payload writes for r in shape s: "{deviceId}-{seq}"
// for ShapeBME280, the bare sequence number for ShapePi.
func (r Reading) MessageID(s Shape) string {
	if s == ShapePi {
		return strconv.Itoa(r.Seq)
	}
	return r.DeviceID + "-" + strconv.Itoa(r.Seq)
}

// Message is one payload ready to send.
type Message struct {
	DeviceID string
	ID       string // the payload's messageId, as text
	Fault    Fault
	Repeat   bool // a re-send of an earlier, acknowledged message
	Payload  []byte
}

// Valid reports whether the message is within the pipeline's limits.
func (m Message) Valid() bool { return m.Fault == FaultNone }

type bme280Body struct {
	DeviceID    string   `json:"deviceId"`
	MessageID   string   `json:"messageId"`
	Temperature any      `json:"temperature"`
	Humidity    float64  `json:"humidity"`
	Pressure    float64  `json:"pressure"`
	Light       *float64 `json:"light,omitempty"`
}

type piBody struct {
	MessageID   int      `json:"messageId"`
	DeviceID    string   `json:"deviceId"`
	Temperature any      `json:"temperature"`
	Humidity    float64  `json:"humidity"`
	Light       *float64 `json:"light,omitempty"`
}

// Payload encodes r as JSON in shape s, values rounded to two decimals and
// r.Fault written over the reading it breaks.
func Payload(s Shape, r Reading) ([]byte, error) {
	var temp any = round2(r.Temperature)
	hum, pres := round2(r.Humidity), round2(r.Pressure)
	var light *float64
	if r.Light != nil {
		l := round2(*r.Light)
		light = &l
	}
	switch r.Fault {
	case FaultHot:
		temp = 999.0
	case FaultWet:
		hum = 150
	case FaultVacuum:
		pres = 10
	case FaultNotANumber:
		temp = "hot"
	}
	var body any
	switch s {
	case ShapeBME280:
		body = bme280Body{r.DeviceID, r.MessageID(s), temp, hum, pres, light}
	case ShapePi:
		if r.Fault == FaultVacuum {
			return nil, fmt.Errorf("payload: shape %q has no pressure to break", s)
		}
		body = piBody{r.Seq, r.DeviceID, temp, hum, light}
	default:
		return nil, fmt.Errorf("payload: unknown shape %q", s)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return b, nil
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
