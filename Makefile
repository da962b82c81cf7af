# sg-remediation: `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
EVENT ?= events/web-ssh-rdp.json
FUZZTIME ?= 10s
# Reproducible zip: fixed mtime for every entry.
SOURCE_DATE_EPOCH ?= 315532800

.PHONY: help build package test race vet fmt fmt-check bench fuzz replay emulator deploy tf-check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the binary for this machine into bin/sg-remediation
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/sg-remediation ./function

package: ## build dist/function.zip (linux/amd64 `main` at the zip root, runtime go1)
	@mkdir -p dist/pkg
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w -buildid=' -o dist/pkg/main ./function
	@touch -d @$(SOURCE_DATE_EPOCH) dist/pkg/main
	@rm -f dist/function.zip
	cd dist/pkg && TZ=UTC zip -q -X -D ../function.zip main
	@ls -l dist/function.zip

test: vet fmt-check ## vet, gofmt check and all tests with the race detector
	$(GO) test -race -count=1 ./...

vet: ## go vet
	$(GO) vet ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

bench: ## benchmarks: selection, per-call CPU, the 500-group event, cold start, RSS
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## a short run of every fuzz target (FUZZTIME each)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEvent$$' -fuzztime $(FUZZTIME) ./remediation
	$(GO) test -run '^$$' -fuzz '^FuzzParsePortRange$$' -fuzztime $(FUZZTIME) ./remediation
	$(GO) test -run '^$$' -fuzz '^FuzzParsePorts$$' -fuzztime $(FUZZTIME) ./remediation
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEvaluation$$' -fuzztime $(FUZZTIME) ./remediation
	$(GO) test -run '^$$' -fuzz '^FuzzRedact$$' -fuzztime $(FUZZTIME) ./remediation/notify

replay: build ## replay the sample event offline against the built-in emulator (EVENT=...)
	@bin/sg-remediation replay $(EVENT)

emulator: build ## serve the built-in emulator as a local cloud (see README: try everything offline)
	@bin/sg-remediation emulator

deploy: package ## build the zip, then terraform apply the module
	terraform -chdir=terraform init -input=false
	terraform -chdir=terraform apply

tf-check: ## terraform fmt/init/validate/test, offline (first run: ~6-14 min, see README)
	bash terraform/tf-check.sh

clean: ## remove build outputs
	rm -rf bin dist
