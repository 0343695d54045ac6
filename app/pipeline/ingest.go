package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// job is one reading waiting for its group commit.
type job struct {
	in        telemetry.Input
	rejection *Rejection // set when the reading is invalid
	reason    Reason     // why it is rejected, for the metrics
	outcome   telemetry.Outcome
	done      chan error // buffered; receives exactly once
	// caller is the context of the Process call that queued the job: the
	// commit's span links to its trace. It is not used for cancellation.
	caller context.Context
}

// Result tells a caller what became of the readings of its message.
type Result struct {
	Accepted   int      `json:"accepted"`
	Rejected   int      `json:"rejected"`
	Duplicates int      `json:"duplicates"`
	Reasons    []string `json:"reasons,omitempty"` // one per rejected reading
	// Refused says why the payload as a whole is not telemetry (an error
	// wrapping telemetry.ErrPayload); nil when it decoded. A refused
	// payload is still committed as one rejection, dead-lettered and
	// counted in Rejected, so a transport acknowledges it like any other
	// message; HTTP answers it with 400.
	Refused error `json:"-"`
}

// Process decodes, calibrates and validates m and returns once every reading
// in it is durably committed, so that a nil error may be acknowledged to the
// transport. Invalid readings are committed too (counted on their device and
// dead-lettered) and return nil: redelivering them would not make them
// valid. An error means nothing can be assumed committed; the transport
// should redeliver, and de-duplication makes that safe.
func (p *Processor) Process(ctx context.Context, m Message) (Result, error) {
	p.metrics.Messages.Add(1)
	readings, refused := decode(m)
	var jobs []*job
	var err error
	if refused != nil {
		jobs = []*job{p.refusal(m, refused)}
	} else {
		jobs, err = p.prepare(ctx, m, readings)
	}
	for _, j := range jobs {
		j.caller = ctx
	}
	if err == nil {
		err = p.enqueue(ctx, jobs)
	}
	if err != nil {
		p.metrics.Unprepared.Add(1)
		return Result{}, err
	}
	var errs []error
	for _, j := range jobs {
		select {
		case err := <-j.done:
			errs = append(errs, err)
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	r := tally(jobs)
	r.Refused = refused
	p.observe(m, r)
	return r, nil
}

// tally counts what became of committed jobs.
func tally(jobs []*job) Result {
	var r Result
	for _, j := range jobs {
		switch j.verdict() {
		case telemetry.Duplicate:
			r.Duplicates++
		case telemetry.Rejected:
			r.Rejected++
			if j.rejection != nil {
				r.Reasons = append(r.Reasons, j.rejection.Reason)
			}
		default:
			r.Accepted++
		}
	}
	return r
}

// verdict is what became of a committed job, as the caller's Result and the
// metrics both count it: Apply's outcome on its device, or Rejected for a
// reading kept only in the dead-letter list (no usable device id).
func (j *job) verdict() telemetry.Outcome {
	if j.in.DeviceID == "" {
		return telemetry.Rejected
	}
	return j.outcome
}

// enqueue hands jobs to their lanes.
func (p *Processor) enqueue(ctx context.Context, jobs []*job) error {
	p.sending.RLock()
	defer p.sending.RUnlock()
	for _, j := range jobs {
		select {
		case <-p.stopped:
			return ErrStopped
		default:
		}
		select {
		case p.laneOf(j.in.DeviceID) <- j:
		case <-p.stopped:
			return ErrStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// decode returns the readings of m, or why its payload is not telemetry.
func decode(m Message) ([]telemetry.Reading, error) {
	if m.Truncated {
		return nil, fmt.Errorf("%w: larger than the transport's limit (%d bytes kept)", telemetry.ErrPayload, len(m.Payload))
	}
	return telemetry.Decode(m.Payload)
}

// refusal is the one rejection of a message whose payload is not telemetry,
// counted on the transport's device when it names a valid one.
func (p *Processor) refusal(m Message, refused error) *job {
	in := telemetry.Input{DeviceID: m.DeviceID, MessageID: telemetry.MessageKey(m.MessageID), At: p.arrival(m),
		Invalid: fmt.Errorf("%w: %w", telemetry.ErrInvalid, refused)}
	if telemetry.CheckDeviceID(in.DeviceID) != nil {
		in.DeviceID = "" // counted in the dead-letter list only
	}
	return p.newJob(in, m.Payload, ReasonPayload)
}

// arrival is when m reached the transport, or now when it does not say.
func (p *Processor) arrival(m Message) time.Time {
	if m.EnqueuedAt.IsZero() {
		return p.now()
	}
	return m.EnqueuedAt
}

// prepare turns the readings of a message into jobs, one per reading. The
// device id is settled here, the transport's over the payload's, and
// checked by IoT Hub's rules: a reading without a valid one is rejected and
// kept in the dead-letter list only.
func (p *Processor) prepare(ctx context.Context, m Message, readings []telemetry.Reading) ([]*job, error) {
	at := p.arrival(m)
	jobs := make([]*job, 0, len(readings))
	for i, r := range readings {
		in := telemetry.Input{DeviceID: r.DeviceID, MessageID: r.MessageID, Raw: r, At: at}
		reason := ReasonIdentity // the one rejection set before Check; each check below sets its own
		if in.MessageID == "" && m.MessageID != "" {
			in.MessageID = m.MessageID
			if len(readings) > 1 {
				in.MessageID += "#" + strconv.Itoa(i)
			}
		}
		if m.DeviceID != "" {
			in.DeviceID = m.DeviceID
			if r.DeviceID != "" && r.DeviceID != m.DeviceID {
				// %.128q: the ids are quoted before they are checked, and
				// a payload's may be 200,000 characters long.
				in.Invalid = fmt.Errorf("%w: payload names device %.128q but the transport authenticated %.128q",
					telemetry.ErrInvalid, r.DeviceID, m.DeviceID)
			}
		}
		in.MessageID = telemetry.MessageKey(in.MessageID)
		in.Raw.DeviceID = in.DeviceID
		in.Calibrated = in.Raw
		if in.Invalid == nil {
			in.Invalid = in.Raw.Check() // no calibration lookup for an unusable reading
			reason = ReasonDevice
			if in.Raw.Problem != "" {
				reason = ReasonReading
			}
		}
		if in.Invalid == nil {
			cal, err := p.cals.lookup(ctx, in.DeviceID)
			if err != nil {
				return nil, err
			}
			in.Calibrated = cal.Apply(in.Raw)
			in.Invalid = p.cfg.Limits.Validate(in.Calibrated)
			reason = ReasonRange
		}
		if telemetry.CheckDeviceID(in.DeviceID) != nil {
			in.DeviceID = "" // counted in the dead-letter list only
		}
		jobs = append(jobs, p.newJob(in, m.Payload, reason))
	}
	return jobs, nil
}

// newJob makes the job of one reading; reason says why in.Invalid, if set,
// rejects it.
func (p *Processor) newJob(in telemetry.Input, payload []byte, reason Reason) *job {
	j := &job{in: in, done: make(chan error, 1)}
	if in.Invalid != nil {
		j.reason = reason
		j.rejection = &Rejection{DeviceID: in.DeviceID, MessageID: in.MessageID,
			Reason: in.Invalid.Error(), Payload: excerpt(payload), At: in.At}
	}
	return j
}
