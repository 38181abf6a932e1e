# dnsfault: `make run` starts the server on its embedded demo scenario;
# `make test` installs what the tests need (when it can) and runs them all.

GO     ?= go
BIN    ?= bin/dnsfault
LISTEN ?= 127.0.0.1:1053

.PHONY: build run test test-tools lint clean

build:
	$(GO) build -o $(BIN) ./cmd/dnsfault

run:
	$(GO) run ./cmd/dnsfault serve -s demo --listen $(LISTEN)

# The end-to-end tests query the binary with dig and kdig; test-tools
# installs them on a Debian machine where we are root, and otherwise says
# which tests will be skipped.
test: test-tools
	$(GO) vet ./...
	$(GO) test -race -count=1 -parallel 8 ./...

test-tools:
	@bash .ci/install-test-tools

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
