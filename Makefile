# strait — the targets the README, CI and the Dockerfile use.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build strait test test-deps fuzz demo bench vet clean

# strait alone: a static binary (the Dockerfile builds this).
strait:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/strait ./cmd/strait

build: strait
	$(GO) build -o bin/demo-backend ./examples/backend
	$(GO) build -o bin/loadgen ./examples/loadgen

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above"; exit 1)
	$(GO) vet ./...

# What the tests need beside Go: Debian's chromium for the status-page
# browser test (installed with apt-get when missing), and etcd and
# kube-apiserver for the Kubernetes discovery tests (built once through the
# Go module proxy, cached in $STRAIT_BIN_CACHE or ~/.cache/strait/bin).
test-deps:
	./hack/install-chromium.sh
	./hack/k8s-binaries.sh
	./hack/go-tools.sh

test: vet test-deps
	$(GO) test -race -timeout 30m ./...

# Brief runs of the relay's fuzz targets (frames, header blocks, message
# limits, the header block memo); their seed corpora also run in every
# `go test`. The budget is a count of executions, not a duration: Go
# 1.26's fuzz coordinator can fail a clean run with "context deadline
# exceeded" when a -fuzztime duration ends while a worker is mid-input
# (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 200000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzClientFrames$$' -fuzztime $(FUZZTIME) ./proxy/h2relay
	$(GO) test -run '^$$' -fuzz '^FuzzHeaderBlock$$' -fuzztime $(FUZZTIME) ./proxy/h2relay
	$(GO) test -run '^$$' -fuzz '^FuzzMsgLimit$$' -fuzztime $(FUZZTIME) ./proxy/h2relay
	$(GO) test -run '^$$' -fuzz '^FuzzBlockMemo$$' -fuzztime $(FUZZTIME) ./proxy/h2relay
	$(GO) test -run '^$$' -fuzz '^FuzzLegQueue$$' -fuzztime $(FUZZTIME) ./proxy/h2relay

demo: build
	./examples/demo.sh

bench: build
	./bench/run.sh

clean:
	rm -rf bin
