package broker

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childDir tells a re-executed test binary to run a broker on that folder
// until it is killed.
const childDir = "BROKER_TEST_CHILD_DIR"

// TestBrokerSurvivesKill kills the broker process with SIGKILL, no Close, no
// flush, while a subscriber acknowledges every other message: every message
// it did not acknowledge must come back from the folder.
func TestBrokerSurvivesKill(t *testing.T) {
	if dir := os.Getenv(childDir); dir != "" {
		runChild(t, dir)
		return
	}
	const devices, each = 10, 20
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestBrokerSurvivesKill$")
	child.Env = append(os.Environ(), childDir+"="+dir)
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

	got := subscribe(t, dial(t, addr, "app", false))
	for d := range devices {
		dev := dial(t, addr, fmt.Sprintf("dev%d", d), true)
		for i := range each {
			publish(t, dev, sent{
				Topic:   fmt.Sprintf("devices/dev%d/messages/events/", d),
				Payload: fmt.Sprintf(`{"id":"dev%d-%d"}`, d, i),
			})
		}
	}
	var unacked []sent
	deadline := time.After(wait)
	for i := range devices * each {
		select {
		case m := <-got:
			if i%2 == 0 {
				unacked = append(unacked, sent{Topic: m.Topic(), Payload: string(m.Payload())})
			} else {
				m.Ack() // some of these deletions will not reach the disk
			}
		case <-deadline:
			require.FailNow(t, "messages missing", "got %d of %d", i, devices*each)
		}
	}

	require.NoError(t, child.Process.Kill())
	killed = true
	_ = child.Wait()

	b := startBroker(t, dir)
	assert.GreaterOrEqual(t, b.Pending(), len(unacked))
	t.Logf("after the kill: %d stored, %d of them unacknowledged", b.Pending(), len(unacked))
	replayed := subscribe(t, dial(t, b.Addr(), "app2", true))
	have := map[sent]bool{}
	deadline = time.After(wait)
	for _, m := range unacked {
		for !have[m] {
			select {
			case r := <-replayed:
				have[sent{Topic: r.Topic(), Payload: string(r.Payload())}] = true
			case <-deadline:
				require.FailNow(t, "message lost", "%v", m)
			}
		}
	}
	settled(t, b)
}

func runChild(t *testing.T, dir string) {
	b, err := New(Config{Addr: "127.0.0.1:0", DataDir: dir}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, b.Start())
	fmt.Printf("listening %s\n", b.Addr())
	select {} // until killed
}
