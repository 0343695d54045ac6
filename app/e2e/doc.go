//go:build e2e

// Package e2e is the end-to-end suite against a real Dapr sidecar: for every
// case it starts mosquitto, a state backend (Azurite, SQLite or Redis), the
// local SignalR service, and per replica the enviromon binary in sidecar mode
// beside its own daprd, all as child processes on free ports of 127.0.0.1.
// Devices publish over MQTT with the simulator; the counts are read back
// through the app's API, straight from the store, and from the official
// @microsoft/signalr client.
//
// The files build only with the e2e tag (`make test-e2e`), so `go test ./...`
// does not need daprd. daprd comes from $DAPR_RUNTIME_PATH/.dapr/bin/daprd,
// else from the folder `.ci/tools.sh --print-path` names; when it is missing
// a test is skipped, or fails when CI is set.
package e2e
