package dapr

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The texts of components-contrib's state.ETagError (state/errors.go). daprd
// answers a single write's ETag failure with a code (Aborted, InvalidArgument)
// but a failed transaction always with codes.Internal and the store's error
// text (dapr pkg/api/grpc/grpc.go ExecuteStateTransaction), so the text is
// all there is to go by.
const (
	etagMismatchText = "possible etag mismatch"
	etagInvalidText  = "invalid etag value"
)

// conflict reports whether err is the sidecar refusing a write because of
// its ETag, which the pipeline re-reads and retries:
//   - Aborted: the store's ETag mismatch, or an insert onto an existing key.
//   - InvalidArgument, only for an invalid etag (one the store could never
//     have issued, such as a non-number on Redis): it cannot match the stored
//     one, and re-reading gives a valid one. daprd also uses InvalidArgument
//     for an unknown store or an illegal key, which are not conflicts.
//   - Internal, when a transaction failed on an ETag, or Redis refused an
//     insert onto an existing key.
//
// Everything else (Unavailable, DeadlineExceeded, ...) is a failure.
func conflict(err error) bool {
	msg := err.Error()
	switch status.Code(err) {
	case codes.Aborted:
		return true
	case codes.InvalidArgument:
		return strings.Contains(msg, etagInvalidText)
	case codes.Internal:
		return strings.Contains(msg, etagMismatchText) || strings.Contains(msg, etagInvalidText) || redisRefusal(msg)
	}
	return false
}

// redisRefusal tells Redis refusing a first-write insert from Redis failing.
// The store's Lua script refuses with error("failed to set key K"), which
// Redis reports as "ERR user_script:N: failed to set key K script: ...";
// the store returns that as a plain error when the request had no etag
// (components-contrib state/redis/redis.go Set), and daprd answers it with
// codes.Internal. The store prefixes "failed to set key K: " to every error,
// a lost connection included, so only the script's own words count.
func redisRefusal(msg string) bool {
	_, script, ok := strings.Cut(msg, "user_script:")
	return ok && strings.Contains(script, "failed to set key")
}
