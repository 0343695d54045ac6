package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/alert"
	"github.com/enviromon/enviromon/app/internal/testenv"
)

var alertNow = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// alertAPI is the router over a real alert service on an in-memory store.
func alertAPI(t *testing.T) (http.Handler, *alert.Service) {
	t.Helper()
	svc := alert.NewService(alert.NewMemStore(), func() time.Time { return alertNow })
	return NewRouter(Deps{Alerts: svc}), svc
}

func TestAlertRulesAPI(t *testing.T) {
	r, _ := alertAPI(t)
	hot := `{"id":"hot","metric":"temperature","above":30,"for":"5m"}`

	w := do(r, http.MethodPost, "/api/alert-rules", hot)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.JSONEq(t, `{"id":"hot","metric":"temperature","above":30,"for":"5m0s"}`, w.Body.String())
	assert.Equal(t, "/api/alert-rules/hot", w.Header().Get("Location"))

	w = do(r, http.MethodPost, "/api/alert-rules", hot)
	assert.Equal(t, http.StatusConflict, w.Code, "a second create of one id")

	w = do(r, http.MethodPost, "/api/alert-rules", `{"id":"gone","offlineFor":"PT2M","deviceId":"kitchen"}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())

	w = do(r, http.MethodGet, "/api/alert-rules", "")
	require.Equal(t, http.StatusOK, w.Code)
	var rules []map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &rules))
	require.Len(t, rules, 2)
	assert.Equal(t, "gone", rules[0]["id"])
	assert.Equal(t, "2m0s", rules[0]["offlineFor"])
	assert.Equal(t, "hot", rules[1]["id"])

	w = do(r, http.MethodGet, "/api/alert-rules/hot", "")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"id":"hot","metric":"temperature","above":30,"for":"5m0s"}`, w.Body.String())

	w = do(r, http.MethodPut, "/api/alert-rules/hot", `{"metric":"temperature","above":35,"hysteresis":1}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = do(r, http.MethodGet, "/api/alert-rules/hot", "")
	assert.JSONEq(t, `{"id":"hot","metric":"temperature","above":35,"hysteresis":1}`, w.Body.String())

	assert.Equal(t, http.StatusNotFound, do(r, http.MethodPut, "/api/alert-rules/nope", `{"metric":"light","above":1}`).Code)
	assert.Equal(t, http.StatusNoContent, do(r, http.MethodDelete, "/api/alert-rules/hot", "").Code)
	assert.Equal(t, http.StatusNotFound, do(r, http.MethodGet, "/api/alert-rules/hot", "").Code)
	assert.Equal(t, http.StatusNotFound, do(r, http.MethodDelete, "/api/alert-rules/hot", "").Code)
	assert.Equal(t, http.StatusCreated, do(r, http.MethodPost, "/api/alert-rules", hot).Code, "a deleted id can be used again")
}

func TestAlertRulesAPIRefusesBadRules(t *testing.T) {
	r, _ := alertAPI(t)
	tests := []struct {
		name, method, path, body, reason string
	}{
		{"not JSON", http.MethodPost, "/api/alert-rules", `{"id":`, "must be a JSON object"},
		{"unknown field", http.MethodPost, "/api/alert-rules", `{"id":"x","metric":"light","above":1,"created":"2025-01-01T00:00:00Z"}`, "unknown field"},
		{"unknown metric", http.MethodPost, "/api/alert-rules", `{"id":"x","metric":"co2","above":1}`, `unknown metric \"co2\"`},
		{"above and below", http.MethodPost, "/api/alert-rules", `{"id":"x","metric":"light","above":1,"below":0}`, "both above and below"},
		{"neither", http.MethodPost, "/api/alert-rules", `{"id":"x","metric":"light"}`, "neither above nor below"},
		{"bad duration", http.MethodPost, "/api/alert-rules", `{"id":"x","metric":"light","above":1,"for":"soon"}`, `duration \"soon\"`},
		{"negative duration", http.MethodPost, "/api/alert-rules", `{"id":"x","offlineFor":"-1m"}`, "must be positive"},
		{"duration as a number", http.MethodPost, "/api/alert-rules", `{"id":"x","offlineFor":60}`, "want a string"},
		{"offline with metric", http.MethodPost, "/api/alert-rules", `{"id":"x","offlineFor":"1m","metric":"light"}`, "takes no metric"},
		{"bad id", http.MethodPost, "/api/alert-rules", `{"id":"a b","metric":"light","above":1}`, "1 to 64"},
		{"two objects", http.MethodPost, "/api/alert-rules", `{"id":"x","offlineFor":"1m"} {}`, "one JSON object"},
		{"id differs from path", http.MethodPut, "/api/alert-rules/x", `{"id":"y","offlineFor":"1m"}`, `not \"x\" of the path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(r, tt.method, tt.path, tt.body)
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.Contains(t, w.Body.String(), tt.reason)
		})
	}
	w := do(r, http.MethodGet, "/api/alert-rules", "")
	assert.JSONEq(t, `[]`, w.Body.String(), "nothing refused was stored")
}

func TestAlertsListAndAck(t *testing.T) {
	r, svc := alertAPI(t)
	ctx := context.Background()
	_, err := svc.CreateRule(ctx, alert.Rule{ID: "hot", Metric: alert.Temperature, Above: ptr(30.0)})
	require.NoError(t, err)
	e := alert.NewEvaluator(svc, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, e.Evaluate(ctx, []alert.Device{{ID: "kitchen", Values: map[alert.Metric]float64{alert.Temperature: 31.5}, LastSeen: alertNow}}))

	w := do(r, http.MethodGet, "/api/alerts", "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `[{"ruleId":"hot","deviceId":"kitchen","metric":"temperature","state":"firing","since":"2025-01-01T12:00:00Z","value":31.5}]`, w.Body.String())

	w = do(r, http.MethodPost, "/api/alerts/hot/kitchen/ack", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"ruleId":"hot","deviceId":"kitchen","metric":"temperature","state":"firing","since":"2025-01-01T12:00:00Z","value":31.5,"acknowledgedAt":"2025-01-01T12:00:00Z"}`, w.Body.String())
	w = do(r, http.MethodGet, "/api/alerts", "")
	assert.Contains(t, w.Body.String(), `"acknowledgedAt":"2025-01-01T12:00:00Z"`)

	assert.Equal(t, http.StatusNotFound, do(r, http.MethodPost, "/api/alerts/hot/hall/ack", "").Code)
	assert.Equal(t, http.StatusNotFound, do(r, http.MethodPost, "/api/alerts/nope/kitchen/ack", "").Code)
}

func TestAlertWritesNeedToken(t *testing.T) {
	iss := testenv.StartIssuer(t)
	auth, err := NewOIDC(OIDCConfig{Issuer: iss.URL, Audience: iss.Audience})
	require.NoError(t, err)
	svc := alert.NewService(alert.NewMemStore(), func() time.Time { return alertNow })
	r := NewRouter(Deps{Alerts: svc, Auth: auth, WriteRole: writeRole})
	body := `{"id":"hot","metric":"temperature","above":30}`

	assert.Equal(t, http.StatusUnauthorized, call(r, http.MethodPost, "/api/alert-rules", body, "").Code)
	assert.Equal(t, http.StatusUnauthorized, call(r, http.MethodPost, "/api/alerts/hot/d/ack", "", "").Code)
	assert.Equal(t, http.StatusOK, call(r, http.MethodGet, "/api/alert-rules", "", "").Code, "reads are open")
	assert.Equal(t, http.StatusOK, call(r, http.MethodGet, "/api/alerts", "", "").Code)
	token := iss.Token(t, iss.Claims("user-1", writeRole))
	assert.Equal(t, http.StatusCreated, call(r, http.MethodPost, "/api/alert-rules", body, token).Code)
	assert.Equal(t, http.StatusUnauthorized, call(r, http.MethodPut, "/api/alert-rules/hot", body, "").Code)
	assert.Equal(t, http.StatusUnauthorized, call(r, http.MethodDelete, "/api/alert-rules/hot", "", "").Code)
	assert.Equal(t, http.StatusNoContent, call(r, http.MethodDelete, "/api/alert-rules/hot", "", token).Code)
}

func ptr[T any](v T) *T { return &v }
