# The same targets run locally and in CI (.ci/run calls `make lint test`).
GO ?= go
PKGS := ./...

.PHONY: run build test test-js lint fuzz bench clean

## run: start the gateway on 127.0.0.1:8080 with the embedded store in ./data (user ditto/ditto)
run:
	$(GO) run ./cmd/twinway

## build: build the gateway binary into bin/
build:
	$(GO) build -o bin/twinway ./cmd/twinway

## test: every test, with the race detector
test:
	$(GO) mod download
	$(GO) test -race -count=1 $(PKGS)

## test-js: Eclipse Ditto's JavaScript client against a fresh gateway (needs node and npm)
test-js:
	./e2e/jsclient/run.sh

## lint: go vet and a gofmt check
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## fuzz: run each fuzz target for a short while (FUZZTIME, default 20s)
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeEnvelope -fuzztime $(FUZZTIME) ./protocol
	$(GO) test -run '^$$' -fuzz FuzzParseTopic -fuzztime $(FUZZTIME) ./protocol
	$(GO) test -run '^$$' -fuzz FuzzParsePointer -fuzztime $(FUZZTIME) ./protocol
	$(GO) test -run '^$$' -fuzz FuzzParseFieldSelector -fuzztime $(FUZZTIME) ./protocol
	$(GO) test -run '^$$' -fuzz FuzzParseFilter -fuzztime $(FUZZTIME) ./rql
	$(GO) test -run '^$$' -fuzz FuzzParseOptions -fuzztime $(FUZZTIME) ./rql

## bench: the standard load set against a fresh gateway on a random port (under 2 minutes; see BENCHMARKS.md)
bench:
	./scripts/bench.sh

clean:
	rm -rf bin data
