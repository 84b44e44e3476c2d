# clipfs: make build | test | demo | bench | deps
GO      ?= go
BIN     := bin/clipfs
DEMO    := demo
PY      := /usr/bin/python3

.PHONY: build test unit e2e demo demo-clean bench deps vet

build:
	$(GO) build -o $(BIN) ./cmd/clipfs

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

# deps fails when a package imports against the direction in DESIGN.md:
# cmd -> fs, curate -> index, pack; only index imports Badger; only fs imports
# go-fuse; pack imports no clipfs package; nothing in the default build
# imports gorgonia.org/cu (CUDA files carry the cuda build tag).
deps:
	@$(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | awk ' \
	  function bad(msg) { print "deps: " $$1 " " msg; fail = 1 } \
	  { p = $$1; sub("github.com/clipfs/clipfs/?", "", p); \
	    for (i = 2; i <= NF; i++) { d = $$i; \
	      if (d ~ /dgraph-io\/badger/ && p != "index") bad("imports " d " (only index may)"); \
	      if (d ~ /hanwen\/go-fuse/ && p != "fs" && p !~ /^test/ && p !~ /^bench/) bad("imports " d " (only fs may)"); \
	      if (d ~ /gorgonia.org\/cu/) bad("imports " d " outside the cuda build tag"); \
	      if (p == "index" && d ~ /clipfs\/clipfs\//) bad("imports " d " (index imports no clipfs package)"); \
	      if (p == "pack" && d ~ /clipfs\/clipfs\//) bad("imports " d " (pack imports no clipfs package)"); \
	      if (p == "curate" && d ~ /clipfs\/clipfs\/(fs|cmd)/) bad("imports " d " (curate must not import fs)"); \
	      if (p == "fs" && d ~ /clipfs\/clipfs\/(curate|cmd)/) bad("imports " d " (fs must not import curate)"); \
	    } } END { exit fail }'
	@echo "deps: every import points the way DESIGN.md says"

unit: vet deps
	$(GO) test -race -count=1 ./index/ ./pack/ ./fs/ ./curate/

e2e: build
	$(GO) test -race -count=1 -timeout 20m ./test/

test: vet deps
	$(GO) test -race -count=1 -timeout 30m ./...

demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/mnt
	bash test/make-samples.sh $(DEMO)/videos
	./$(BIN) curate --input $(DEMO)/videos --db $(DEMO)/db --generate-previews || [ $$? -eq 3 ]
	bash test/demo-show.sh $(BIN) $(DEMO)

bench: build
	bash bench/run.sh
