package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrokerPipelined has devices send many publishes without waiting for
// each acknowledgement, as asynchronous clients do: every one must be
// acknowledged and delivered, and the queue must be empty once the
// subscriber has acknowledged them. QoS 2 publishes take the other way to
// the disk: each waits for its commit before mochi's PUBREC.
func TestBrokerPipelined(t *testing.T) {
	const devices, each = 4, 500
	tests := []struct {
		sync Sync
		qos  byte
	}{
		{sync: SyncFsync, qos: 1},
		{sync: SyncNone, qos: 1},
		{sync: SyncFsync, qos: 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s qos %d", tt.sync, tt.qos), func(t *testing.T) {
			dir := t.TempDir()
			b := startSynced(t, dir, tt.sync)
			got := subscribe(t, dial(t, b.Addr(), "app", true))

			want := map[sent]bool{}
			var tokens []paho.Token
			for d := range devices {
				dev := dial(t, b.Addr(), fmt.Sprintf("dev%d", d), true)
				for i := range each {
					m := sent{Topic: fmt.Sprintf("devices/dev%d/messages/events/", d), Payload: fmt.Sprintf(`{"id":"dev%d-%d"}`, d, i)}
					want[m] = true
					tokens = append(tokens, dev.Publish(m.Topic, tt.qos, false, []byte(m.Payload)))
				}
			}
			for _, tok := range tokens {
				require.True(t, tok.WaitTimeout(wait), "PUBACK missing")
				require.NoError(t, tok.Error())
			}
			have := map[sent]bool{}
			deadline := time.After(wait)
			for len(have) < len(want) {
				select {
				case m := <-got:
					have[sent{Topic: m.Topic(), Payload: string(m.Payload())}] = true
				case <-deadline:
					require.FailNow(t, "messages missing", "%d of %d", len(have), len(want))
				}
			}
			assert.Equal(t, want, have)
			settled(t, b)
			require.NoError(t, b.Close())
			assert.Zero(t, startSynced(t, dir, tt.sync).Pending(), "acknowledged messages still stored")
		})
	}
}

// TestBrokerClosesMidStream closes the broker while devices have many
// publishes in flight: Close must not hang on the waiting connections, and
// every publish acknowledged before it must be stored for the next run.
func TestBrokerClosesMidStream(t *testing.T) {
	const devices, each = 4, 500
	dir := t.TempDir()
	b := startBroker(t, dir)
	var tokens []paho.Token
	for d := range devices {
		dev := dial(t, b.Addr(), fmt.Sprintf("dev%d", d), true)
		for i := range each {
			tokens = append(tokens, dev.Publish(fmt.Sprintf("devices/dev%d/messages/events/", d), 1, false, fmt.Appendf(nil, `{"id":"%d"}`, i)))
		}
	}
	require.True(t, tokens[0].WaitTimeout(wait), "no PUBACK at all")

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(wait):
		require.FailNow(t, "Close hangs")
	}

	acked := 0
	for _, tok := range tokens {
		if tok.WaitTimeout(wait) && tok.Error() == nil {
			acked++
		}
	}
	t.Logf("%d of %d publishes acknowledged before Close", acked, len(tokens))
	assert.GreaterOrEqual(t, startBroker(t, dir).Pending(), acked)
}

// TestBrokerAcksInOrder sends bursts of publishes over raw connections and
// checks that the PUBACKs come back in the order of the PUBLISHes
// [MQTT-4.6.0-2], with a success code, for more publishes in all than the
// receive maximum mochi announces: a quota that leaked would end the
// connection.
func TestBrokerAcksInOrder(t *testing.T) {
	const conns, bursts, burst = 2, 3, 400
	for _, version := range []byte{4, 5} {
		t.Run(fmt.Sprintf("mqtt %d", version), func(t *testing.T) {
			b := startBroker(t, t.TempDir())
			got := subscribe(t, dial(t, b.Addr(), "app", true))
			errs := make(chan error, conns)
			for c := range conns {
				conn := rawConnect(t, b.Addr(), fmt.Sprintf("raw%d", c), version)
				go func() {
					errs <- acksInOrder(conn, version, fmt.Sprintf("devices/raw%d/messages/events/", c), bursts, burst)
				}()
			}
			for range conns {
				assert.NoError(t, <-errs)
			}
			receive(t, got, conns*bursts*burst)
			settled(t, b)
		})
	}
}

