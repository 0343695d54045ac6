package signalr

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	psignalr "github.com/philippseith/signalr"
)

// hubName is the rule of the service's REST API: a letter, then letters,
// digits or underscores. Names are lower-cased first, as the SDKs and
// components-contrib do.
var hubName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)

// normalizeHub lower-cases name and checks it; ErrBadRequest if invalid.
func normalizeHub(name string) (string, error) {
	n := strings.ToLower(name)
	if !hubName.MatchString(n) {
		return "", fmt.Errorf("%w: invalid hub name %q", ErrBadRequest, name)
	}
	return n, nil
}

// hub is one SignalR hub: a philippseith server mapped on its own mux, and
// the registry that gives its connections users and groups.
type hub struct {
	name   string
	server psignalr.Server
	mux    *http.ServeMux
	reg    *registry
}

func newHub(ctx context.Context, name string, logger psignalr.StructuredLogger) (*hub, error) {
	h := &hub{name: name, mux: http.NewServeMux(), reg: newRegistry()}
	server, err := psignalr.NewServer(ctx,
		psignalr.HubFactory(func() psignalr.HubInterface { return &serverless{reg: h.reg} }),
		psignalr.Logger(logger, false),
		// Origins are checked by the service before a request gets here,
		// against scheme and host; the library would check the host only.
		psignalr.InsecureSkipVerify(true),
	)
	if err != nil {
		return nil, fmt.Errorf("new hub %s: %w", name, err)
	}
	server.MapHTTP(psignalr.WithHTTPServeMux(h.mux), "/client")
	h.server = server
	return h, nil
}

// send delivers target(args...) to the connections ids, or, when ids is
// nil (not merely empty), to every connection through the library's All().
// The library sends to each connection on its own goroutine: two sends to
// one connection may arrive in either order.
func (h *hub) send(ids []string, target string, args []any) {
	clients := h.server.HubClients()
	if ids == nil {
		clients.All().Send(target, args...)
		return
	}
	for _, id := range ids {
		clients.Client(id).Send(target, args...)
	}
}

// serverless is the hub of a serverless service: clients only receive;
// they have no methods to invoke. It tells the registry when the library
// can reach a connection.
type serverless struct {
	psignalr.Hub
	reg *registry
}

// OnConnected marks the connection live: the library registers it for
// sends just before calling this.
func (s *serverless) OnConnected(id string) { s.reg.setLive(id, true) }

// OnDisconnected marks the connection gone for sends.
func (s *serverless) OnDisconnected(id string) { s.reg.setLive(id, false) }
