# Thin wrapper around CMake for the README's quick start:
#   make run     install missing packages (as root), build, start anyedge in front of the demo origin
#   make test    install missing packages (as root), build, run every test
#   make test SANITIZE=1   the same, built with AddressSanitizer and UndefinedBehaviorSanitizer
#   make deb     install missing packages (as root), build the Debian package into build-deb/

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_FLAGS = -DANYEDGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD_DIR ?= build
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
JOBS ?= $(shell nproc)

.PHONY: all deps build run test deb clean

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

deb: deps
	@sh packaging/build-deb

clean:
	rm -rf build build-asan build-deb
