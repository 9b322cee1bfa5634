# br2k: the two commands of the README.
#   make demo   set up, build, run `br2k up` (the main job)
#   make test   set up, build, run every test tier that can run here
# Everything else is a building block of those two.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
JOBS       ?= 2
# CI sets CI=true: warnings become errors there.
WERROR     := $(if $(CI),ON,OFF)
CTEST_ARGS ?=

.PHONY: all setup configure build fuzz-build demo test test-unit test-integration bench format clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup fuzz-build
	@cmake -S . -B $(BUILD) -DBR2K_SKIP_AREAS= -DBR2K_WERROR=$(WERROR) -DBR2K_FUZZ_BIN_DIR=$(CURDIR)/$(FUZZ_BUILD)/bin >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

fuzz-build: setup
	@CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) -DBR2K_FUZZ=ON -DBR2K_TESTS=OFF \
	  -DBR2K_BENCH=OFF -DBR2K_SKIP_AREAS= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBR2K_WERROR=$(WERROR) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)

demo: build
	@$(BUILD)/bin/br2k up

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

test-integration: build
	@cd $(BUILD) && ctest --output-on-failure -L integration

bench: build
	@$(BUILD)/bin/br2k-bench-etcd

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
