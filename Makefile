# Makefile - the whole aimc build, non-recursive.
#
#   make            build build/aimc (installs missing Debian packages first: scripts/deps.sh)
#   make run        map, program and run the default model on the default machine
#   make test       the whole suite: unit tests, the same under ASan+UBSan, CLI checks
#   make bench      every benchmark; make bench-NAME runs bench/NAME
#   make rtl        verilate rtl/*.sv (docs/rtl.md); make lint-rtl: verilator -Wall, lint only;
#                   make synth: Yosys on the control path (cells, flip-flops, SRAMs)
#   make install    PREFIX=/usr/local DESTDIR=: the command, libaimc.so/.a, headers, aimc.pc,
#                   presets, models, man pages (make uninstall removes them)
#   make python     the Python package in place: PYTHONPATH=python python3 -c 'import aimc'
#   make clean
#
# V=1 shows the commands. Objects go to build/ (normal) and build/san/ (sanitizers).

CC      ?= cc
STD     := -std=c11 -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
OPT     ?= -O2
DEBUG   ?= -g
# Layers (docs/architecture.md, "Layers"): each folder compiles with the include paths of
# itself and of the layers it may use, so that including a header of a layer above it fails.
L_common  := common
L_cost    := $(L_common) sim/cost
L_engine  := $(L_common) sim/engine
L_xbar    := $(L_common) sim/xbar
L_device  := $(L_common) sim/cost sim/engine sim/xbar sim/device
L_sysc    := $(L_device) sim/sysc
L_mapping := $(L_common) sim/cost mapping
L_driver  := $(L_common) driver
L_hal     := $(L_driver) sim/device sim/sysc rtl driver/hal
L_runtime := $(L_driver) $(L_mapping) driver/runtime
L_rtl     := $(L_device) rtl
L_all     := $(sort $(L_device) $(L_sysc) $(L_mapping) $(L_hal) $(L_runtime) $(L_rtl) tools)
INC     = $(addprefix -I,$(L_all))
FINAL_CFLAGS = $(STD) $(WARN) $(OPT) $(DEBUG) $(INC) -MMD -MP $(CFLAGS)
LIBS    := -lyaml -lcjson -lopenblas -lm -lpthread -lsystemc -lz -latomic -lstdc++
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The normal build's objects make both libaimc.a and libaimc.so: position-independent, and
# every function hidden unless an installed header declares it (common/aimc_api.h).
PIC     := -fPIC -fvisibility=hidden -fno-semantic-interposition

ifeq ($(V),1)
Q :=
else
Q := @
endif

B  := build
BS := build/san

# scripts/deps.sh runs before the rest of this file is read: make remakes this included
# stamp first and then reads the Makefile again, so that what it detects ($(MPICC) below)
# sees the packages deps.sh just installed on a fresh machine.
-include $(B)/deps.mk
$(B)/deps.mk: scripts/deps.sh
	@mkdir -p $(B)
	$(Q)scripts/deps.sh
	@echo '# scripts/deps.sh ran: every Debian package aimc needs is installed' > $@

LIB_DIRS  := common sim/cost sim/engine sim/xbar sim/device mapping driver driver/hal \
             driver/runtime
LIB_SRC   := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
CLI_SRC   := $(filter-out tools/sweep_mpi.c tools/sweep_nompi.c,$(wildcard tools/*.c))
TEST_SRC  := $(wildcard tests/*.c tests/conformance/*.c) tools/gen_regs/regs_gen.c
BENCH_DIRS := $(patsubst bench/%/,%,$(dir $(wildcard bench/*/main.c)))

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/obj/%.o)
SLIB_OBJ  := $(LIB_SRC:%.c=$(BS)/obj/%.o)

