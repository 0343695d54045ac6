// Package inprocess runs Dapr components (components-contrib) inside the app,
// configured by the same Component manifests daprd reads: "embedded mode".
// It adapts them to the pipeline's ports and mirrors what daprd would add
// around them (the state key prefix, first-write concurrency).
package inprocess

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dapr/components-contrib/bindings"
	"github.com/dapr/components-contrib/bindings/azure/eventhubs"
	"github.com/dapr/components-contrib/bindings/azure/signalr"
	bindingshttp "github.com/dapr/components-contrib/bindings/http"
	mqtt "github.com/dapr/components-contrib/bindings/mqtt3"
	"github.com/dapr/components-contrib/state"
	"github.com/dapr/components-contrib/state/azure/tablestorage"
	inmemory "github.com/dapr/components-contrib/state/in-memory"
	"github.com/dapr/components-contrib/state/redis"
	"github.com/dapr/components-contrib/state/sqlite"
	"github.com/dapr/kit/logger"

	"github.com/enviromon/enviromon/app/component"
)

// constructors builds one component type; the fields it can build are set.
type constructors struct {
	state  func(logger.Logger) state.Store
	input  func(logger.Logger) bindings.InputBinding
	output func(logger.Logger) bindings.OutputBinding
	// conflict, when set, replaces isConflict for a store whose errors need
	// more than state.ETagError to tell a failed ETag check.
	conflict func(error) bool
	// atomicMulti marks a store whose transactions check every ETag before
	// writing anything (SQLite's SQL transaction, the in-memory store's
	// lock); Redis's MULTI/EXEC does not roll back a failed check.
	atomicMulti bool
}

// registry is every component type that can run in-process. A type with no
// constructor needs no instance: LoadDir already resolves local.env secrets.
var registry = map[string]constructors{
	"state.sqlite":             {state: sqlite.NewSQLiteStateStore, atomicMulti: true},
	"state.in-memory":          {state: inmemory.NewInMemoryStateStore, atomicMulti: true},
	"state.redis":              {state: redis.NewRedisStateStore, conflict: redisConflict},
	"state.azure.tablestorage": {state: tablestorage.NewAzureTablesStateStore},
	"bindings.mqtt3": {
		input:  func(l logger.Logger) bindings.InputBinding { return mqtt.NewMQTT(l) },
		output: func(l logger.Logger) bindings.OutputBinding { return mqtt.NewMQTT(l) },
	},
	"bindings.azure.eventhubs": {
		input:  func(l logger.Logger) bindings.InputBinding { return eventhubs.NewAzureEventHubs(l) },
		output: func(l logger.Logger) bindings.OutputBinding { return eventhubs.NewAzureEventHubs(l) },
	},
	"bindings.azure.signalr": {output: signalr.NewSignalR},
	"bindings.http":          {output: bindingshttp.NewHTTP},
	component.EnvSecretStore: {},
}

// Types lists the supported component types, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Check reports whether c can run in-process: its type is supported and its
// version is one daprd gives these components ("", v0 or v1). When c sets
// ignoreErrors, its error wraps ErrSkipped, as daprd would skip c.
func Check(c component.Component) error {
	if _, err := lookup(c); err != nil {
		return optional(c, err)
	}
	return nil
}

// lookup finds c's constructors, case-insensitively as daprd does.
func lookup(c component.Component) (constructors, error) {
	k, ok := registry[strings.ToLower(c.Type)]
	if !ok {
		return constructors{}, fmt.Errorf("component %q: type %q cannot run in-process; supported: %s",
			c.Name, c.Type, strings.Join(Types(), ", "))
	}
	switch strings.ToLower(c.Version) {
	case "", "v0", "v1":
	default:
		return constructors{}, fmt.Errorf("component %q: %s version %q is not supported (only v1)", c.Name, c.Type, c.Version)
	}
	return k, nil
}
