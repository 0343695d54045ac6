//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// stack is one case's infrastructure: the MQTT broker, the state backend,
// the SignalR service, and the component folders every daprd of the case
// loads.
type stack struct {
	dir        string
	broker     *proc
	mqttURL    string
	store      store    // reads the backend directly
	resources  []string // --resources-path folders
	stateDir   string   // the one of them holding the state component
	env        []string // daprd's extra environment: the secrets the components refer to
	brokerAt   procSpec // how mosquitto was started, to start it again
	signalr    *proc    // the local SignalR service
	signalrURL string   // its endpoint, the origin the dashboard connects to
	signalrAt  procSpec // how it was started, to start it again on the same address
	appArgs    []string // more flags for every app of the stack, after the defaults
	// appChannel, when set, returns the port daprd should call the app on
	// (a proxy in front of appPort).
	appChannel func(t testing.TB, appPort string) string
}

// backend is a state store the components under components/local/state/
// can point at.
type backend struct {
	name string // its folder under components/local/state
	// start runs the backend for one case, in dir, and returns the
	// replacements that point the component YAML at it and a direct reader.
	start func(t testing.TB, dir string) (map[string]string, store)
}

var (
	tableStorage = backend{name: "tablestorage", start: func(t testing.TB, _ string) (map[string]string, store) {
		az := testenv.StartAzurite(t)
		s, err := newTableStore(az, "enviromon")
		require.NoError(t, err)
		return map[string]string{"http://127.0.0.1:10002/devstoreaccount1": az.TableURL}, s
	}}
	sqliteFile = backend{name: "sqlite", start: func(t testing.TB, dir string) (map[string]string, store) {
		path := filepath.Join(dir, "state.db")
		s, err := newSQLiteStore(path, "state")
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return map[string]string{`"data/dapr-state.db"`: fmt.Sprintf("%q", path)}, s
	}}
	redisServer = backend{name: "redis", start: func(t testing.TB, _ string) (map[string]string, store) {
		addr := testenv.StartRedis(t)
		s := newRedisStore(addr)
		t.Cleanup(func() { _ = s.Close() })
		return map[string]string{`"127.0.0.1:6379"`: fmt.Sprintf("%q", addr)}, s
	}}
)

// newStack starts mosquitto, the backend and signalr-local, and writes the
// copies of components/local and components/local/state/<backend> that
// point at them.
func newStack(t testing.TB, b backend) *stack {
	t.Helper()
	requireTools(t)
	s := &stack{dir: t.TempDir()}
	s.broker, s.mqttURL, s.brokerAt = startMosquittoSpec(t, s.dir)
	replace, st := b.start(t, s.dir)
	s.store = st
	endpoint, key := s.startSignalR(t)
	s.signalrURL = endpoint
	replace["tcp://127.0.0.1:1883"] = s.mqttURL
	replace["http://127.0.0.1:8088"] = endpoint
	s.env = []string{"SIGNALR_ACCESS_KEY=" + key, "AZURITE_ACCOUNT_KEY=" + testenv.AzuriteKey}

	src := filepath.Join(tools.root, "components", "local")
	base, state := filepath.Join(s.dir, "components"), filepath.Join(s.dir, "state-"+b.name)
	found := map[string]int{}
	copyComponents(t, src, base, replace, found)
	copyComponents(t, filepath.Join(src, "state", b.name), state, replace, found)
	for old := range replace {
		require.NotZero(t, found[old], "no component YAML holds %q: the copy would still point at the default", old)
	}
	s.resources, s.stateDir = []string{base, state}, state
	return s
}

// copyComponents copies the YAML files of src (not its sub-folders) to dst
// with every replacement applied, counting them in found.
func copyComponents(t testing.TB, src, dst string, replace map[string]string, found map[string]int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		s := string(b)
		for old, repl := range replace {
			found[old] += strings.Count(s, old)
			s = strings.ReplaceAll(s, old, repl)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), []byte(s), 0o600))
		n++
	}
	require.NotZero(t, n, "no component YAML in %s", src)
}

// mosquittoConf is the broker configuration the repository ships (the
// kind overlay's, also used by `make dapr-run`): the settings that keep
// every acknowledged QoS 1 message for a subscriber.
const mosquittoConf = "deploy/overlays/local/mosquitto.conf"

// startMosquitto runs mosquitto on a free port from the repository's
// configuration, with its listener and data folder moved into the test and
// subscriptions logged so a test can wait for the binding's, and returns it
// with its URL.
func startMosquitto(t testing.TB, dir string) (*proc, string) {
	p, url, _ := startMosquittoSpec(t, dir)
	return p, url
}

// startMosquittoSpec is startMosquitto that also returns how mosquitto was
// started, so that a test can start it again on the same port and data.
func startMosquittoSpec(t testing.TB, dir string) (*proc, string, procSpec) {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		testenv.Missing(t, "mosquitto", "apt-get install mosquitto")
	}
	base, err := os.ReadFile(filepath.Join(tools.root, mosquittoConf))
	require.NoError(t, err)
	data := filepath.Join(dir, "mosquitto-data") + "/"
	require.NoError(t, os.MkdirAll(data, 0o755))
	var last error
	for try := range 3 { // the free port can be taken before mosquitto binds it
		port := testenv.FreePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("mosquitto-%d.conf", try))
		text := string(base)
		for old, repl := range map[string]string{
			"\nlistener 1883\n":                         fmt.Sprintf("\nlistener %d 127.0.0.1\n", port),
			"\npersistence_location /mosquitto/data/\n": "\npersistence_location " + data + "\n",
		} {
			require.Contains(t, text, old, "%s changed: the test cannot move it", mosquittoConf)
			text = strings.Replace(text, old, repl, 1)
		}
		text += "log_type information\nlog_type subscribe\n"
		if os.Geteuid() == 0 {
			// As root, mosquitto runs as the user mosquitto, which cannot
			// write persistence into the test's private temporary folder:
			// its sessions and queues would not survive a restart.
			text += "user root\n"
		}
		require.NoError(t, os.WriteFile(conf, []byte(text), 0o644))
		spec := procSpec{name: "mosquitto", bin: bin, args: []string{"-c", conf}, dir: dir, env: childEnv()}
		p := startProc(t, spec)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if last = p.waitFor("listener", 10*time.Second, func(ctx context.Context) error { return dial(ctx, addr) }); last == nil {
			return p, "tcp://" + addr, spec
		}
		p.stop()
	}
	t.Fatalf("mosquitto: %v", last)
	return nil, "", procSpec{}
}

// startSignalR runs the local SignalR service with a generated access key
// and returns its endpoint and the key.
func (s *stack) startSignalR(t testing.TB) (endpoint, key string) {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	key = base64.RawURLEncoding.EncodeToString(b)
	var last error
	for range 3 {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		s.signalrAt = procSpec{name: "signalr-local", bin: tools.signalr, dir: s.dir, env: childEnv(),
			args: []string{"-addr", addr, "-access-key", key}}
		p := startProc(t, s.signalrAt)
		endpoint = "http://" + addr
		if last = p.waitFor("HTTP answer", 10*time.Second, func(ctx context.Context) error { return answers(ctx, endpoint+"/") }); last == nil {
			s.signalr = p
			return endpoint, key
		}
		p.stop()
	}
	t.Fatalf("signalr-local: %v", last)
	return "", ""
}

func dial(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// answers succeeds once url returns any HTTP response.
func answers(ctx context.Context, url string) error {
	_, err := httpStatus(ctx, url)
	return err
}

// httpStatus GETs url and returns the status code.
func httpStatus(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