// acksInOrder writes bursts of QoS 1 publishes, each in one write, and reads
// a burst's PUBACKs before the next.
func acksInOrder(c *rawConn, version byte, topic string, bursts, burst int) error {
	id := uint16(0)
	for range bursts {
		var buf bytes.Buffer
		first := id + 1
		for range burst {
			id++
			pk := packets.Packet{
				FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: 1},
				ProtocolVersion: version,
				TopicName:       topic,
				Payload:         fmt.Appendf(nil, `{"id":"%s-%d"}`, topic, id),
				PacketID:        id,
			}
			if err := pk.PublishEncode(&buf); err != nil {
				return err
			}
		}
		if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
			return err
		}
		if _, err := c.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		for want := first; want <= id; want++ {
			ack, err := c.read(version)
			if err != nil {
				return fmt.Errorf("PUBACK %d: %w", want, err)
			}
			if ack.FixedHeader.Type != packets.Puback || ack.PacketID != want || ack.ReasonCode >= packets.ErrUnspecifiedError.Code {
				return fmt.Errorf("want PUBACK %d, got type %d id %d reason %#x", want, ack.FixedHeader.Type, ack.PacketID, ack.ReasonCode)
			}
		}
	}
	return nil
}

// rawConn is an MQTT connection spoken by hand, to see packets in the order
// they arrive.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// rawConnect connects a clean session with the given protocol version.
func rawConnect(t *testing.T, addr, id string, version byte) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	c := &rawConn{Conn: conn, r: bufio.NewReader(conn)}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: version,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			Keepalive:        60,
			ClientIdentifier: id,
		},
	}
	var buf bytes.Buffer
	require.NoError(t, pk.ConnectEncode(&buf))
	_, err = conn.Write(buf.Bytes())
	require.NoError(t, err)
	ack, err := c.read(version)
	require.NoError(t, err)
	require.Equal(t, packets.Connack, ack.FixedHeader.Type)
	require.Zero(t, ack.ReasonCode, "connect refused")
	return c
}

// read reads one CONNACK or PUBACK.
func (c *rawConn) read(version byte) (packets.Packet, error) {
	hb, err := c.r.ReadByte()
	if err != nil {
		return packets.Packet{}, err
	}
	pk := packets.Packet{ProtocolVersion: version}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(c.r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// TestBrokerRejectsUnstored checks that publishes that cannot be stored get
// no PUBACK, so the device keeps them, and that the device is disconnected
// so that it sends them again.
func TestBrokerRejectsUnstored(t *testing.T) {
	for _, n := range []int{1, 100} {
		t.Run(fmt.Sprintf("%d in flight", n), func(t *testing.T) {
			b := startBroker(t, t.TempDir())
			dev := dial(t, b.Addr(), "dev1", true)
			require.NoError(t, b.queue.db.Close()) // the disk is gone

			tokens := make([]paho.Token, n)
			for i := range tokens {
				tokens[i] = dev.Publish("devices/dev1/messages/events/", 1, false, fmt.Appendf(nil, `{"id":"m%d"}`, i))
			}
			acked := 0
			for _, tok := range tokens {
				if tok.WaitTimeout(wait) && tok.Error() == nil {
					acked++
				}
			}

			assert.Zero(t, acked, "PUBACK for a message that was not stored")
			assert.Eventually(t, func() bool { return !dev.IsConnectionOpen() }, wait, 10*time.Millisecond,
				"connection kept open, so the device would not resend")
			assert.Zero(t, b.Pending())
		})
	}
}
