# mailhole -- `make run` and `make test` on a fresh Debian 12 machine.
#
#   make run     install what is missing, build, run `mailhole` (= audit of this host)
#   make test    the same set-up, then every test: plain build, ASan+UBSan build,
#                fuzz targets (short), integration labs, the banned-function check
#   make bench   the side-by-side benchmarks against nmap, masscan and zmap (sweep) and
#                nmap --script ssl-cert (STARTTLS, bench/starttls.sh)
#   make fuzz    the fuzz targets for longer (FUZZ_SECONDS, default 300 each)
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 300
TEST_FUZZ_SECONDS ?= 10

# build and test dependencies (the labs install the MTAs they run themselves)
DEPS = cmake make gcc clang pkg-config libcurl4-openssl-dev libjson-c-dev libpcap-dev \
       libcmocka-dev libssl-dev jq iproute2 procps

.PHONY: all run test deps build asan fuzz-build fuzz bench clean format

all: build

deps:
	@tools/install-deps.sh $(DEPS)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/mailhole

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMH_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DMH_SANITIZE=ON -DMH_FUZZ=ON -DMH_TESTS=OFF \
		-DMH_FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)

test: build asan fuzz-build
	cd $(BUILD) && ctest --output-on-failure -L 'unit|lint|lab'
	cd $(ASAN_BUILD) && ctest --output-on-failure -L 'unit|lab'
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build TEST_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz

bench: build
	bench/run.sh $(BUILD)
	bench/starttls.sh $(BUILD)
	bench/probe_submit.sh $(BUILD)

format:
	clang-format -i scanner/*.c probes/*.c report/*.c include/mailhole/*.h tests/unit/*.c \
		tests/fuzz/*.c tests/lab/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
