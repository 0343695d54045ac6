package dapr

import (
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestTokensOnDaprd runs daprd v1.16 with DAPR_API_TOKEN and APP_API_TOKEN
// in its environment, as the dapr.io/api-token-secret and
// dapr.io/app-token-secret annotations set them, and two cron input
// bindings delivering to the app: the route that knows APP_API_TOKEN takes
// daprd's deliveries, the one with another token refuses them, and daprd's
// API answers only a client that sends DAPR_API_TOKEN.
func TestTokensOnDaprd(t *testing.T) {
	const apiToken, appToken = "dapr-api-token-7c1e", "app-api-token-52d8"
	right, wrong := &handled{}, &handled{}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	InputRoute(r, "ticks", right.handle, WithAppToken(appToken))
	InputRoute(r, "tocks", wrong.handle, WithAppToken("another-token"))
	refused := make(chan string, 100) // paths of deliveries answered 401
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code == http.StatusUnauthorized {
			select {
			case refused <- req.URL.Path:
			default:
			}
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(app.Close)
	appPort := app.Listener.Addr().(*net.TCPAddr).Port

	cron := func(name string) string {
		return componentYAML(name, "bindings.cron", map[string]string{"schedule": "@every 1s", "direction": "input"})
	}
	d := runDaprd(t, daprdSpec{
		components: []string{cron("ticks"), cron("tocks")},
		appPort:    appPort,
		env:        []string{"DAPR_API_TOKEN=" + apiToken, "APP_API_TOKEN=" + appToken},
	})

	require.Eventually(t, func() bool {
		right.mu.Lock()
		defer right.mu.Unlock()
		return len(right.msgs) >= 2
	}, 20*time.Second, 100*time.Millisecond, "daprd's deliveries with APP_API_TOKEN never got through:\n%s", d.out.String())
	select {
	case path := <-refused:
		assert.Equal(t, "/tocks", path, "the route with another token refused daprd's delivery")
	case <-time.After(10 * time.Second):
		t.Fatal("daprd never delivered to the route with another token")
	}
	wrong.mu.Lock()
	assert.Empty(t, wrong.msgs, "a route with another token took daprd's deliveries")
	wrong.mu.Unlock()

	ctx := t.Context()
	without, err := Dial(ctx, d.grpcAddr, "")
	require.NoError(t, err)
	t.Cleanup(without.Close)
	_, err = without.GetMetadata(ctx)
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "daprd answered a client without DAPR_API_TOKEN: %v", err)

	with, err := Dial(ctx, d.grpcAddr, apiToken)
	require.NoError(t, err)
	t.Cleanup(with.Close)
	meta, err := with.GetMetadata(ctx)
	require.NoError(t, err, "a client with DAPR_API_TOKEN")
	assert.Len(t, meta.RegisteredComponents, 2)
}
