package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRequiresDataDir(t *testing.T) {
	_, err := New(Config{}, nil)
	require.ErrorIs(t, err, ErrNoDataDir)
}

func TestBrokerDeliversAndForgets(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	got := subscribe(t, dial(t, b.Addr(), "app", true))
	want := sent{Topic: "devices/dev1/messages/events/", Payload: `{"id":"m1","temperature":21.5}`}

	publish(t, dial(t, b.Addr(), "dev1", true), want)

	assert.Equal(t, []sent{want}, receive(t, got, 1))
	settled(t, b)
	require.NoError(t, b.Close())

	again := startBroker(t, dir)
	assert.Zero(t, again.Pending(), "acknowledged message still stored")
	quiet(t, subscribe(t, dial(t, again.Addr(), "app", true)))
}

func TestBrokerReplaysUnacknowledged(t *testing.T) {
	messages := []sent{
		{Topic: "devices/dev1/messages/events/", Payload: `{"id":"m1"}`},
		{Topic: "devices/dev2/messages/events/", Payload: `{"id":"m2"}`},
		{Topic: "devices/dev1/messages/events/alerts", Payload: `{"id":"m3"}`},
	}
	tests := []struct {
		name       string
		subscriber bool // a subscriber that receives but never acknowledges
		restart    bool // restart the broker; otherwise the subscriber leaves
	}{
		{name: "unacknowledged then restart", subscriber: true, restart: true},
		{name: "unacknowledged then subscriber leaves", subscriber: true},
		{name: "no subscriber then restart", restart: true},
		{name: "no subscriber then late subscriber"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b := startBroker(t, dir)
			if tt.subscriber {
				silent := dial(t, b.Addr(), "silent", false)
				got := subscribe(t, silent)
				dev := dial(t, b.Addr(), "dev", true)
				for _, m := range messages {
					publish(t, dev, m)
				}
				assert.ElementsMatch(t, messages, receive(t, got, len(messages)))
				if !tt.restart {
					silent.Disconnect(0)
				}
			} else {
				dev := dial(t, b.Addr(), "dev", true)
				for _, m := range messages {
					publish(t, dev, m)
				}
			}
			require.Equal(t, len(messages), b.Pending())

			if tt.restart {
				require.NoError(t, b.Close())
				b = startBroker(t, dir)
				require.Equal(t, len(messages), b.Pending())
			}
			got := subscribe(t, dial(t, b.Addr(), "app", true))

			assert.ElementsMatch(t, messages, receive(t, got, len(messages)))
			settled(t, b)
			quiet(t, got)
			require.NoError(t, b.Close())
			assert.Zero(t, startBroker(t, dir).Pending(), "acknowledged messages still stored")
		})
	}
}

// TestBrokerConcurrentPublishers has the subscriber acknowledge every other
// message: after the restart exactly the others must come again.
func TestBrokerConcurrentPublishers(t *testing.T) {
	const devices, each = 20, 50
	dir := t.TempDir()
	b := startBroker(t, dir)
	got := subscribe(t, dial(t, b.Addr(), "app", false))

	want := map[sent]bool{}
	errs := make(chan error, devices)
	for d := range devices {
		dev := dial(t, b.Addr(), fmt.Sprintf("dev%d", d), true)
		batch := make([]sent, each)
		for i := range batch {
			batch[i] = sent{
				Topic:   fmt.Sprintf("devices/dev%d/messages/events/", d),
				Payload: fmt.Sprintf(`{"id":"dev%d-%d"}`, d, i),
			}
			want[batch[i]] = true
		}
		go func() {
			for _, m := range batch {
				tok := dev.Publish(m.Topic, 1, false, []byte(m.Payload))
				if !tok.WaitTimeout(wait) {
					errs <- fmt.Errorf("publish %v: timeout", m)
					return
				}
				if err := tok.Error(); err != nil {
					errs <- fmt.Errorf("publish %v: %w", m, err)
					return
				}
			}
			errs <- nil
		}()
	}

	var unacked []sent
	have := map[sent]bool{}
	deadline := time.After(wait)
	for len(have) < len(want) {
		select {
		case m := <-got:
			s := sent{Topic: m.Topic(), Payload: string(m.Payload())}
			if have[s] {
				continue
			}
			have[s] = true
			if len(have)%2 == 0 {
				m.Ack()
			} else {
				unacked = append(unacked, s)
			}
		case <-deadline:
			require.FailNow(t, "messages missing", "%d of %d", len(have), len(want))
		}
	}
	for range devices {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, want, have)
	require.Eventually(t, func() bool { return b.Pending() == len(unacked) }, wait, 10*time.Millisecond,
		"pending %d, unacknowledged %d", b.Pending(), len(unacked))
	require.NoError(t, b.Close())

	b = startBroker(t, dir)
	require.Equal(t, len(unacked), b.Pending())
	got = subscribe(t, dial(t, b.Addr(), "app", true))
	assert.ElementsMatch(t, unacked, receive(t, got, len(unacked)))
	settled(t, b)
	quiet(t, got)
}
