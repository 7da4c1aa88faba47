# tunneltap - top-level wrapper around CMake. `make run`, `make test`.
BUILD      ?= build
JOBS       ?= 2
CMAKE_ARGS ?=
SAMPLE     ?= captures/upgrade-udp-synack-v4-raw.pcap

.PHONY: all deps deps-test build run test test-release test-asan test-tsan test-clang test-portable test-fuzz test-aarch64 format format-check clean

all: build

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_WERROR=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

MARKER     ?= $(SAMPLE:-raw.pcap=.marker)

run: build
	@m=$$(cat $(MARKER)); when=$${m%% *}; label=$${m#* }; \
	echo "== tunneltap replay $(SAMPLE) --mark \"$$when=$$label\""; \
	$(BUILD)/tunneltap replay $(SAMPLE) --mark "$$when=$$label" \
	  --conn-log $(BUILD)/conn.log --json $(BUILD)/conn.json --alerts $(BUILD)/alerts.jsonl \
	  --evidence $(BUILD)/evidence.pcapng --report $(BUILD)/report.html
	@echo "== conn.log: $(BUILD)/conn.log  JSON: $(BUILD)/conn.json  alerts: $(BUILD)/alerts.jsonl"
	@echo "== evidence: $(BUILD)/evidence.pcapng  report: $(BUILD)/report.html"

# Everything: release suite, ASan+UBSan suite, TSan ring/tap tests, the clang
# build and suite, the build as on Apple's platforms and its suite, format,
# fuzz smoke, and the aarch64 build and suite under qemu-user.
test: deps-test format-check test-release test-asan test-tsan test-clang test-portable test-fuzz test-aarch64
	@echo "make test: all suites passed"

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer (a Debug
# build), then that build's outputs on every capture compared with the release
# build's (tests/compare_outputs.sh: a sanitizer report on stderr is a
# difference too).
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: build
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DTT_WERROR=ON -DTT_SANITIZE=address >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) -LE 'slow|netns|model'
	$(ASAN_ENV) tests/compare_outputs.sh $(BUILD)/tunneltap $(BUILD)-asan/tunneltap $(BUILD)-asan/compare

test-tsan: deps
	cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=Debug -DTT_WERROR=ON -DTT_SANITIZE=thread >/dev/null
	cmake --build $(BUILD)-tsan -j $(JOBS)
	cd $(BUILD)-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L tsan

# Clang, the compiler of Apple's and Android's toolchains: the project built
# with -Werror (the public headers as C++ by clang++ too: tests/headers.cmake)
# and the suite run, less the namespace tests and the model check, which the
# release suite runs; then its outputs on every capture compared with the GCC
# build's (tests/compare_outputs.sh).
test-clang: build
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_WERROR=ON >/dev/null
	cmake --build $(BUILD)-clang -j $(JOBS)
	cd $(BUILD)-clang && ctest --output-on-failure -j $(JOBS) -LE 'slow|netns|model'
	tests/compare_outputs.sh $(BUILD)/tunneltap $(BUILD)-clang/tunneltap $(BUILD)-clang/compare

# Apple's platforms, as near as Linux gets: analyze/ and ring/ built by clang
# with TT_PORTABLE (ring/platform.h's fallbacks for futex, membarrier,
# pthread_condattr_setclock and mallinfo2; no GNU extensions; the POSIX calls
# Apple lacks made errors by tests/portable_gaps.h), the suite run on that
# build, its outputs compared with the GCC build's, then its ring and tap tests
# under ThreadSanitizer.
test-portable: build
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-portable -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_WERROR=ON -DTT_PORTABLE=ON >/dev/null
	cmake --build $(BUILD)-portable -j $(JOBS)
	cd $(BUILD)-portable && ctest --output-on-failure -j $(JOBS) -LE 'slow|netns|model'
	tests/compare_outputs.sh $(BUILD)/tunneltap $(BUILD)-portable/tunneltap $(BUILD)-portable/compare
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-portable-tsan -DCMAKE_BUILD_TYPE=Debug -DTT_WERROR=ON -DTT_PORTABLE=ON -DTT_SANITIZE=thread >/dev/null
	cmake --build $(BUILD)-portable-tsan -j $(JOBS)
	cd $(BUILD)-portable-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L tsan

# Fuzz smoke: each libFuzzer target for 20 s, two at a time (bench/fuzz.sh).
test-fuzz: deps
	bench/fuzz.sh 20

# 64-bit ARM: cross-built with -Werror, the suite run under qemu-user
# (tests/cross_aarch64.sh says what that can and cannot check).
test-aarch64: deps
	tests/cross_aarch64.sh

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)

format-check: deps
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "clang-format: clean"

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-clang $(BUILD)-portable $(BUILD)-portable-tsan build-aarch64
