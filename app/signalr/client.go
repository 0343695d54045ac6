package signalr

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Negotiation is what an app's own negotiate endpoint answers the official
// client with (components-contrib's clientNegotiate returns the same): the
// client follows URL and presents AccessToken to the service.
type Negotiation struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// ClientNegotiation mints a Negotiation for hub, valid for ttl, whose token
// names user (sends to /users/{user} reach it) when user is not empty.
func (s *Service) ClientNegotiation(hub, user string, ttl time.Duration) (Negotiation, error) {
	name, err := normalizeHub(hub)
	if err != nil {
		return Negotiation{}, fmt.Errorf("client negotiation: %w", err)
	}
	u := fmt.Sprintf("%s/client/?hub=%s", s.endpoint, url.QueryEscape(name))
	token, err := signToken(s.key, u, s.now().Add(ttl), user)
	if err != nil {
		return Negotiation{}, fmt.Errorf("client negotiation: %w", err)
	}
	return Negotiation{URL: u, AccessToken: token}, nil
}

// serveClient serves the client endpoint: POST /client/negotiate?hub=h, and
// GET (connect) and POST (SSE send) on /client?hub=h&id=c. The URL that
// clientNegotiate hands out is /client/?hub=h, so /client/ is served too.
func (s *Service) serveClient(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(w, r); err != nil {
		writeError(w, err)
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	name, err := normalizeHub(r.URL.Query().Get("hub"))
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := s.authorize(r, s.clientAudience(r, name))
	if err != nil {
		s.log.Debug("client rejected", "hub", name, "path", r.URL.Path, "err", err)
		writeError(w, err)
		return
	}
	h, err := s.hub(name)
	if err != nil {
		writeError(w, err)
		return
	}
	switch r.URL.Path {
	case "/client/negotiate":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		h.mux.ServeHTTP(w, r)
	case "/client", "/client/":
		s.connect(w, r, h, c.User)
	default:
		http.NotFound(w, r)
	}
}

// connect hands a connect (GET) or SSE send (POST) request to the library.
// A GET lasts as long as the connection: it records the connection's user
// for the time, and lifts the server's read and write deadlines that would
// otherwise cut a WebSocket or an event stream.
func (s *Service) connect(w http.ResponseWriter, r *http.Request, h *hub, user string) {
	lib := r.Clone(r.Context())
	lib.URL.Path, lib.URL.RawPath = "/client", ""
	if r.Method == http.MethodGet {
		id := r.URL.Query().Get("id")
		if id == "" {
			// Azure SignalR requires negotiation; so does the user mapping.
			writeError(w, fmt.Errorf("%w: missing connection id, negotiate first", ErrBadRequest))
			return
		}
		if !h.reg.open(id, user) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		defer h.reg.close(id)
		rc := http.NewResponseController(w)
		for _, err := range []error{rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})} {
			if err != nil && !errors.Is(err, http.ErrNotSupported) {
				s.log.Debug("lift deadline", "hub", h.name, "err", err)
			}
		}
		s.log.Debug("client connecting", "hub", h.name, "connection", id, "user", user)
	}
	h.mux.ServeHTTP(w, lib)
}
