package broker

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// Variables that tell a re-executed test binary to run a broker on that
// folder, with that sync policy, until it is killed.
const (
	childDir  = "BROKER_TEST_CHILD_DIR"
	childSync = "BROKER_TEST_CHILD_SYNC"
)

// TestBrokerSurvivesKill kills the broker process with SIGKILL, no Close, no
// flush, while devices have many publishes in flight and a subscriber
// acknowledges every other message it gets: every message a device saw
// acknowledged and the subscriber did not must come back from the folder.
func TestBrokerSurvivesKill(t *testing.T) {
	if dir := os.Getenv(childDir); dir != "" {
		runChild(t, dir, Sync(os.Getenv(childSync)))
		return
	}
	for _, policy := range []Sync{SyncFsync, SyncNone} {
		t.Run(policy.String(), func(t *testing.T) { killMidStream(t, policy) })
	}
}

func killMidStream(t *testing.T, policy Sync) {
	const devices, each = 10, 500
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestBrokerSurvivesKill$")
	child.Env = append(os.Environ(), childDir+"="+dir, childSync+"="+string(policy))
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "child broker did not start")
	var addr string
	_, err = fmt.Sscanf(line, "listening %s", &addr)
	require.NoError(t, err, "child said %q", line)

	var (
		mu       sync.Mutex
		received int
		consumed = map[sent]bool{} // acknowledged by the subscriber
	)
	app := dial(t, addr, "app", false)
	tok := app.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		received++
		if received%2 == 0 {
			consumed[sent{Topic: m.Topic(), Payload: string(m.Payload())}] = true
			m.Ack() // may or may not reach the disk before the kill
		}
	})
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())

	// Every device fires all its publishes at once, and the broker is
	// killed as soon as a few are acknowledged.
	messages := make([]sent, 0, devices*each)
	tokens := make([]paho.Token, 0, devices*each)
	var acked atomic.Int64
	few := make(chan struct{})
	var once sync.Once
	for d := range devices {
		dev := dial(t, addr, fmt.Sprintf("dev%d", d), true)
		first := len(tokens)
		for i := range each {
			m := sent{Topic: fmt.Sprintf("devices/dev%d/messages/events/", d), Payload: fmt.Sprintf(`{"id":"dev%d-%d"}`, d, i)}
			messages, tokens = append(messages, m), append(tokens, dev.Publish(m.Topic, 1, false, []byte(m.Payload)))
		}
		mine := tokens[first:]
		go func() {
			for _, tok := range mine {
				<-tok.Done()
				if tok.Error() == nil && acked.Add(1) >= devices*each/50 {
					once.Do(func() { close(few) })
				}
			}
		}()
	}
	select {
	case <-few:
	case <-time.After(wait):
		require.FailNow(t, "publishes not acknowledged", "%d of %d", acked.Load(), len(messages))
	}
	require.NoError(t, child.Process.Kill())
	killed = true
	_ = child.Wait()

	var want []sent // acknowledged to the device, not by the subscriber
	mu.Lock()
	for i, tok := range tokens {
		require.True(t, tok.WaitTimeout(wait), "token %d never completed", i)
		if tok.Error() == nil && !consumed[messages[i]] {
			want = append(want, messages[i])
		}
	}
	t.Logf("killed with %d of %d publishes acknowledged, %d consumed", acked.Load(), len(messages), len(consumed))
	mu.Unlock()
	require.Less(t, int(acked.Load()), len(messages), "nothing was in flight at the kill")

	b := startSynced(t, dir, policy)
	require.GreaterOrEqual(t, b.Pending(), len(want))
	replayed := subscribe(t, dial(t, b.Addr(), "app2", true))
	have := map[sent]bool{}
	deadline := time.After(wait)
	for _, m := range want {
		for !have[m] {
			select {
			case r := <-replayed:
				have[sent{Topic: r.Topic(), Payload: string(r.Payload())}] = true
			case <-deadline:
				require.FailNow(t, "acknowledged message lost", "%v", m)
			}
		}
	}
	settled(t, b)
}

func runChild(t *testing.T, dir string, policy Sync) {
	b, err := New(Config{Addr: "127.0.0.1:0", DataDir: dir, Sync: policy}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, b.Start())
	fmt.Printf("listening %s\n", b.Addr())
	select {} // until killed
}
