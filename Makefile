# tune — make help lists the targets.
SHELL   := /bin/bash
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 10s
# The packages with tests tagged e2e, one at a time: each starts its own control plane.
E2E_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^//go:build e2e' .)))

.PHONY: help build deps test lint e2e-build e2e bench bench-quick bench-load bench-model calibrate fuzz run clean report-shots

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/tune with the version stamped
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/tune ./cmd/tune

deps: ## install what the tests need beyond Go when it is missing (Chromium, Locust: Debian packages)
	@for f in .ci/install-*.sh; do bash "$$f"; done

test: deps ## run every test with the race detector (the README's test command)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...
	$(GO) test -count=1 ./loader/...  # the raw socket path tune load ships with (off under -race)

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

e2e-build: ## build etcd, kube-apiserver, -controller-manager, -scheduler, kwok for e2e (cached; cold ~6 min)
	e2e/build.sh

e2e: e2e-build ## every test, plus those tagged e2e against a real control plane (internal/testcluster)
	$(GO) vet -tags e2e ./...
	TUNE_E2E_BIN=$$(e2e/build.sh --print-bin-dir) $(GO) test -count=1 -tags e2e -p 1 -timeout 30m $(E2E_PKGS)

bench: ## search benchmark: trials, load-seconds and cluster time to 95% of each case's true optimum, every case and its perturbed variants, 5 samplers, 10 seeds, 60 trials: about 3 h on a shared 2-core machine (0.23 s a trial at -jobs 2), plus ~10 min per case without a recorded optimum; BENCH_ARGS='-seeds 20' doubles it
	$(GO) run ./tools/benchsearch -json tune-out/bench-search.json $(BENCH_ARGS)

bench-quick: ## the search benchmark CI-sized: 4 cases (one of today's topology), guided (with and without screening) vs random, 5 seeds, 40 trials (a few minutes)
	$(GO) run ./tools/benchsearch -quick -json tune-out/bench-search-quick.json

bench-load: ## streams per client CPU-second (tune load vs Locust; events flushed one by one as Dify does) and p50 accuracy
	$(GO) run ./tools/benchload

bench-model: ## CPU time of one simulated trial (go test -bench)
	$(GO) test -run '^$$' -bench . -benchmem ./deployer/sim

calibrate: ## rewrite the calibration tables in deployer/sim/MODEL.md (the case study's and the Enterprise benchmark's)
	$(GO) test ./deployer/sim -run TestCalibrationTable -update

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

report-shots: ## screenshots of a study's report.html and a tune load --html page in headless Chromium (docs/report-*.png)
	TUNE_REPORT_SHOTS=$(CURDIR)/docs $(GO) test -count=1 -run 'TestStudyReportInBrowser|TestLoadReportInBrowser' ./report

run: build ## a 40-trial study on the embedded model at 16c32g
	./bin/tune --budget 16c32g --space spaces/default.yaml --trials 40 --seed 1

clean: ## remove build output and study folders
	rm -rf bin tune-out
