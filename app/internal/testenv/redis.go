package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// StartRedis starts a throw-away redis-server (no persistence) on a free
// port of 127.0.0.1 and returns its host:port. It is stopped when the test
// ends.
func StartRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server", "apt-get install redis-server")
	}
	var last error
	for range 3 { // the free port can be taken before redis binds it
		port := FreePort(t)
		p := start(t, t.TempDir(), bin,
			"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no")
		if last = p.waitReady(10*time.Second, func(ctx context.Context) error { return ping(ctx, addr(port)) }); last == nil {
			return addr(port)
		}
		p.stop()
	}
	t.Fatalf("redis-server: %v", last)
	return ""
}

// ping sends a Redis PING and expects PONG.
func ping(ctx context.Context, address string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("ping answered %q", line)
	}
	return nil
}
