package signalr

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Errors the service answers with; statusOf maps them to HTTP statuses.
var (
	// ErrUnauthorized means a missing, malformed, badly signed, expired or
	// misaddressed access token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means a browser origin that is not allowed.
	ErrForbidden = errors.New("forbidden")
	// ErrBadRequest means a request the service cannot act on: a bad hub
	// name, a bad body, a missing connection id.
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound means the connection, group or user is not known.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge means a message body over the size limit.
	ErrTooLarge = errors.New("message too large")
)

var statuses = []struct {
	err    error
	status int
	code   string
}{
	{ErrUnauthorized, http.StatusUnauthorized, "Unauthorized"},
	{ErrForbidden, http.StatusForbidden, "Forbidden"},
	{ErrBadRequest, http.StatusBadRequest, "BadRequest"},
	{ErrNotFound, http.StatusNotFound, "NotFound"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "PayloadTooLarge"},
}

// errorBody has the shape of the service's ErrorDetail.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err with its status and an ErrorDetail body.
func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "InternalServerError"
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			status, code = s.status, s.code
			break
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Code: code, Message: err.Error()})
}
