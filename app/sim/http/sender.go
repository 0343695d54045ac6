// Package http sends simulated telemetry to the pipeline's HTTP API,
// anonymously or, with device credentials, with a SAS token in
// Authorization as IoT Hub's HTTPS device endpoint takes it.
package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
)

// DefaultURL is the pipeline's telemetry endpoint on this machine.
const DefaultURL = "http://127.0.0.1:8080/api/telemetry"

// Sender POSTs each payload to one URL.
type Sender struct {
	url    string
	client *http.Client
	creds  map[string]iothub.Credentials // by device id; nil: anonymous
	ttl    time.Duration
	now    func() time.Time
}

// Option configures a Sender.
type Option func(*Sender)

// WithCredentials makes the devices these IoT Hub identities: each request
// carries "Authorization: SharedAccessSignature …", a token of its device
// valid for ttl (0 means an hour) from now (nil means time.Now), and Send
// refuses devices not among them.
func WithCredentials(creds []iothub.Credentials, ttl time.Duration, now func() time.Time) Option {
	return func(s *Sender) {
		s.creds = make(map[string]iothub.Credentials, len(creds))
		for _, c := range creds {
			s.creds[c.DeviceID] = c
		}
		s.ttl, s.now = ttl, now
		if s.ttl <= 0 {
			s.ttl = time.Hour
		}
		if s.now == nil {
			s.now = time.Now
		}
	}
}

var _ sim.Sender = (*Sender)(nil)

// New returns a Sender posting to url ("" means DefaultURL) with client (nil
// means one with a 10 s timeout). The client is shared by every device,
// keeping connections alive between sends.
func New(url string, client *http.Client, opts ...Option) *Sender {
	if url == "" {
		url = DefaultURL
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Sender{url: url, client: client}
	for _, o := range opts {
		o(s)
	}
	return s
}

// StatusError is a non-2xx answer. It wraps sim.ErrRejected for a 4xx other
// than 408 and 429, which ask to try again later.
type StatusError struct {
	StatusCode int
	Body       string // the start of the answer's body
}

// Error reports the status and the start of the body.
func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.StatusCode, e.Body)
}

// Unwrap returns sim.ErrRejected when sending again cannot help.
func (e *StatusError) Unwrap() error {
	c := e.StatusCode
	if c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests {
		return sim.ErrRejected
	}
	return nil
}

// maxBody bounds how much of an error answer is kept.
const maxBody = 512

// Send posts payload as JSON with a Message-Id header taken from the
// payload's messageId, so the receiver can de-duplicate without parsing. It
// returns a *StatusError for a non-2xx answer; with WithCredentials, an
// error wrapping sim.ErrRejected for a device without them.
func (s *Sender) Send(ctx context.Context, deviceID string, payload []byte) error {
	cred, ok := s.creds[deviceID]
	if s.creds != nil && !ok {
		return fmt.Errorf("send %s: %w: no connection string for this device", deviceID, sim.ErrRejected)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("send %s: %w", deviceID, err)
	}
	if ok {
		req.Header.Set("Authorization", cred.Token(s.now().Add(s.ttl)))
	}
	req.Header.Set("Content-Type", "application/json")
	if id := messageID(payload); id != "" {
		req.Header.Set("Message-Id", id)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("send %s: %w", deviceID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	// Drain the rest so the connection can be reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("send %s: %w", deviceID, &StatusError{resp.StatusCode, strings.TrimSpace(string(body))})
	}
	if err != nil {
		return fmt.Errorf("send %s: read answer: %w", deviceID, err)
	}
	return nil
}

// messageID is the payload's messageId as text, a string or a number; ""
// when there is none.
func messageID(payload []byte) string {
	var m struct {
		MessageID json.RawMessage `json:"messageId"`
	}
	if json.Unmarshal(payload, &m) != nil || len(m.MessageID) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(m.MessageID, &s) == nil {
		return s
	}
	return string(m.MessageID)
}
