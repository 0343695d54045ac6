package dapr

import (
	"context"
	"fmt"

	"github.com/dapr/go-sdk/client"
)

// Dial connects to daprd's gRPC API at addr. A non-empty apiToken (the
// DAPR_API_TOKEN that daprd then demands) goes with every call. The SDK
// also reads DAPR_API_TOKEN from the process environment by itself; Dial
// makes the app's own configuration the source, as the rest of it is.
func Dial(ctx context.Context, addr, apiToken string) (client.Client, error) {
	c, err := client.NewClientWithAddressContext(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("dial dapr sidecar: %w", err)
	}
	if apiToken != "" {
		c.WithAuthToken(apiToken)
	}
	return c, nil
}
