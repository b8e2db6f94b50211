# vmrun — build and test.
#   make                 build/vmrun
#   make check           every test: unit, unit under ASan+UBSan, lab (real kernel in QEMU)
#   make demo            the main job in the lab
# Both check and demo install missing Debian packages first (tests/install-deps).

BUILD   ?= build
CC      ?= cc
PKGS    := libpci libkmod libcyaml json-c
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wformat-security -Wundef -Wpointer-arith -Wcast-align -Wwrite-strings \
           -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 $(WARN) -D_GNU_SOURCE -fno-strict-aliasing \
           $(shell pkg-config --cflags $(PKGS)) -Ilauncher -I.
LDLIBS  += $(shell pkg-config --libs $(PKGS))
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRCS  := $(filter-out launcher/main.c launcher/cmd_%.c,$(wildcard launcher/*.c)) \
             $(wildcard profiles/*.c firmware/*.c qmp/*.c)
CLI_SRCS  := launcher/main.c $(wildcard launcher/cmd_*.c)
# The privileged helper (setuid root when installed): its own small main, the same library.
HELPER_SRCS := $(wildcard launcher/helper/*.c)
HELPER_OBJS := $(HELPER_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
SUPPORT_SRCS := $(wildcard tests/unit/support/*.c)
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all clean check check-unit check-asan check-lab deps demo tests fuzz
all: $(BUILD)/vmrun $(if $(HELPER_SRCS),$(BUILD)/vmrun-helper)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libvmrun.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vmrun: $(CLI_OBJS) $(BUILD)/libvmrun.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vmrun-helper: $(HELPER_OBJS) $(BUILD)/libvmrun.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(SUPPORT_OBJS) $(BUILD)/libvmrun.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit/support $(LDFLAGS) -o $@ $< $(SUPPORT_OBJS) $(BUILD)/libvmrun.a \
	    $(LDLIBS) -lcmocka

# Fuzz entry points, built as standalone replay drivers (tests/fuzz/driver.c) so they run
# without clang; with clang: make fuzz CC=clang FUZZ_ENGINE=-fsanitize=fuzzer.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libvmrun.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $(if $(FUZZ_ENGINE),$(FUZZ_ENGINE),tests/fuzz/driver.c) \
	    -o $@ $< $(BUILD)/libvmrun.a $(LDLIBS)

tests: all $(TESTS) $(FUZZERS)
fuzz: $(FUZZERS)

deps:
	tests/install-deps

check-unit: tests
	tests/run-unit $(BUILD)

check-asan:
	$(MAKE) BUILD=build-asan SAN=1 WERROR=$(WERROR) tests
	tests/run-unit build-asan

check-lab: all
	tests/lab/run-scenarios $(BUILD)

check: deps
	rm -f build/results-* build-asan/results-*
	$(MAKE) WERROR=1 check-unit
	$(MAKE) WERROR=1 check-asan
	$(MAKE) WERROR=1 check-lab
	tests/summary

demo: deps
	$(MAKE) all
	tests/lab/demo $(BUILD)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
