package api

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
)

// Paging of GET /api/devices. The answer stays a JSON array; when more
// devices remain, a Link header (RFC 8288, as GitHub's API does) names the
// next page: <...?limit=N&cursor=C>; rel="next". The cursor is opaque to
// clients (the last device id of the page, base64url-encoded).
const (
	defaultPageSize = 1000
	maxPageSize     = 10000
)

// page is a parsed ?limit=&cursor= pair.
type page struct {
	limit int
	after string // the device id the page starts after; "" from the start
}

func parsePage(limit, cursor string) (page, error) {
	p := page{limit: defaultPageSize}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > maxPageSize {
			return p, fmt.Errorf("%w: limit must be a whole number from 1 to %d", errBadRequest, maxPageSize)
		}
		p.limit = n
	}
	if cursor != "" {
		id, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(id) == 0 {
			return p, fmt.Errorf("%w: cursor is not one this API handed out", errBadRequest)
		}
		p.after = string(id)
	}
	return p, nil
}

// nextLink is the Link header value for the page after the device id last.
func nextLink(path string, limit int, last string) string {
	q := url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {base64.RawURLEncoding.EncodeToString([]byte(last))}}
	return fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode())
}