# Each library folder's include paths (the layer table above); tools, tests, benchmarks and
# examples see every layer.
LAYER_OF_common := $(L_common)
LAYER_OF_sim/cost := $(L_cost)
LAYER_OF_sim/engine := $(L_engine)
LAYER_OF_sim/xbar := $(L_xbar)
LAYER_OF_sim/device := $(L_device)
LAYER_OF_sim/sysc := $(L_sysc)
LAYER_OF_mapping := $(L_mapping)
LAYER_OF_driver := $(L_driver)
LAYER_OF_driver/hal := $(L_hal)
LAYER_OF_driver/runtime := $(L_runtime)
LAYER_OF_rtl := $(L_rtl)
$(foreach d,$(LIB_DIRS) sim/sysc rtl,\
  $(eval $(B)/obj/$(d)/%.o $(BS)/obj/$(d)/%.o: INC = $$(addprefix -I,$$(LAYER_OF_$(d)))))

# The SystemC virtual platform (sim/sysc, docs/sysc.md): C++17 glue around sim/device, in
# libaimc.a beside the C objects (driver/hal/hal_sysc.c reaches it through aimc_vp.h).
CXX       ?= g++
CXXSTD    := -std=c++17
CXXWARN   := -Wall -Wextra -Werror
FINAL_CXXFLAGS = $(CXXSTD) $(CXXWARN) $(OPT) $(DEBUG) $(INC) -MMD -MP $(CXXFLAGS)
SYSC_SRC  := $(wildcard sim/sysc/*.cpp)
LIB_OBJ   += $(SYSC_SRC:%.cpp=$(B)/obj/%.o)
SLIB_OBJ  += $(SYSC_SRC:%.cpp=$(BS)/obj/%.o)
# The module in platforms of Accellera's own TLM-2.0 example components (tests/sysc/,
# docs/sysc.md): their sources as Debian's libsystemc-doc installs them, compiled from there
# (their own warnings are theirs: -w), linked with our probe and scenarios into sysc_tlm,
# which tests/sysc.sh runs on the normal and the sanitizer build.
ACC_DIR   := /usr/share/doc/libsystemc/examples/tlm/common
ACC_SRC   := lt_initiator at_initiator_explicit lt_dmi_target lt_synch_target \
             at_target_4_phase memory report
ACC_OBJ   := $(ACC_SRC:%=$(B)/obj/accellera/%.o)
SACC_OBJ  := $(ACC_SRC:%=$(BS)/obj/accellera/%.o)
ACC_FLAGS  = $(CXXSTD) -w $(OPT) $(DEBUG) -isystem $(ACC_DIR)/include

# The RTL of the digital control path (rtl/, docs/rtl.md): rtl/*.sv is the synthesizable
# control path (top aimc_top), rtl/sim/*.sv the simulation-only model of the analog half (DPI-C)
# and the Verilator top aimc_sim. Verilator turns them into a C++ model (build/rtl), compiled
# by Verilator's own makefile and put into libaimc.a with the wrapper (rtl/aimc_vl.cpp) and the
# DPI-C functions (rtl/aimc_vl_dpi.c), which driver/hal/hal_rtl.c ("rtl:") reaches. The sanitizer build links the same model objects
# uninstrumented: Verilator's generated code and runtime (its FST writer, its trace buffers)
# load and store misaligned words, which UBSan rejects; aimc's own code around them, the
# wrapper and DPI functions included, is instrumented.
VERILATOR := verilator
VL_ROOT   := /usr/share/verilator/include
RTL_PKG   := rtl/aimc_regs_pkg.sv rtl/aimc_rtl_pkg.sv
RTL_SV    := $(RTL_PKG) $(filter-out $(RTL_PKG),$(sort $(wildcard rtl/*.sv)))
RTL_SIM   := $(sort $(wildcard rtl/sim/*.sv))
VL_FLAGS  := --cc -Wall --trace-fst --timescale 1ns/1ps --top-module aimc_sim -Irtl \
             --x-assign fast --x-initial fast
VL_GLOBAL := verilated.o verilated_dpi.o verilated_fst_c.o verilated_threads.o
VL_INC    := -I$(B)/rtl -isystem $(VL_ROOT) -isystem $(VL_ROOT)/vltstd
LIB_OBJ   += $(B)/obj/rtl/aimc_vl.o $(B)/obj/rtl/aimc_vl_dpi.o
SLIB_OBJ  += $(BS)/obj/rtl/aimc_vl.o $(BS)/obj/rtl/aimc_vl_dpi.o

SCLI_OBJ  := $(CLI_SRC:%.c=$(BS)/obj/%.o)
STEST_OBJ := $(TEST_SRC:%.c=$(BS)/obj/%.o)

# aimc sweep's MPI transport: tools/sweep_mpi.c, compiled and linked with mpicc's flags, when
# OpenMPI is installed (scripts/deps.sh installs it), else tools/sweep_nompi.c. The sanitizer
# build always takes sweep_nompi.c (OpenMPI's own allocations make LeakSanitizer noisy).
# The sweep's spec, metrics, log, front and plot code is linked into the unit tests too.
MPICC     := $(shell command -v mpicc 2>/dev/null)
SWEEP_NET := $(if $(MPICC),tools/sweep_mpi.c,tools/sweep_nompi.c)
CLI_OBJ   += $(SWEEP_NET:%.c=$(B)/obj/%.o)
SCLI_OBJ  += $(BS)/obj/tools/sweep_nompi.o
# The tools' sources the unit tests call (the sweep's table and files, `aimc run`'s evaluation
# and figures).
SWEEP_TEST_SRC := tools/sweep_spec.c tools/sweep_metrics.c tools/sweep_results.c \
                  tools/sweep_plot.c tools/json.c tools/cli.c tools/evaluate.c
$(B)/obj/tools/sweep_mpi.o: FINAL_CFLAGS += $(if $(MPICC),$(shell $(MPICC) --showme:compile))
$(B)/aimc: LIBS += $(if $(MPICC),$(shell $(MPICC) --showme:link))

.PHONY: all deps run test test-unit test-san test-cli bench clean help rtl lint-rtl synth install \
        uninstall python bench-python test-python test-install
.DEFAULT_GOAL := all

# Build on every core unless the caller chose (make -jN or -j1).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif

all: $(B)/aimc

help:
	@sed -n '3,11p' Makefile | sed 's/^# \{0,1\}//'

# The normal build's compiler flags: objects depend on this file, rewritten only when the
# flags change, so a tree built with other flags (before -fPIC) is rebuilt rather than linked.
# Expanded once here: the per-folder include paths, sysc's PIC and the MPI flags are
# target-specific, and make hands a target's values to its prerequisites, so a stamp built
# from them would change with whichever object asked first and rebuild the tree every run.
FLAGS_ID := $(CC) $(STD) $(WARN) $(OPT) $(DEBUG) $(CFLAGS) $(PIC) | $(CXX) $(CXXSTD) \
            $(CXXWARN) $(OPT) $(DEBUG) $(CXXFLAGS)
$(B)/flags: FORCE
	@mkdir -p $(B)
	@echo '$(FLAGS_ID)' | cmp -s - $@ || echo '$(FLAGS_ID)' > $@
FORCE:

# Missing Debian packages are installed (as root) or named (otherwise) before anything is
# compiled; the check is a dpkg query and costs milliseconds when all is there.
deps:
	$(Q)scripts/deps.sh

$(B)/obj/%.o: %.c $(B)/flags | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(FINAL_CFLAGS) $(PIC) -c $< -o $@

$(BS)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC san  $<")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -O1 -c $< -o $@

$(B)/obj/%.o: %.cpp $(B)/flags | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(FINAL_CXXFLAGS) $(PIC) -c $< -o $@

$(BS)/obj/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX san $<")
	$(Q)$(CXX) $(FINAL_CXXFLAGS) $(SAN) -O1 -c $< -o $@

$(B)/obj/accellera/%.o: $(ACC_DIR)/src/%.cpp | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(ACC_FLAGS) -c $< -o $@

$(BS)/obj/accellera/%.o: $(ACC_DIR)/src/%.cpp | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX san $<")
	$(Q)$(CXX) $(ACC_FLAGS) $(SAN) -O1 -c $< -o $@

$(B)/sysc_tlm: tests/sysc/platforms.cpp tests/sysc/probe.h $(ACC_OBJ) $(B)/libaimc.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(FINAL_CXXFLAGS) -isystem $(ACC_DIR)/include -o $@ $< $(ACC_OBJ) \
	    $(B)/libaimc.a $(LIBS)

$(BS)/sysc_tlm: tests/sysc/platforms.cpp tests/sysc/probe.h $(SACC_OBJ) $(BS)/libaimc.a
	@$(if $(Q),echo "  LD san  $@")
	$(Q)$(CXX) $(FINAL_CXXFLAGS) $(SAN) -O1 -isystem $(ACC_DIR)/include -o $@ $< $(SACC_OBJ) \
	    $(BS)/libaimc.a $(LIBS)

$(B)/libaimc.a: $(LIB_OBJ) $(B)/rtl/built
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $(LIB_OBJ) $(B)/rtl/*.o

$(BS)/libaimc.a: $(SLIB_OBJ) $(B)/rtl/built
	@$(if $(Q),echo "  AR san  $@")
	$(Q)rm -f $@ && ar rcs $@ $(SLIB_OBJ) $(B)/rtl/*.o

# The shared library: the same objects as libaimc.a, exporting what the installed headers
# declare (common/aimc_api.h) and nothing else (scripts/libaimc.map: the aimc_ names, and
# sc_main for libsystemc). The soname carries the major version (docs/driver.md, "Stable API").
AIMC_VERSION := $(shell sed -n 's/^\#define AIMC_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' common/aimc_api.h | paste -sd.)
AIMC_MAJOR   := $(firstword $(subst ., ,$(AIMC_VERSION)))
SONAME       := libaimc.so.$(AIMC_MAJOR)
$(B)/libaimc.so.$(AIMC_VERSION): $(LIB_OBJ) $(B)/rtl/built scripts/libaimc.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=scripts/libaimc.map \
	    -Wl,--no-undefined -o $@ $(LIB_OBJ) $(B)/rtl/*.o $(LIBS)
# sim/sysc keeps default visibility: its sc_main (weak, for libsystemc.so) must leave the
# library; the map hides the rest of it (C++ names, aimc_vp_).
$(B)/obj/sim/sysc/%.o: PIC := -fPIC -fno-semantic-interposition
$(B)/$(SONAME): $(B)/libaimc.so.$(AIMC_VERSION)
	$(Q)ln -sf $(notdir $<) $@
$(B)/libaimc.so: $(B)/$(SONAME)
	$(Q)ln -sf $(notdir $<) $@

# The CLI's own code that the Python package shares with the command (the reports of run,
# map and info, evaluation, sweeps), with the internal helpers it uses: linked into the
# extension beside libaimc.so (python/setup.py, docs/python.md).
CLI_SHARED_SRC := $(SWEEP_TEST_SRC) tools/cmd_run.c tools/cmd_map.c tools/cmd_info.c \
                  tools/sweep_run.c tools/sweep_nompi.c common/yaml.c common/rng.c
$(B)/libaimc_cli.a: $(CLI_SHARED_SRC:%.c=$(B)/obj/%.o)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# Verilate, then compile the model and Verilator's runtime with Verilator's makefile.
$(B)/rtl/Vaimc_sim.mk: $(RTL_SV) $(RTL_SIM) | deps
	@rm -rf $(B)/rtl && mkdir -p $(B)/rtl
	@$(if $(Q),echo "  VERILATE rtl/*.sv rtl/sim/*.sv")
	$(Q)$(VERILATOR) $(VL_FLAGS) --Mdir $(B)/rtl $(RTL_SV) $(RTL_SIM)

$(B)/rtl/built: $(B)/rtl/Vaimc_sim.mk $(B)/flags
	@$(if $(Q),echo "  CXX     verilated model")
	$(Q)rm -f $(B)/rtl/*.o
	$(Q)$(MAKE) -s -C $(B)/rtl -f Vaimc_sim.mk default $(VL_GLOBAL) OPT_FAST=-O2 OPT_GLOBAL=-O2 \
	    USER_CPPFLAGS=-fPIC >/dev/null
	$(Q)touch $@

$(B)/obj/rtl/aimc_vl.o $(B)/obj/rtl/aimc_vl_dpi.o: $(B)/rtl/built
$(B)/obj/rtl/aimc_vl.o $(B)/obj/rtl/aimc_vl_dpi.o: INC += $(VL_INC)
$(BS)/obj/rtl/aimc_vl.o $(BS)/obj/rtl/aimc_vl_dpi.o: $(B)/rtl/built
$(BS)/obj/rtl/aimc_vl.o $(BS)/obj/rtl/aimc_vl_dpi.o: INC += $(VL_INC)

rtl: $(B)/rtl/built

# Lint: verilator -Wall on every source file, no output allowed (make test runs it): the
# control path alone (top aimc_top: no DPI-C in it), then with the simulation model.
lint-rtl: | deps
	$(Q){ $(VERILATOR) --lint-only -Wall --top-module aimc_top -Irtl $(RTL_SV) 2>&1; \
	      $(VERILATOR) --lint-only -Wall --top-module aimc_sim -Irtl $(RTL_SV) $(RTL_SIM) 2>&1; } | \
	    { if read -r l; then echo "$$l"; cat; exit 1; fi; }

# Synthesis of the whole control path (aimc_top) with Yosys: cells, flip-flops and the SRAM
# macros (rtl/synth.sh; docs/rtl.md reports the figures). A few minutes.
synth: | deps
	$(Q)rtl/synth.sh $(RTL_SV)

$(B)/aimc: $(CLI_OBJ) $(B)/libaimc.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $^ $(LIBS)

$(BS)/aimc: $(SCLI_OBJ) $(BS)/libaimc.a
	@$(if $(Q),echo "  LD san  $@")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

$(B)/test_aimc: $(TEST_OBJ) $(SWEEP_TEST_SRC:%.c=$(B)/obj/%.o) $(B)/libaimc.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $^ -lcunit $(LIBS)

$(BS)/test_aimc: $(STEST_OBJ) $(SWEEP_TEST_SRC:%.c=$(BS)/obj/%.o) $(BS)/libaimc.a
	@$(if $(Q),echo "  LD san  $@")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -o $@ $^ -lcunit $(LIBS)

run: $(B)/aimc
	$(Q)$(B)/aimc run

# The whole suite. scripts/test-all.sh runs each part, keeps going after a failure, and
# ends with one line "total: N passed, M failed".
test: lint-rtl $(B)/test_aimc $(BS)/test_aimc $(B)/aimc $(BS)/aimc $(BS)/examples/driver_example \
      $(B)/examples/sysc_platform $(B)/sysc_tlm $(BS)/sysc_tlm $(B)/libaimc.so $(B)/man/aimc.1 \
      python
	$(Q)$(BS)/examples/driver_example
	$(Q)$(B)/examples/sysc_platform
	$(Q)scripts/test-all.sh

test-unit: $(B)/test_aimc
	$(Q)$(B)/test_aimc

test-san: $(BS)/test_aimc
	$(Q)$(BS)/test_aimc

test-cli: $(B)/aimc $(BS)/aimc
	$(Q)tests/cli.sh $(BS)/aimc

# Benchmarks: bench/NAME/main.c builds to build/bench/NAME and runs with `make bench-NAME`.
$(B)/bench/%: bench/%/main.c bench/bench_util.h $(B)/libaimc.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -Ibench -o $@ $< $(B)/libaimc.a $(LIBS) $(BENCH_LIBS)

bench: $(addprefix bench-,$(BENCH_DIRS)) bench-python

bench-%: $(B)/bench/% $(B)/aimc
	$(Q)$(B)/bench/$*

# The register map (common/aimc_regs.yaml): tools/gen_regs (a host tool, not part of
# build/aimc) generates the C header, the SystemVerilog package and docs/registers.md. They
# are checked in; make regenerates them when the YAML or the generator changes, and the unit
# test "driver regs: generated files are current" fails when one is stale.
REGS_OUT     := common/aimc_regs.h rtl/aimc_regs_pkg.sv docs/registers.md
GEN_REGS_SRC := tools/gen_regs/main.c tools/gen_regs/regs_gen.c common/yaml.c common/status.c
all: $(REGS_OUT)

$(B)/gen_regs: $(GEN_REGS_SRC:%.c=$(B)/obj/%.o)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $^ -lyaml

$(REGS_OUT) &: common/aimc_regs.yaml $(B)/gen_regs
	@$(if $(Q),echo "  GEN     $(REGS_OUT)")
	$(Q)$(B)/gen_regs common/aimc_regs.yaml . && touch $(REGS_OUT)

# Example programs (examples/NAME.c, the ones docs show); make test runs driver_example
# from the sanitizer build.
$(B)/examples/%: examples/%.c $(B)/libaimc.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $< $(B)/libaimc.a $(LIBS)

$(BS)/examples/%: examples/%.c $(BS)/libaimc.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD san  $@")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -o $@ $< $(BS)/libaimc.a $(LIBS)

# SystemC examples (examples/sysc_*.cpp, docs/sysc.md): a user's platform with the aimc module.
$(B)/examples/%: examples/%.cpp $(B)/libaimc.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(FINAL_CXXFLAGS) -o $@ $< $(B)/libaimc.a $(LIBS)

# ---- the Python package (python/, docs/python.md) ----
# Always Debian's interpreter with Debian's numpy (scripts/deps.sh installs python3-numpy and
# python3-dev), never a python3 that comes first on PATH (a pyenv build has no numpy). The
# extension python/aimc/_aimc*.so is built in place against build/libaimc.so (found through
# its rpath) and the command's report code (build/libaimc_cli.a): `make python`, then
# PYTHONPATH=python $(PYTHON) -c 'import aimc'. pip install ./python builds the same sources.
PYTHON     := /usr/bin/python3
PY_INC      = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
PY_NUMPY    = $(shell $(PYTHON) -c 'import numpy; print(numpy.get_include())')
PY_EXT      = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
PY_MOD      = python/aimc/_aimc$(PY_EXT)
PY_CFLAGS   = -isystem $(PY_INC) -isystem $(PY_NUMPY)

$(B)/obj/python/aimc/_aimc.o: python/aimc/_aimc.c $(B)/flags | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(FINAL_CFLAGS) $(PIC) $(PY_CFLAGS) -c $< -o $@

python: $(B)/python.stamp
$(B)/python.stamp: $(B)/libaimc.so $(B)/libaimc_cli.a $(B)/obj/python/aimc/_aimc.o
	@$(if $(Q),echo "  LD      $(PY_MOD)")
	$(Q)$(CC) -shared -o $(PY_MOD) $(B)/obj/python/aimc/_aimc.o $(B)/libaimc_cli.a \
	    -L$(B) -laimc -Wl,-rpath,$(abspath $(B)) $(LIBS)
	$(Q)touch $@

# The Python suite (python/tests) and pip install ./python into a scratch virtual environment.
test-python: python $(B)/aimc
	$(Q)tests/python.sh

# The Python MVM path against the C call it wraps, 256 x 256, batch 64 (docs/performance.md).
bench-python: python
	$(Q)PYTHONPATH=python $(PYTHON) bench/python/main.py

# ---- make install / make uninstall ----
# The command, the libraries (libaimc.so with its soname and symlinks, libaimc.a), the public
# headers only (include/aimc/; docs/driver.md says which are the stable API), aimc.pc, the
# presets and model files (share/aimc/, where the installed command finds its default model)
# and the man pages, generated from the --help texts (scripts/gen-man.sh). tests/install.sh
# installs into a temporary DESTDIR and builds examples/driver_example.c with pkg-config.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
PUBLIC_HEADERS := common/aimc_api.h common/aimc_status.h common/aimc_arch.h common/aimc_tile.h common/aimc_moe.h \
                  common/aimc_regs.h common/aimc_config.h driver/aimc.h sim/xbar/aimc_xbar.h \
                  sim/cost/aimc_cost.h mapping/aimc_map.h mapping/aimc_workload.h \
                  mapping/aimc_train.h driver/runtime/aimc_rt.h
SHARE_FILES := $(wildcard configs/*.yaml configs/sweeps/*.yaml configs/sweeps/models/*.yaml \
                 models/*.yaml models/*.safetensors models/data/*)
# What libaimc needs from the system when it is linked statically (aimc.pc's Libs.private).
# -Wl,-Bdynamic first: a program picks libaimc.a with -Wl,-Bstatic before the pkg-config
# flags, and the system libraries after it stay shared (Debian has no static SystemC).
PC_PRIVATE := -Wl,-Bdynamic $(LIBS)

# aimc.pc for the PREFIX of this install (written by the install recipe).
PC_TEXT = 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' \
          'datadir=$(DATADIR)/aimc' '' 'Name: aimc' \
          'Description: analog in-memory-computing accelerator simulator and driver' \
          'Version: $(AIMC_VERSION)' 'Cflags: -I$${includedir}/aimc' \
          'Libs: -L$${libdir} -laimc' 'Libs.private: $(PC_PRIVATE)'

$(B)/man/aimc.1: $(B)/aimc scripts/gen-man.sh
	@$(if $(Q),echo "  GEN     man pages")
	$(Q)rm -rf $(B)/man && scripts/gen-man.sh $(B)/aimc $(B)/man

install: $(B)/aimc $(B)/libaimc.a $(B)/libaimc.so $(B)/man/aimc.1
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(INCLUDEDIR)/aimc $(DESTDIR)$(DATADIR)/aimc $(DESTDIR)$(MANDIR)/man1
	$(Q)install -m 755 $(B)/aimc $(DESTDIR)$(BINDIR)/aimc
	$(Q)install -m 755 $(B)/libaimc.so.$(AIMC_VERSION) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf libaimc.so.$(AIMC_VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libaimc.so
	$(Q)install -m 644 $(B)/libaimc.a $(DESTDIR)$(LIBDIR)/
	$(Q)printf '%s\n' $(PC_TEXT) > $(DESTDIR)$(LIBDIR)/pkgconfig/aimc.pc
	$(Q)install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/aimc/
	$(Q)for f in $(SHARE_FILES); do install -D -m 644 $$f $(DESTDIR)$(DATADIR)/aimc/$$f || exit 1; done
	$(Q)install -m 644 $(B)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	@echo "installed aimc $(AIMC_VERSION) under $(DESTDIR)$(PREFIX)"

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/aimc $(DESTDIR)$(LIBDIR)/libaimc.so.$(AIMC_VERSION) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libaimc.so $(DESTDIR)$(LIBDIR)/libaimc.a \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/aimc.pc $(DESTDIR)$(MANDIR)/man1/aimc.1 \
	    $(DESTDIR)$(MANDIR)/man1/aimc-*.1
	$(Q)rm -rf $(DESTDIR)$(INCLUDEDIR)/aimc $(DESTDIR)$(DATADIR)/aimc

test-install: $(B)/aimc $(B)/libaimc.a $(B)/libaimc.so $(B)/man/aimc.1
	$(Q)tests/install.sh

clean:
	$(Q)rm -rf $(B) python/aimc/_aimc*.so python/build python/aimc.egg-info

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
-include $(SLIB_OBJ:.o=.d) $(SCLI_OBJ:.o=.d) $(STEST_OBJ:.o=.d)
include tests/fuzz/fuzz.mk
