# rtcmesh: build, run and test.
#
#   make test   every test: vet, unit and integration tests under -race,
#               Node socket.io-client and Chromium tests, short fuzz runs.
#   make run    the all-in-one development mode on :3001.

GO       ?= go
NODE_DIR := test/node
BENCH_REF_DIR := bench/reference
# Fuzz budgets are execution counts, not durations: Go 1.26's fuzz
# coordinator can report a spurious "context deadline exceeded" when a
# duration budget expires (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 50000x

# Fuzz targets run briefly by `make test` (package:Target).
FUZZ_TARGETS := \
	./gateway/eio:FuzzDecodePayload \
	./gateway/eio:FuzzDecodeText \
	./gateway/eio:FuzzClientAddr \
	./gateway/sio:FuzzDecode \
	./shared:FuzzRoomKey \
	./shared:FuzzParseBeat \
	./gateway:FuzzParseObject \
	./gateway/auth:FuzzMiddleware

.PHONY: test deps node-deps bench-deps chromium vet unit fuzz build run bench

test: deps vet unit fuzz

deps: node-deps bench-deps chromium

# npm ci only when package.json or the lock file changed.
node-deps: $(NODE_DIR)/node_modules/.package-lock.json
$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: Node 20 and npm are required for the tests" >&2; exit 1; }
	cd $(NODE_DIR) && npm ci --no-audit --no-fund

# The Node reference server that benchmarks compare against (bench/reference).
bench-deps: $(BENCH_REF_DIR)/node_modules/.package-lock.json
$(BENCH_REF_DIR)/node_modules/.package-lock.json: $(BENCH_REF_DIR)/package.json $(BENCH_REF_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: Node 20 and npm are required for the tests" >&2; exit 1; }
	cd $(BENCH_REF_DIR) && npm ci --no-audit --no-fund

chromium:
	@./scripts/ensure-chromium.sh

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 25m ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

build:
	$(GO) build -o bin/rtcmesh ./cmd/rtcmesh

run:
	$(GO) run ./cmd/rtcmesh dev

# Every benchmark scenario against dev, split (1 and 2 gateways) and the
# Node reference, then docs/benchmarks.md and its charts (about 20 minutes;
# not part of test). Holds the machine-wide lock /tmp/rtcmesh-bench.lock.
bench:
	$(GO) run ./bench/suite -out docs/benchmarks.md -charts docs/bench
