# dnsfault: `make run` starts the server on its embedded demo scenario;
# `make test` installs what the tests need (when it can) and runs them all.

GO      ?= go
BIN     ?= bin/dnsfault
LISTEN  ?= 127.0.0.1:1053
CONTROL ?= 127.0.0.1:8053

FUZZTIME ?= 60s

SOAK_SECONDS ?= 60
SOAK_QPS ?= 2000

.PHONY: build run test test-tools lint fuzz soak bench image clean

# -buildvcs=auto: the binary says the commit it was built from (dnsfault
# --version), whatever GOFLAGS says, in a git checkout.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/dnsfault

# The container image (Containerfile): a static binary, no base image to
# pull, with podman or docker, whichever is there.
IMAGE ?= dnsfault:dev
image:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -o bin/dnsfault-static ./cmd/dnsfault
	@engine=$$(command -v podman || command -v docker) || { echo "make image needs podman or docker (apt-get install -y podman runc)"; exit 1; }; \
	$$engine build -f Containerfile -t $(IMAGE) .

run: build
	./$(BIN) serve -s demo --listen $(LISTEN) --control $(CONTROL)

# The end-to-end tests query the binary with dig and kdig; test-tools
# installs them on a Debian machine where we are root, and otherwise says
# which tests will be skipped.
test: test-tools
	$(GO) vet ./...
	$(GO) test -race -count=1 -parallel 8 ./...
	cd examples/aws-sdk && $(GO) vet ./... && $(GO) test -count=1 ./...

test-tools:
	@bash .ci/install-test-tools

# Each fuzz target runs for FUZZTIME; CI runs them for 20s each.
# .ci/fuzz-target tells Go 1.26's end-of-fuzztime race from a finding.
fuzz:
	GO=$(GO) bash .ci/fuzz-target FuzzUDP injector $(FUZZTIME)
	GO=$(GO) bash .ci/fuzz-target FuzzTCP injector $(FUZZTIME)
	GO=$(GO) bash .ci/fuzz-target FuzzParse scenarios $(FUZZTIME)
	GO=$(GO) bash .ci/fuzz-target FuzzRecord scenarios $(FUZZTIME)

# dnsperf at SOAK_QPS for SOAK_SECONDS against every action; it checks
# errors, goroutines, open files and memory before and after.
soak:
	@command -v dnsperf >/dev/null || (apt-get update -qq && apt-get install -y -qq dnsperf >/dev/null)
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_QPS=$(SOAK_QPS) $(GO) test -tags soak -run '^TestSoak$$' -count=1 -v -timeout 30m ./cmd/dnsfault/

# dnsperf against dnsfault, a bare miekg/dns server, dnsmasq and unbound;
# writes BENCHMARKS.md. Takes about six minutes. BENCH_FLAGS="-before OLD_BINARY"
# adds each dnsfault configuration run by an earlier build, for a before/after.
bench:
	@command -v dnsperf >/dev/null && command -v dnsmasq >/dev/null && command -v unbound >/dev/null && command -v taskset >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends dnsperf dnsmasq-base unbound util-linux >/dev/null)
	$(GO) run ./bench $(BENCH_FLAGS)

# staticcheck is built from the Go module proxy at a fixed version (the
# build cache keeps it for the next run).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
