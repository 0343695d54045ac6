package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/iothub"
)

// DeviceAuthenticator checks a device's SAS token (registry.Registry).
type DeviceAuthenticator interface {
	// Authenticate checks token; with deviceID "" the device is the one it
	// names. Refusals wrap iothub.ErrUnauthorized; other errors are the
	// registry's.
	Authenticate(ctx context.Context, deviceID, token string) (iothub.Grant, error)
}

// deviceKey holds the authenticated device id in a request's gin context.
const deviceKey = "enviromon.device"

// sasChallenge is the WWW-Authenticate of a refused device.
const sasChallenge = "SharedAccessSignature"

// authenticateDevice authenticates HTTP ingest as IoT Hub's HTTPS device
// endpoint does: "Authorization: SharedAccessSignature sr=…&sig=…&se=…", a
// token of a registered, enabled device, which then is the messages'
// device (a reading naming another is a counted rejection, as over MQTT).
// Without an Authorization header the request goes on anonymously, the
// device taken from the payload, unless deps.RequireDeviceAuth (the app
// listens beyond loopback): then it is answered 401.
func (h *handlers) authenticateDevice(c *gin.Context) {
	header := c.GetHeader("Authorization")
	switch {
	case header == "" && !h.deps.RequireDeviceAuth:
		c.Next()
		return
	case header == "":
		h.refuseDevice(c, "unauthorized: devices send Authorization: SharedAccessSignature sr=…&sig=…&se=… (anonymous ingest is allowed only while the app listens on loopback)")
		return
	case !strings.HasPrefix(header, "SharedAccessSignature "):
		h.refuseDevice(c, "unauthorized: ingest takes a device's SAS token, Authorization: SharedAccessSignature sr=…&sig=…&se=…")
		return
	case h.deps.DeviceAuth == nil:
		h.refuseDevice(c, "unauthorized: no device registry")
		return
	}
	g, err := h.deps.DeviceAuth.Authenticate(c.Request.Context(), "", header)
	switch {
	case errors.Is(err, iothub.ErrUnauthorized):
		// err says why (expired, another hub, no matching key), never the
		// signature.
		h.refuseDevice(c, err.Error())
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	c.Set(deviceKey, g.DeviceID)
	c.Next()
}

func (h *handlers) refuseDevice(c *gin.Context, why string) {
	c.Header("WWW-Authenticate", sasChallenge)
	c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody{Error: why})
}
