# healthd: make run serves /ht/ with configs/healthd.yaml; make test sets up
# the real servers the tests need and runs every test under the race detector.
GO      ?= go
BIN     := bin/healthd
LDFLAGS := -s -w
CONFIG  ?= configs/healthd.yaml
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0

.PHONY: build run test test-busy test-setup lint vet fmt-check bench bench-scale soak fuzz screenshots clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/healthd

run: build
	./$(BIN) serve --config $(CONFIG)

test-setup:
	./scripts/test-setup.sh

test: test-setup
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...

# test-busy runs make test BUSY_RUNS times in a row with two CPU-bound
# processes beside it (stress-ng, from Debian's package): the suite must hold
# on a busy machine. See docs/reliability.md.
BUSY_RUNS ?= 3

test-busy:
	@command -v stress-ng >/dev/null || { echo "test-busy: stress-ng is missing (apt-get install stress-ng)" >&2; exit 1; }
	@stress-ng --cpu 2 --quiet & stress=$$!; rc=0; \
	for i in $$(seq $(BUSY_RUNS)); do \
		echo "== make test $$i of $(BUSY_RUNS), beside stress-ng --cpu 2"; \
		$(MAKE) --no-print-directory test || { rc=$$?; break; }; \
	done; \
	kill $$stress; exit $$rc

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: vet fmt-check
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(GOVULNCHECK) $(if $(GOVULNDB),-db $(GOVULNDB)) ./...

# make bench and make soak are measurements, not tests: they start healthd
# against the machine's servers (set up as for make test) and write their
# figures to docs/benchmarks.md. See docs/benchmarks.md.
BENCH_DURATION ?= 10s
SOAK_DURATION  ?= 60s
SCALE_FLAGS    ?=

bench: build test-setup
	$(GO) build -o bin/healthd-bench ./cmd/healthd-bench
	./bin/healthd-bench bench -healthd $(BIN) -out docs/benchmarks.md -duration $(BENCH_DURATION)
	./bin/healthd-bench scale -healthd $(BIN) -out docs/benchmarks.md $(SCALE_FLAGS)

# bench-scale is make bench's 1,000-check run alone (about a minute and a half).
# SCALE_FLAGS="-interval 1s -wait 150s" runs the checks 4x less often.
bench-scale: build test-setup
	$(GO) build -o bin/healthd-bench ./cmd/healthd-bench
	./bin/healthd-bench scale -healthd $(BIN) -out docs/benchmarks.md -command "make bench-scale" $(SCALE_FLAGS)

soak: build test-setup
	$(GO) build -o bin/healthd-bench ./cmd/healthd-bench
	./bin/healthd-bench soak -healthd $(BIN) -out docs/benchmarks.md -duration $(SOAK_DURATION)

# Refresh the dashboard screenshots in docs/ (README shows them).
screenshots: test-setup
	HEALTHD_SCREENSHOTS=1 $(GO) test -count=1 -run TestDashboard_InChromium ./internal/server/

clean:
	rm -rf bin

# fuzz runs each fuzz target for FUZZTIME (make test runs their seed corpora
# in testdata/fuzz/ as ordinary tests). A failure writes its input to
# testdata/fuzz/<FuzzName>/: commit it with the fix.
FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzNegotiate:./internal/server FuzzServeQuery:./internal/server FuzzParse:./internal/config

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
