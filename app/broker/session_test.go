package broker

import (
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrokerResumesSession follows the Dapr binding's way: a subscriber with
// a persistent session drops off without acknowledging, comes back, gets the
// message again from its session and acknowledges it then.
func TestBrokerResumesSession(t *testing.T) {
	b := startBroker(t, t.TempDir())
	want := sent{Topic: "devices/dev1/messages/events/", Payload: `{"id":"m1"}`}

	first := persistent(t, b.Addr(), false)
	tok := first.Subscribe(filter, 1, nil)
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	publish(t, dial(t, b.Addr(), "dev1", true), want)
	assert.Equal(t, []sent{want}, receive(t, first.got, 1))
	first.Disconnect(0)

	second := persistent(t, b.Addr(), true)
	assert.Equal(t, []sent{want}, receive(t, second.got, 1))
	settled(t, b)
	quiet(t, second.got)
}

type session struct {
	paho.Client
	got chan paho.Message
}

// persistent connects client "app" with cleanSession=false; what arrives for
// the session's subscriptions lands in got.
func persistent(t *testing.T, addr string, autoAck bool) session {
	t.Helper()
	s := session{got: make(chan paho.Message, 100)}
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID("app").
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectTimeout(wait).
		SetAutoAckDisabled(!autoAck).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { s.got <- m })
	s.Client = paho.NewClient(opts)
	tok := s.Connect()
	require.True(t, tok.WaitTimeout(wait), "connect: timeout")
	require.NoError(t, tok.Error(), "connect")
	t.Cleanup(func() { s.Disconnect(0) })
	return s
}
