# Thin wrapper around CMake for the README's quick start:
#   make run     install missing packages (as root), build, start anyedge in front of the demo origin
#   make test    install missing packages (as root), build, run every test
#   make test SANITIZE=1   the same, built with AddressSanitizer and UndefinedBehaviorSanitizer
#   make deb     install missing packages (as root), build the Debian package into build-deb/
#   make fuzz    build the libFuzzer targets of t/fuzz with clang into build-fuzz/ and run each for
#                FUZZ_SECONDS (60) from its seed corpus t/fuzz/corpus/NAME/
#   make valgrind   run the request-path tests against the release binary under valgrind

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_FLAGS = -DANYEDGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD_DIR ?= build
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = config cache_control conditional record chunked request_head
# The tests that exercise the request paths, for `make valgrind`.
VALGRIND_TESTS = $(wildcard t/20-*.t t/21-*.t t/30-*.t t/50-*.t t/6[0-9]-*.t t/84-*.t t/86-*.t)

.PHONY: all deps build run test deb clean fuzz valgrind

all: build

deps:
	@sh packaging/install-deps

build: deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@sh etc/demo-run $(BUILD_DIR)/anyedge

test: build
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/t/lsan.supp \
	ANYEDGE_BIN=$(CURDIR)/$(BUILD_DIR)/anyedge prove $(BUILD_DIR)/unit/unit_* t/

# Each target runs FUZZ_SECONDS from its seeds; what it finds that is new goes to build-fuzz/corpus/NAME/,
# a crash, leak or UB report stops it, with the input in build-fuzz/crash-*, leak-*, ...
fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DANYEDGE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-fuzz -j $(JOBS) $(addprefix --target fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	    echo "fuzz_$$t: $(FUZZ_SECONDS)s"; mkdir -p build-fuzz/corpus/$$t; \
	    UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/t/lsan.supp \
	    build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	        build-fuzz/corpus/$$t t/fuzz/corpus/$$t 2>build-fuzz/fuzz_$$t.log \
	        || { tail -n 60 build-fuzz/fuzz_$$t.log; exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|new_units_added)' build-fuzz/fuzz_$$t.log | tr '\n' ' '; echo; \
	done

# The request-path tests against the release binary under valgrind (t/valgrind-anyedge): each
# process's report goes to $(BUILD_DIR)/valgrind/PID.log; any report that is not empty fails.
valgrind: build
	rm -rf $(BUILD_DIR)/valgrind && mkdir -p $(BUILD_DIR)/valgrind
	ANYEDGE_VALGRIND_BIN=$(CURDIR)/$(BUILD_DIR)/anyedge ANYEDGE_VALGRIND_LOGS=$(CURDIR)/$(BUILD_DIR)/valgrind \
	ANYEDGE_BIN=$(CURDIR)/t/valgrind-anyedge prove $(VALGRIND_TESTS)
	@n=$$(ls $(BUILD_DIR)/valgrind | wc -l); bad=$$(find $(BUILD_DIR)/valgrind -name '*.log' -size +0); \
	if [ -n "$$bad" ]; then head -n 80 $$bad; echo "valgrind found errors: $$bad"; exit 1; fi; \
	echo "valgrind: $$n processes, no errors"

deb: deps
	@sh packaging/build-deb

clean:
	rm -rf build build-asan build-deb build-fuzz
