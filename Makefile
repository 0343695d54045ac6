# Enviromon. `make run` starts the product with embedded components; `make
# test` runs everything that passes on a fresh machine.
GO        ?= go
ADDR      ?= 127.0.0.1:8080
DEVICES   ?= 3
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
TESTFLAGS ?= -race -timeout 20m

.PHONY: run build test test-unit fuzz bench vet clean

## run: the app in embedded mode (SQLite, embedded MQTT broker, a simulator of $(DEVICES) devices)
run:
	@mkdir -p data
	$(GO) run ./app/cmd/enviromon -addr $(ADDR) -simulate $(DEVICES)

## build: binaries into .bin/
build:
	$(GO) build -o .bin/ ./app/cmd/...

## test: vet, every test with the race detector, and a short fuzz run
test: vet test-unit fuzz

vet:
	$(GO) vet ./...

test-unit:
	$(GO) test $(TESTFLAGS) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./app/telemetry/

## bench: benchmarks, 6 runs each so medians can be compared (benchstat)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 -benchtime $(BENCHTIME) ./... | tee bench.out

clean:
	rm -rf .bin data bench.out
