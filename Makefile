# Makefile - the two commands of the quick start, and a few more.
#
#   make run     install dependencies, build, run the main job (writes out/)
#   make test    install dependencies, build, run the whole test suite
#
# Everything real lives in CMake; this file only strings the steps together.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME  ?= 60
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
OPCOST      = $(BUILD)/opcost

.PHONY: all bootstrap configure build run test test-sanitize fuzz bench format clean help

all: build

help:
	@sed -n '2,7p' Makefile | sed 's/^# \{0,1\}//'

bootstrap:
	@scripts/bootstrap

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

configure: bootstrap $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	scripts/main-job $(OPCOST) out

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 900

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: bootstrap
	cmake -S . -B $(ASAN_BUILD) -DOPCOST_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --timeout 1800

# libFuzzer on every parser (tests/fuzz), FUZZ_TIME seconds each, with clang;
# new inputs go to $(FUZZ_BUILD)/corpus, crashes to $(FUZZ_BUILD)/crashes.
fuzz:
	@scripts/bootstrap --fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DOPCOST_FUZZ=ON -DOPCOST_WITH_OPENCL=OFF \
	  -DOPCOST_WITH_VULKAN=OFF -DOPCOST_WITH_REMOTE=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	scripts/fuzz $(FUZZ_BUILD) $(FUZZ_TIME)

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target all
	@ls $(BUILD)/bench 2>/dev/null || echo "no benches built"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
