# Enviromon. `make run` starts the product with embedded components; `make
# test` runs everything that passes on a fresh machine.
GO        ?= go
ADDR      ?= 127.0.0.1:8080
DEVICES   ?= 3
FUZZTIME  ?= 100000x
BENCHTIME ?= 1s
TESTFLAGS ?= -race -timeout 20m

.PHONY: run build dashboard test test-unit test-dashboard fuzz fuzz-all bench bench-micro vet clean

## run: the app in embedded mode (SQLite, embedded MQTT broker, local SignalR, $(DEVICES) simulated devices)
run: dashboard
	@mkdir -p data
	$(GO) run ./app/cmd/enviromon -addr $(ADDR) -simulate $(DEVICES)

## dashboard: the dashboard's npm packages and the SignalR client it serves (vendor/, git-ignored)
dashboard: dashboard/vendor/signalr.min.js

dashboard/vendor/signalr.min.js: dashboard/package.json dashboard/package-lock.json dashboard/build.mjs
	npm ci --prefix dashboard --no-audit --no-fund --loglevel=error
	node dashboard/build.mjs

## build: binaries into .bin/
build:
	$(GO) build -o .bin/ ./app/cmd/...

## test: vet, every test with the race detector (browser test included), a short fuzz run
test: vet dashboard test-unit test-dashboard fuzz
	@echo "--- latency (test-artifacts/latency.txt)"; cat test-artifacts/latency.txt 2>/dev/null || true

vet:
	$(GO) vet ./...

test-unit:
	@rm -f test-artifacts/latency.txt
	$(GO) test $(TESTFLAGS) ./...
	# daprd's HTTP app channel race, shown without the race detector (which flags it in daprd's code)
	$(GO) test -count=1 -run '^TestDaprdHTTPChannelReportsFailuresAsDelivered$$' ./app/dapr/

## test-dashboard: the dashboard's own tests (model, and the page against a fake API: 1,000 devices, paging, escaping, phone layout)
test-dashboard: dashboard
	cd dashboard && node --test test/model.test.mjs test/devserver.test.mjs test/api.test.mjs test/device.test.mjs test/alerts.test.mjs

## screenshots: copy the README's fleet view and device page from the last browser test run (test-artifacts/)
.PHONY: screenshots
screenshots:
	@mkdir -p dashboard/screenshots
	cp test-artifacts/fleet-view.png test-artifacts/device-page.png dashboard/screenshots/

.PHONY: fixtures
## fixtures: rewrite dashboard/test/fixtures, the app's own answers to a fixed scenario (app/api TestFixtures, which every `go test` runs to check them)
fixtures:
	$(GO) test -count=1 -run '^TestFixtures$$' ./app/api/ -args -update-fixtures

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./app/telemetry/

## fuzz-all: every fuzz target for FUZZTIME each. FUZZTIME is a count of runs (100000x), not a
## duration: with a duration, Go 1.26's fuzzer has failed with "context deadline exceeded" when
## time ran out during a minimization. Only FuzzDecode is in `make test` so far; the other
## targets' seed corpora and saved regressions run in every `go test`.
fuzz-all: fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzIngest$$' -fuzztime $(FUZZTIME) ./app/api/
	$(GO) test -run '^$$' -fuzz '^FuzzToken$$' -fuzztime $(FUZZTIME) ./app/signalr/
	$(GO) test -run '^$$' -fuzz '^FuzzREST$$' -fuzztime $(FUZZTIME) ./app/signalr/
	$(GO) test -run '^$$' -fuzz '^FuzzComponentYAML$$' -fuzztime $(FUZZTIME) ./app/component/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSAS$$' -fuzztime $(FUZZTIME) ./app/iothub/

## bench: the end-to-end benchmarks (app/e2e) against their ceilings, $(BENCH_COUNT) runs each, and the broker's; rewrites README's Performance section from what they measured
BENCH_COUNT ?= 5
BENCH       ?= .
bench: tools build dashboard azurite
	@mkdir -p test-artifacts/profiles
	DAPR_RUNTIME_PATH="$$(DAPR_VERSION='$(DAPR_VERSION)' TOOLS_DIR='$(TOOLS_DIR)' ./.ci/tools.sh --print-path)" BENCH_PROFILE=1 \
		$(GO) test -tags e2e -run '^$$' -bench '$(BENCH)' -benchtime 1x -count $(BENCH_COUNT) -timeout 180m ./app/e2e/ | tee bench.out
	$(GO) test -run '^$$' -bench 'BenchmarkPublish' -benchtime 2s -count $(BENCH_COUNT) ./app/broker/ | tee -a bench.out
	DAPR_VERSION='$(DAPR_VERSION)' $(GO) run ./app/cmd/benchreport -in bench.out -readme README.md -runs '$(BENCH_COUNT) runs' \
		-command 'make bench   # BENCH_COUNT=$(BENCH_COUNT)' \
		-command "go test -tags e2e -run '^\$$' -bench . -benchtime 1x -count $(BENCH_COUNT) ./app/e2e/" \
		-command "go test -run '^\$$' -bench BenchmarkPublish -benchtime 2s -count $(BENCH_COUNT) ./app/broker/"

