# clipfs: make demo | test | build | bench | deps | install
# demo and test first run scripts/install.sh, which installs only what is
# missing (the same script .ci/run uses); build assumes it has run.
GO      ?= go
BIN     := bin/clipfs
DEMO    := demo
PY      := /usr/bin/python3

.PHONY: build test unit e2e demo demo-clean bench deps vet cuda-compiles install install-demo

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/clipfs

# install: everything make test needs; install-demo: what make demo needs.
install:
	@bash scripts/install.sh test

install-demo:
	@bash scripts/install.sh demo

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

# deps fails when a package imports against the direction in docs/design.md:
# scripts/deps.sh holds the table of what each package may import.
deps:
	@GO=$(GO) bash scripts/deps.sh

unit: vet deps
	$(GO) test -race -count=1 ./index/ ./pack/ ./fs/... ./curate/

e2e: build
	$(GO) test -race -count=1 -timeout 20m ./test/

test: install
	@$(MAKE) --no-print-directory vet deps cuda-compiles
	$(GO) test -race -count=1 -timeout 30m ./...

# cuda-compiles builds the CUDA path (make check-cuda build-cuda) where
# CUDA's headers are installed; without them it says so and goes on, except
# in CI (CI set), which must compile it.
cuda-compiles:
	@if [ -f "$(CUDA_INCLUDE)/cuda.h" ] && [ -f "$(CUDA_INCLUDE)/cublas_v2.h" ]; then \
		$(MAKE) --no-print-directory check-cuda build-cuda; \
	elif [ -n "$$CI" ]; then \
		echo "cuda-compiles: $(CUDA_INCLUDE)/cuda.h or cublas_v2.h missing; CI must compile the CUDA path (apt-get install nvidia-cuda-dev)"; exit 1; \
	else \
		echo "cuda-compiles: skipped, no CUDA headers in $(CUDA_INCLUDE) (apt-get install nvidia-cuda-dev from non-free)"; \
	fi

demo: install-demo
	@$(MAKE) --no-print-directory build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/mnt
	bash test/make-samples.sh $(DEMO)/videos
	./$(BIN) curate --input $(DEMO)/videos --db $(DEMO)/db --generate-previews || [ $$? -eq 3 ]
	bash test/demo-show.sh $(BIN) $(DEMO)

bench: build
	bash bench/run.sh

# CUDA (optional; nothing above needs it). build-cuda and check-cuda need
# cuda.h (CUDA_INCLUDE) and a libcuda.so to link, the toolkit's stub is
# enough (CUDA_STUBS); Debian's nvidia-cuda-dev puts both under /usr. ptx
# needs nvcc (Debian's nvidia-cuda-toolkit) and regenerates the committed
# curate/vit/kernels/kernels.ptx; the Go build itself needs no nvcc.
# check-cuda compiles the cuda tests into bin/vit-cuda.test without running
# them (gorgonia.org/cu's init exits the process where no GPU driver is):
# carry that binary to a GPU machine and run it there.
CUDA_INCLUDE ?= /usr/include
CUDA_STUBS   ?= /usr/lib/x86_64-linux-gnu/stubs
NVCC         ?= nvcc
CUDA_ENV      = CGO_ENABLED=1 CGO_CFLAGS="-I$(CUDA_INCLUDE)" CGO_LDFLAGS="-L$(CUDA_STUBS)"

.PHONY: ptx build-cuda check-cuda

ptx:
	$(NVCC) -arch=compute_70 --ptx -O3 -o curate/vit/kernels/kernels.ptx curate/vit/kernels/kernels.cu

build-cuda:
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/clipfs-cuda ./cmd/clipfs

check-cuda:
	$(CUDA_ENV) $(GO) vet -tags cuda ./curate/vit/ ./bench/vitbench/
	$(CUDA_ENV) $(GO) test -tags cuda -count=1 -c -o bin/vit-cuda.test ./curate/vit/
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/vitbench ./bench/vitbench/
