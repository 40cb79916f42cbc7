# tests/fuzz/fuzz.mk - libFuzzer targets of aimc's parsers and device (tests/fuzz/fuzz_NAME.c,
# docs/testing.md), included by the top-level Makefile.
#
#   make fuzz [FUZZ_S=N]  build every target and run each for N seconds (default 60), as many
#                         at once as make's -j; new inputs are kept in build/fuzz/work/NAME,
#                         findings go to build/fuzz/crashes/NAME (commit each, after the fix,
#                         to tests/fuzz/crashes/NAME: make test replays them)
#   make fuzz-smoke       every target for FUZZ_SMOKE_S seconds (default 2) and every file of
#                         tests/fuzz/crashes replayed; make test does this when clang exists
#
# The targets are built with clang: -fsanitize=fuzzer,address,undefined. Their seed corpora
# are made from the repository's files by tests/fuzz/seeds.sh into build/fuzz/seed (the
# device's by fuzz_device itself: the valid job it checks, and the model's weights as data).

FUZZ_CC      ?= clang
FUZZ_HAVE    := $(shell command -v $(FUZZ_CC) >/dev/null 2>&1 && echo yes)
FUZZ_S       ?= 60
FUZZ_SMOKE_S ?= 2
FUZZ_NAMES   := config model safetensors plan sweep_spec regs device
FB           := $(B)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(STD) $(WARN) -O1 -g $(INC) -Itools/gen_regs $(FUZZ_SAN) -MMD -MP
# What the parsers and the device need (an archive, so each target links only what it
# calls); the driver without the sysc: and rtl: backends (fuzz_device.c stands in for them).
FUZZ_SRC     := $(wildcard common/*.c mapping/*.c sim/cost/*.c sim/engine/*.c sim/xbar/*.c \
                  sim/device/*.c) tools/sweep_spec.c tools/sweep_metrics.c \
                tools/gen_regs/regs_gen.c driver/driver.c driver/hal_pool.c driver/hal_mock.c \
                driver/hal_uio.c driver/hal/hal_sim.c
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(FB)/obj/%.o)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_SEEDS   := $(wildcard configs/*.yaml configs/sweeps/*.yaml models/*.yaml \
                  models/*.safetensors tests/configs/*/*.yaml tests/models/bad/*.yaml \
                  tests/plans/bad/*.json tests/sweeps/*.yaml) common/aimc_regs.yaml

.PHONY: fuzz fuzz-build fuzz-smoke $(FUZZ_NAMES:%=fuzz-run-%)

$(FB)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC fuzz $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FB)/libfuzz.a: $(FUZZ_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(FB)/libfuzz.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD fuzz $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FB)/libfuzz.a -lyaml -lcjson \
	    -lopenblas -lm -lpthread

$(FB)/seed/.stamp: tests/fuzz/seeds.sh $(B)/aimc $(FB)/fuzz_device $(FUZZ_SEEDS)
	$(Q)tests/fuzz/seeds.sh $(B)/aimc $(FB)/seed >/dev/null && touch $@

fuzz-build: $(FUZZ_BINS) $(FB)/seed/.stamp

ifeq ($(FUZZ_HAVE),yes)
fuzz: $(FUZZ_NAMES:%=fuzz-run-%)

$(FUZZ_NAMES:%=fuzz-run-%): fuzz-run-%: $(FB)/fuzz_% $(FB)/seed/.stamp
	$(Q)tests/fuzz/run.sh fuzz $* $(FUZZ_S)

fuzz-smoke: fuzz-build
	$(Q)tests/fuzz/run.sh smoke $(FUZZ_SMOKE_S)

# make test runs the smoke step (scripts/test-all.sh) on targets built beforehand.
test: fuzz-build
else
fuzz fuzz-smoke:
	@echo "$(FUZZ_CC) not found: the fuzz targets need clang with libFuzzer (scripts/deps.sh)"
	@false
endif

-include $(FUZZ_OBJ:.o=.d)