## bench-history: the ingest cost of history, the embedded app with history on against off (BenchmarkHistory, 1,000 devices), $(BENCH_COUNT) runs; rewrites README's bench-history block
.PHONY: bench-history
bench-history:
	$(GO) test -tags e2e -run '^$$' -bench '^BenchmarkHistory$$' -benchtime 1x -count $(BENCH_COUNT) -timeout 60m ./app/e2e/ | tee bench-history.out
	$(GO) run ./app/cmd/benchreport -in bench-history.out -readme README.md -block bench-history -measured-only -profiles '' -runs '$(BENCH_COUNT) runs' \
		-command 'make bench-history   # BENCH_COUNT=$(BENCH_COUNT)' \
		-command "go test -tags e2e -run '^\$$' -bench '^BenchmarkHistory\$$' -benchtime 1x -count $(BENCH_COUNT) ./app/e2e/"

## bench-micro: the packages' own benchmarks (decode, pipeline, broker), 6 runs each for benchstat
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 -benchtime $(BENCHTIME) ./... | tee bench-micro.out

clean:
	rm -rf .bin data bench.out test-artifacts dashboard/vendor dashboard/node_modules

# Dapr tools (daprd + CLI) built from the Go module proxy; see .ci/tools.sh.
# TOOLS_DIR empty = the script default, ~/.cache/enviromon/tools/dapr-<DAPR_VERSION> (XDG_CACHE_HOME honoured).
DAPR_VERSION     ?= 1.16.0
DAPR_CLI_VERSION ?= 1.12.0
TOOLS_DIR        ?=

.PHONY: tools
## tools: build daprd $(DAPR_VERSION) (allcomponents) and the Dapr CLI $(DAPR_CLI_VERSION) once, into TOOLS_DIR; prints DAPR_RUNTIME_PATH=<dir>
tools:
	@DAPR_VERSION='$(DAPR_VERSION)' DAPR_CLI_VERSION='$(DAPR_CLI_VERSION)' TOOLS_DIR='$(TOOLS_DIR)' GO='$(GO)' ./.ci/tools.sh

.PHONY: azurite dapr-run
## azurite: the Azure Table Storage emulator (npm), into .bin/azurite
azurite: .bin/azurite/node_modules/.bin/azurite-table

.bin/azurite/node_modules/.bin/azurite-table:
	npm install --silent --no-audit --no-fund --prefix .bin/azurite azurite@3.37.0

## dapr-run: the app and the simulator beside real daprd (dapr run -f .), with mosquitto, Azurite and the local SignalR service
dapr-run: tools build dashboard azurite
	./.ci/dapr-run.sh

# Fault injection (app/e2e faults_*_test.go and outage_test.go, tags e2e
# faults; app/cmd/enviromon crash_test.go and diskfull_test.go): each case
# breaks one part mid-stream and checks the counts against the simulator's
# ledger of what was acknowledged. The disk-full case mounts a tmpfs, so it
# needs root (CI has it). Run by .ci/run.
#
# The app beside daprd is delivered to over daprd's gRPC app channel: the
# HTTP one (daprd 1.16) can report a failed delivery as delivered, which
# TestFaultKilledSidecarApp caught (README, Faults). `make test-faults-repeat`
# runs one case many times: FAULT=TestFaultKilledSidecarApp FAULT_COUNT=30.
FAULTS = TestFaultKilledSidecarApp|TestFaultInterruptedDeliveries|TestFaultRefusedDeliveries|TestFaultSignalRDown|TestFaultBrokerRestart|TestFaultReplicaKilled|TestStoreOutage
.PHONY: test-faults test-faults-repeat
## test-faults: the fault-injection suite: the app killed (embedded and beside daprd), deliveries interrupted and refused, store stopped (Redis, Azurite), SignalR stopped with a dashboard open, broker restarted, one of two replicas killed, disk full (E2EFLAGS applies)
test-faults: tools build dashboard azurite
	DAPR_RUNTIME_PATH="$$(DAPR_VERSION='$(DAPR_VERSION)' TOOLS_DIR='$(TOOLS_DIR)' ./.ci/tools.sh --print-path)" \
		$(GO) test -tags 'e2e faults' -count=1 -v -timeout 30m -run '^($(FAULTS))$$' $(E2EFLAGS) ./app/e2e/
	$(GO) test -tags faults -count=1 -v -run 'TestKilledAppLosesNothing|TestFaultDiskFull' ./app/cmd/enviromon/

## test-faults-repeat: one e2e fault case $(FAULT_COUNT) times in a row (FAULT=TestFaultKilledSidecarApp by default), to catch a rare loss
FAULT       ?= TestFaultKilledSidecarApp
FAULT_COUNT ?= 10
test-faults-repeat: tools build dashboard azurite
	DAPR_RUNTIME_PATH="$$(DAPR_VERSION='$(DAPR_VERSION)' TOOLS_DIR='$(TOOLS_DIR)' ./.ci/tools.sh --print-path)" \
		$(GO) test -tags 'e2e faults' -count=$(FAULT_COUNT) -v -timeout 120m -run '^$(FAULT)$$' $(E2EFLAGS) ./app/e2e/

# End-to-end suite against real daprd (app/e2e, build tag e2e): mosquitto,
# Azurite / SQLite / Redis, signalr-local, the official SignalR client, two
# replicas. Needs mosquitto, redis-server, Azurite (.bin/azurite) and node.
E2EFLAGS ?=

.PHONY: test-e2e
## test-e2e: the end-to-end suite with daprd $(DAPR_VERSION) from `make tools` (E2EFLAGS='-run TestReplicas' to pick cases)
test-e2e: tools build dashboard azurite
	DAPR_RUNTIME_PATH="$$(DAPR_VERSION='$(DAPR_VERSION)' TOOLS_DIR='$(TOOLS_DIR)' ./.ci/tools.sh --print-path)" \
		$(GO) test -tags e2e -count=1 -v -timeout 30m $(E2EFLAGS) ./app/e2e/
