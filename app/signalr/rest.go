package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// maxMessage is the service's limit on one message.
const maxMessage = 1 << 20

// message is the body of a send: {"target": "...", "arguments": [...]}.
// encoding/json matches keys case-insensitively, so the PascalCase of the
// Azure docs decodes too. Arguments are decoded to plain values (not kept
// raw) because a client may have chosen MessagePack: numbers become
// float64, exact to 2^53.
type message struct {
	Target    string `json:"target"`
	Arguments []any  `json:"arguments"`
}

// restRoutes maps the data-plane REST API (2022-11-01 paths, and the v1
// paths for sends). Every route needs a token whose aud is its URL.
func (s *Service) restRoutes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("HEAD /api/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, p := range []string{"/api/hubs/{hub}/:send", "/api/v1/hubs/{hub}"} {
		m.Handle("POST "+p, s.op(s.sendAll))
	}
	for _, p := range []string{"/api/hubs/{hub}/groups/{group}/:send", "/api/v1/hubs/{hub}/groups/{group}"} {
		m.Handle("POST "+p, s.op(s.sendGroup))
	}
	for _, p := range []string{"/api/hubs/{hub}/users/{user}/:send", "/api/v1/hubs/{hub}/users/{user}"} {
		m.Handle("POST "+p, s.op(s.sendUser))
	}
	for _, p := range []string{"/api/hubs/{hub}/connections/{connection}/:send", "/api/v1/hubs/{hub}/connections/{connection}"} {
		m.Handle("POST "+p, s.op(s.sendConnection))
	}
	m.Handle("PUT /api/hubs/{hub}/groups/{group}/connections/{connection}", s.op(s.addConnection))
	m.Handle("DELETE /api/hubs/{hub}/groups/{group}/connections/{connection}", s.op(s.removeConnection))
	m.Handle("PUT /api/hubs/{hub}/users/{user}/groups/{group}", s.op(s.addUser))
	m.Handle("DELETE /api/hubs/{hub}/users/{user}/groups/{group}", s.op(s.removeUser))
	m.Handle("DELETE /api/hubs/{hub}/users/{user}/groups", s.op(s.removeUser))
	m.Handle("HEAD /api/hubs/{hub}/connections/{connection}", s.op(s.exists))
	m.Handle("HEAD /api/hubs/{hub}/groups/{group}", s.op(s.exists))
	m.Handle("HEAD /api/hubs/{hub}/users/{user}", s.op(s.exists))
	return m
}

// op adapts a REST operation: it checks the token and the hub name, then
// answers with the operation's status or its error.
func (s *Service) op(f func(*http.Request, string) (int, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.authorize(r, s.restAudience(r)); err != nil {
			s.log.Debug("rest rejected", "path", r.URL.Path, "err", err)
			writeError(w, err)
			return
		}
		name, err := normalizeHub(r.PathValue("hub"))
		if err != nil {
			writeError(w, err)
			return
		}
		status, err := f(r, name)
		if err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(status)
	})
}

func (s *Service) sendAll(r *http.Request, name string) (int, error) {
	return s.send(r, name, func(h *hub) []string {
		excluded := r.URL.Query()["excluded"]
		if len(excluded) == 0 {
			return nil // everyone, through the library's All()
		}
		return slices.DeleteFunc(h.reg.all(), func(id string) bool { return slices.Contains(excluded, id) })
	})
}

func (s *Service) sendGroup(r *http.Request, name string) (int, error) {
	return s.send(r, name, func(h *hub) []string {
		excluded := r.URL.Query()["excluded"]
		ids := h.reg.inGroup(r.PathValue("group"))
		return slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(excluded, id) })
	})
}

func (s *Service) sendUser(r *http.Request, name string) (int, error) {
	return s.send(r, name, func(h *hub) []string { return h.reg.ofUser(r.PathValue("user")) })
}

func (s *Service) sendConnection(r *http.Request, name string) (int, error) {
	return s.send(r, name, func(h *hub) []string {
		if id := r.PathValue("connection"); h.reg.has(id) {
			return []string{id}
		}
		return []string{}
	})
}

// send decodes the message and sends it to the connections that to picks
// (nil: all). Like the service, it accepts a send nobody receives.
func (s *Service) send(r *http.Request, name string, to func(*hub) []string) (int, error) {
	// The whole body is one message: a json.Decoder would stop after the
	// first value and accept whatever follows it.
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxMessage))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return 0, fmt.Errorf("send: %w", ErrTooLarge)
		}
		return 0, fmt.Errorf("send: %w: %v", ErrBadRequest, err)
	}
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return 0, fmt.Errorf("send: %w: %v", ErrBadRequest, err)
	}
	if m.Target == "" {
		return 0, fmt.Errorf("send: %w: target is required", ErrBadRequest)
	}
	if h, ok := s.existingHub(name); ok {
		if ids := to(h); ids == nil || len(ids) > 0 {
			h.send(ids, m.Target, m.Arguments)
		}
	}
	return http.StatusAccepted, nil
}

func (s *Service) addConnection(r *http.Request, name string) (int, error) {
	h, ok := s.existingHub(name)
	if !ok {
		return 0, fmt.Errorf("add to group: %w", ErrNotFound)
	}
	if err := h.reg.addToGroup(r.PathValue("group"), r.PathValue("connection")); err != nil {
		return 0, fmt.Errorf("add to group: %w", err)
	}
	return http.StatusOK, nil
}

func (s *Service) removeConnection(r *http.Request, name string) (int, error) {
	h, ok := s.existingHub(name)
	if !ok {
		return 0, fmt.Errorf("remove from group: %w", ErrNotFound)
	}
	if err := h.reg.removeFromGroup(r.PathValue("group"), r.PathValue("connection")); err != nil {
		return 0, fmt.Errorf("remove from group: %w", err)
	}
	return http.StatusOK, nil
}

func (s *Service) addUser(r *http.Request, name string) (int, error) {
	h, err := s.hub(name) // the user may connect later
	if err != nil {
		return 0, fmt.Errorf("add user to group: %w", err)
	}
	h.reg.addUserToGroup(r.PathValue("user"), r.PathValue("group"))
	return http.StatusOK, nil
}

func (s *Service) removeUser(r *http.Request, name string) (int, error) {
	if h, ok := s.existingHub(name); ok {
		h.reg.removeUserFromGroup(r.PathValue("user"), r.PathValue("group"))
	}
	return http.StatusOK, nil
}

// exists answers the HEAD checks: 200 when the connection, or any
// connection of the group or user, is connected; else 404.
func (s *Service) exists(r *http.Request, name string) (int, error) {
	h, ok := s.existingHub(name)
	found := false
	switch {
	case !ok:
	case r.PathValue("connection") != "":
		found = h.reg.has(r.PathValue("connection"))
	case r.PathValue("group") != "":
		found = len(h.reg.inGroup(r.PathValue("group"))) > 0
	default:
		found = len(h.reg.ofUser(r.PathValue("user"))) > 0
	}
	if !found {
		return 0, ErrNotFound
	}
	return http.StatusOK, nil
}
