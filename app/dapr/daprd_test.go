package dapr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// daprdInstall says how to make daprd available.
const daprdInstall = "set DAPRD to a daprd v1.16 binary, or build it into " +
	"${XDG_CACHE_HOME:-$HOME/.cache}/enviromon/tools/dapr-1.16.0/.dapr/bin/daprd (see DAPR-NOTES.md)"

// daprdBinary returns $DAPRD, else the project's cached build, else "".
func daprdBinary() string {
	if p := os.Getenv("DAPRD"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "enviromon", "tools", "dapr-1.16.0", ".dapr", "bin", "daprd")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

const emptyConfig = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: t
spec: {}
`

// componentYAML is a Component named name of type typ.
func componentYAML(name, typ string, meta map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: v1\n  metadata:\n", name, typ)
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		fmt.Fprintf(&b, "    - name: %s\n      value: %q\n", k, meta[k])
	}
	return b.String()
}

// startDaprd starts a daprd with one component, on free ports of
// 127.0.0.1, and returns an SDK client connected to it. Both are stopped
// when the test ends.
func startDaprd(t *testing.T, name, typ string, meta map[string]string) client.Client {
	t.Helper()
	d := runDaprd(t, daprdSpec{components: []string{componentYAML(name, typ, meta)}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := client.NewClientWithAddressContext(ctx, d.grpcAddr)
	require.NoError(t, err, d.out.String())
	t.Cleanup(c.Close)
	return c
}

// daprdSpec is what a test's daprd runs with.
type daprdSpec struct {
	components []string // Component manifests
	appPort    int      // the app daprd delivers to; 0 for none
	env        []string // on top of the test's environment without API tokens
}

// daprd is a running daprd.
type daprd struct {
	grpcAddr string
	out      *testenv.SyncBuffer
}

// runDaprd starts a daprd on free ports of 127.0.0.1 until the test ends.
func runDaprd(t *testing.T, spec daprdSpec) daprd {
	t.Helper()
	bin := daprdBinary()
	if bin == "" {
		testenv.Missing(t, "daprd", daprdInstall)
	}
	dir := t.TempDir()
	resources := filepath.Join(dir, "resources")
	require.NoError(t, os.Mkdir(resources, 0o755))
	for i, component := range spec.components {
		require.NoError(t, os.WriteFile(filepath.Join(resources, fmt.Sprintf("c%d.yaml", i)), []byte(component), 0o600))
	}
	config := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte(emptyConfig), 0o600))

	grpcPort, httpPort, metricsPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	args := []string{
		"--app-id", "t",
		"--resources-path", resources,
		"--config", config,
		"--dapr-listen-addresses", "127.0.0.1",
		"--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--dapr-grpc-port", fmt.Sprint(grpcPort),
		"--dapr-http-port", fmt.Sprint(httpPort),
		"--metrics-port", fmt.Sprint(metricsPort),
		"--metrics-listen-address", "127.0.0.1",
		"--log-level", "warn",
	}
	if spec.appPort != 0 {
		args = append(args, "--app-port", fmt.Sprint(spec.appPort), "--app-channel-address", "127.0.0.1")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(withoutTokens(os.Environ()), spec.env...)
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { stopGroup(cmd, exited) })

	if err := waitHealthy(fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", httpPort), exited, 60*time.Second); err != nil {
		t.Fatalf("daprd: %v\n%s", err, out.String())
	}
	return daprd{grpcAddr: fmt.Sprintf("127.0.0.1:%d", grpcPort), out: out}
}

// waitHealthy polls daprd's health endpoint until it answers 2xx, daprd
// exits or timeout passes.
func waitHealthy(url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("healthz answered %s", resp.Status)
		}
		select {
		case <-exited:
			return errors.New("exited early")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %s: %w", timeout, err)
		}
	}
}

// stopGroup ends daprd's process group: SIGTERM, then SIGKILL.
func stopGroup(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// withoutTokens drops API tokens, which would make daprd demand one.
func withoutTokens(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DAPR_API_TOKEN=") && !strings.HasPrefix(kv, "APP_API_TOKEN=") {
			out = append(out, kv)
		}
	}
	return out
}
