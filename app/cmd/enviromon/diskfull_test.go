//go:build faults

package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/sim"
)

// TestFaultDiskFull runs the embedded app (its own process, `make run`'s
// configuration) with its data folder, the broker's queue and the SQLite
// state, on a 16 MB tmpfs, and fills that disk while devices publish. The
// app must not crash; it logs a clear "no space left on device" error;
// publishes it cannot store get no PUBACK, so the devices retry them. Once
// space is freed, every publish a device saw acknowledged is counted
// exactly once.
func TestFaultDiskFull(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	require.NoError(t, os.MkdirAll(disk, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", disk).CombinedOutput(); err != nil {
		testenv.Missing(t, "a tmpfs mount ("+strings.TrimSpace(string(out))+")", "run as root: the test mounts a small tmpfs")
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })

	bin := filepath.Join(dir, "enviromon")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = testWriter{t}
	require.NoError(t, build.Run())

	p := newPorts(t)
	httpPort := freePort(t)
	comps := embeddedSetup(t, disk, p)
	args := appArgs(disk, comps, p)
	args[1] = fmt.Sprintf("127.0.0.1:%d", httpPort) // -addr
	args = append(args, "-log-level", "warn")
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var logs lockedBuffer
	app := exec.Command(bin, args...)
	app.Stdout, app.Stderr = &logs, &logs
	require.NoError(t, app.Start())
	exited := make(chan error, 1)
	go func() { exited <- app.Wait() }()
	t.Cleanup(func() {
		_ = app.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = app.Process.Kill()
		}
		if t.Failed() {
			t.Logf("app output:\n%s", logs.String())
		}
	})
	require.Eventually(t, func() bool { return status(base+"/readyz") == http.StatusOK },
		20*time.Second, 20*time.Millisecond, "the app did not become ready")

	// Enough retries to ride out the full disk, so that every message is
	// acknowledged in the end.
	done := publishMQTT(t, p.broker, 3*time.Minute, sim.Config{Devices: 10, Rate: 20, Count: 300, Repeat: 0.05, Invalid: 0.05, Seed: 5,
		Attempts: 200, Backoff: 100 * time.Millisecond})

	// Fill the disk once devices are publishing.
	require.Eventually(t, func() bool { return len(getDevices(t, base)) == 10 }, 30*time.Second, 50*time.Millisecond)
	filler := filepath.Join(disk, "filler")
	fill(t, filler)
	full := time.Now()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "no space left on device") },
		30*time.Second, 100*time.Millisecond, "the app logged no clear error with the disk full")
	time.Sleep(3 * time.Second) // devices keep publishing into the full disk
	select {
	case err := <-exited:
		t.Fatalf("the app exited with the disk full: %v", err)
	default:
	}
	assert.Equal(t, http.StatusOK, status(base+"/healthz"), "the app stopped answering with the disk full")
	require.NoError(t, os.Remove(filler))
	t.Logf("disk full for %s; the app said: %s", time.Since(full).Round(time.Millisecond), firstLine(logs.String(), "no space left on device"))

	stats := <-done
	require.Zero(t, stats.Total.Failures+stats.Total.Cancelled+stats.Total.Rejected, stats.String())
	requireCounted(t, base, stats, 60*time.Second, "after the full disk")
	t.Logf("%s; every acknowledged message counted once after space returned", stats)
}

// fill writes path until the file system has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling the disk: %v", err)
			return
		}
	}
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// firstLine returns the first line of s that contains sub.
func firstLine(s, sub string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
