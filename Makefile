# wsinspect: the two entry points are `make run` and `make test`; both install
# their dependencies first (Debian 12 packages, scripts/setup-deps.sh).
JOBS ?= $(shell nproc)
# The fuzzers' total time, shared evenly among the targets (scripts/run-fuzzers.sh):
# a new target shortens each share, not make test.
FUZZ_SECONDS ?= 240

.PHONY: all deps build run demo benchmark format-check test test-release test-asan fuzz bench format clean

all: build

deps:
	./scripts/setup-deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	cmake --build build -j$(JOBS) --target wsinspect

LISTEN ?= 127.0.0.1:8080

# The main job: the proxy in front of its built-in echo server. Point a
# WebSocket client at the URL it prints; Ctrl-C stops it.
run: build
	./build/wsinspect proxy --listen $(LISTEN) --upstream builtin:echo

demo: build
	./build/wsinspect demo

# Every test: the suite in a Release build (warnings are errors), again under
# ASan+UBSan, then the fuzzers for FUZZ_SECONDS in all.
test: deps format-check test-release test-asan fuzz

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.h')

test-release:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWSI_WERROR=ON
	cmake --build build -j$(JOBS)
	cd build && ctest --output-on-failure -j$(JOBS)

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Asan -DWSI_WERROR=ON -DWSI_BENCH=OFF
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS)

fuzz:
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DWSI_FUZZ=ON \
	  -DWSI_TESTS=OFF -DWSI_BENCH=OFF
	cmake --build build-fuzz -j$(JOBS)
	./scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

# Parser throughput beside memcpy (the targets of the inspection core).
bench: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	cmake --build build -j$(JOBS) --target parser_bench
	./build/bench/parser_bench

# The proxy side by side with a direct connection and an HAProxy TCP tunnel
# (BENCHMARKS.md). ROUNDS=1 QUICK=1 for a short run.
ROUNDS ?= 3
benchmark: deps
	command -v haproxy >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy)
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	cmake --build build -j$(JOBS) --target wsinspect wsload
	ulimit -n 20000 && /usr/bin/python3 bench/compare.py --build build --rounds $(ROUNDS) $(if $(QUICK),--quick)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-asan build-fuzz
