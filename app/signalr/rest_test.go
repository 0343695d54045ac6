package signalr

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSendBody(t *testing.T) {
	_, srv := startService(t, Config{})
	send := srv.URL + "/api/hubs/enviromon/:send?api-version=2022-11-01"
	tests := []struct {
		name string
		url  string
		body string
		want int
	}{
		{"camelCase", send, `{"target":"newMessage","arguments":[{"deviceId":"d1","count":1}]}`, http.StatusAccepted},
		{"PascalCase", send, `{"Target":"newMessage","Arguments":[{"deviceId":"d1","count":1}]}`, http.StatusAccepted},
		{"no arguments", send, `{"target":"newMessage"}`, http.StatusAccepted},
		{"group", srv.URL + "/api/hubs/enviromon/groups/ops/:send?api-version=2022-11-01", `{"target":"t"}`, http.StatusAccepted},
		{"user", srv.URL + "/api/hubs/enviromon/users/alice/:send?api-version=2022-11-01", `{"target":"t"}`, http.StatusAccepted},
		{"v1 broadcast", srv.URL + "/api/v1/hubs/enviromon", `{"target":"t"}`, http.StatusAccepted},
		{"missing target", send, `{"arguments":[1]}`, http.StatusBadRequest},
		{"arguments not an array", send, `{"target":"t","arguments":{"a":1}}`, http.StatusBadRequest},
		{"not JSON", send, `target=t`, http.StatusBadRequest},
		{"empty", send, ``, http.StatusBadRequest},
		{"too large", send, `{"target":"t","arguments":["` + strings.Repeat("x", maxMessage) + `"]}`, http.StatusRequestEntityTooLarge},
		{"invalid hub name", srv.URL + "/api/hubs/bad-hub/:send", `{"target":"t"}`, http.StatusBadRequest},
		{"unknown route", srv.URL + "/api/hubs/enviromon/:publish", `{"target":"t"}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rest(t, http.MethodPost, tt.url, tt.body))
		})
	}
}
