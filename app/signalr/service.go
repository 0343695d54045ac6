// Package signalr is a local service compatible with Azure SignalR Service
// in serverless mode: the REST API that Dapr's bindings.azure.signalr sends
// to, and the client endpoint that the official @microsoft/signalr client
// negotiates and connects with (WebSockets and Server-Sent Events).
//
// Client connections are served by github.com/philippseith/signalr, one
// server per hub, created on first use. A Service is an http.Handler: the
// app can mount it in-process, or run it as cmd/signalr-local.
//
// Routes: POST /client/negotiate?hub=h, GET|POST /client[/]?hub=h&id=c
// (tokens with aud {endpoint}/client/?hub=h), and under /api/hubs/{hub}/ the
// REST API of 2022-11-01 (:send to all, groups/{g}, users/{u},
// connections/{c}; group membership; HEAD checks) plus the v1 sends under
// /api/v1/hubs/{hub} (tokens with aud = the request URL).
package signalr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config configures a Service.
type Config struct {
	// Endpoint is the base URL clients and senders use to reach the service,
	// as written in the connection string, e.g. http://127.0.0.1:8088.
	Endpoint string
	// AccessKey signs and verifies every token (HS256).
	AccessKey string
	// AllowedOrigins are the browser origins, besides the service's own,
	// allowed to reach the client endpoint, e.g. http://127.0.0.1:8080.
	AllowedOrigins []string
	// Logger receives the service's and the library's logs; nil discards.
	Logger *slog.Logger
	// Now is the clock for token checks; nil means time.Now.
	Now func() time.Time
}

// Service is the SignalR-compatible service. It is an http.Handler.
type Service struct {
	endpoint *url.URL
	key      []byte
	origins  map[string]bool
	log      *slog.Logger
	now      func() time.Time
	rest     http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	hubs   map[string]*hub
}

// New validates cfg and returns a Service; Close releases it.
func New(cfg Config) (*Service, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		return nil, fmt.Errorf("new: endpoint %q is not an http(s) base URL", cfg.Endpoint)
	}
	if cfg.AccessKey == "" || strings.ContainsAny(cfg.AccessKey, ";") {
		return nil, errors.New("new: access key is empty or contains ';'")
	}
	origins, err := parseOrigins(cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("new: %w", err)
	}
	s := &Service{
		endpoint: u,
		key:      []byte(cfg.AccessKey),
		origins:  origins,
		log:      cfg.Logger,
		now:      cfg.Now,
		hubs:     map[string]*hub{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.rest = s.restRoutes()
	return s, nil
}

// ConnectionString returns the connection string for this service, in the
// form bindings.azure.signalr and the Azure SDKs read.
func (s *Service) ConnectionString() string {
	return fmt.Sprintf("Endpoint=%s;AccessKey=%s;Version=1.0;", s.endpoint, s.key)
}

// ConnectionCount returns the number of connections of hub that sends reach.
func (s *Service) ConnectionCount(hub string) int {
	h, ok := s.existingHub(strings.ToLower(hub))
	if !ok {
		return 0
	}
	return len(h.reg.all())
}

// ServeHTTP routes the REST API under /api/ and the client endpoint under
// /client.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.rest.ServeHTTP(w, r)
	case r.URL.Path == "/client" || strings.HasPrefix(r.URL.Path, "/client/"):
		s.serveClient(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Close ends every client connection. It does not wait for them.
func (s *Service) Close() error {
	s.cancel()
	return nil
}

// hub returns the hub called name, creating it on first use.
func (s *Service) hub(name string) (*hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.hubs[name]; ok {
		return h, nil
	}
	if err := s.ctx.Err(); err != nil {
		return nil, fmt.Errorf("hub %s: service closed: %w", name, err)
	}
	h, err := newHub(s.ctx, name, kitLogger{log: s.log.With("hub", name)})
	if err != nil {
		return nil, err
	}
	s.hubs[name] = h
	return h, nil
}

// existingHub returns the hub called name if a client ever used it.
func (s *Service) existingHub(name string) (*hub, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hubs[name]
	return h, ok
}
