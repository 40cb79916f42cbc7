# Makefile - the whole aimc build, non-recursive.
#
#   make            build build/aimc (installs missing Debian packages first: scripts/deps.sh)
#   make run        map, program and run the default model on the default machine
#   make test       the whole suite: unit tests, the same under ASan+UBSan, CLI checks
#   make bench      every benchmark; make bench-NAME runs bench/NAME
#   make clean
#
# V=1 shows the commands. Objects go to build/ (normal) and build/san/ (sanitizers).

CC      ?= cc
STD     := -std=c11 -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
OPT     ?= -O2
DEBUG   ?= -g
INC     := -Icommon -Isim -Imapping -Idriver -Itools
FINAL_CFLAGS = $(STD) $(WARN) $(OPT) $(DEBUG) $(INC) -MMD -MP $(CFLAGS)
LIBS    := -lyaml -lm -lpthread
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(V),1)
Q :=
else
Q := @
endif

B  := build
BS := build/san

LIB_SRC   := $(wildcard common/*.c sim/*.c mapping/*.c driver/*.c)
CLI_SRC   := $(wildcard tools/*.c)
TEST_SRC  := $(wildcard tests/*.c)
BENCH_DIRS := $(patsubst bench/%/,%,$(dir $(wildcard bench/*/main.c)))

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/obj/%.o)
SLIB_OBJ  := $(LIB_SRC:%.c=$(BS)/obj/%.o)
SCLI_OBJ  := $(CLI_SRC:%.c=$(BS)/obj/%.o)
STEST_OBJ := $(TEST_SRC:%.c=$(BS)/obj/%.o)

.PHONY: all deps run test test-unit test-san test-cli bench clean help
.DEFAULT_GOAL := all

all: $(B)/aimc

help:
	@sed -n '3,10p' Makefile | sed 's/^# \{0,1\}//'

# Missing Debian packages are installed (as root) or named (otherwise) before anything is
# compiled; the check is a dpkg query and costs milliseconds when all is there.
deps:
	$(Q)scripts/deps.sh

$(B)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(FINAL_CFLAGS) -c $< -o $@

$(BS)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC san  $<")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -O1 -c $< -o $@

$(B)/libaimc.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BS)/libaimc.a: $(SLIB_OBJ)
	@$(if $(Q),echo "  AR san  $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/aimc: $(CLI_OBJ) $(B)/libaimc.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $^ $(LIBS)

$(BS)/aimc: $(SCLI_OBJ) $(BS)/libaimc.a
	@$(if $(Q),echo "  LD san  $@")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

$(B)/test_aimc: $(TEST_OBJ) $(B)/libaimc.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $^ -lcunit $(LIBS)

$(BS)/test_aimc: $(STEST_OBJ) $(BS)/libaimc.a
	@$(if $(Q),echo "  LD san  $@")
	$(Q)$(CC) $(FINAL_CFLAGS) $(SAN) -o $@ $^ -lcunit $(LIBS)

run: $(B)/aimc
	$(Q)$(B)/aimc run

# The whole suite. scripts/test-all.sh runs each part, keeps going after a failure, and
# ends with one line "total: N passed, M failed".
test: $(B)/test_aimc $(BS)/test_aimc $(B)/aimc $(BS)/aimc
	$(Q)scripts/test-all.sh

test-unit: $(B)/test_aimc
	$(Q)$(B)/test_aimc

test-san: $(BS)/test_aimc
	$(Q)$(BS)/test_aimc

test-cli: $(B)/aimc $(BS)/aimc
	$(Q)tests/cli.sh $(BS)/aimc

# Benchmarks: bench/NAME/main.c builds to build/bench/NAME and runs with `make bench-NAME`.
$(B)/bench/%: bench/%/main.c $(B)/libaimc.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FINAL_CFLAGS) -o $@ $< $(B)/libaimc.a $(LIBS) $(BENCH_LIBS)

bench: $(addprefix bench-,$(BENCH_DIRS))

bench-%: $(B)/bench/% $(B)/aimc
	$(Q)$(B)/bench/$*

clean:
	$(Q)rm -rf $(B)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
-include $(SLIB_OBJ:.o=.d) $(SCLI_OBJ:.o=.d) $(STEST_OBJ:.o=.d)
