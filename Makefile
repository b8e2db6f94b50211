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
           $(shell pkg-config --cflags $(PKGS)) -Ilauncher -I. \
           -DVMRUN_LIBEXECDIR='"$(or $(PREFIX),/usr/local)/libexec/vmrun"'
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
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c tests/fuzz/fuzz.h $(BUILD)/libvmrun.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -Iqmp -Iprofiles -Ifirmware $(LDFLAGS) $(if $(FUZZ_ENGINE),$(FUZZ_ENGINE),tests/fuzz/driver.c) \
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
	$(MAKE) WERROR=1 check-packaging
	$(MAKE) WERROR=1 check-lab
	tests/summary

demo: deps
	$(MAKE) all
	tests/lab/demo $(BUILD)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- install ----------------------------------------------------------------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=]      make uninstall (same variables)
# The helper is installed setuid root (4755) when `make install` runs as root; otherwise it is
# installed 0755 with a warning, since only root can make a root-owned setuid file.
# The systemd user unit and the allow-list example are installed when their sources exist.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
DOCDIR     ?= $(DATADIR)/doc/vmrun
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
INSTALL    ?= install
SYSTEMD_UNIT := $(wildcard launcher/systemd/vmrun@.service)
ALLOW_EXAMPLE := $(wildcard launcher/helper/allow.yaml.example)
EXAMPLES   := $(sort $(wildcard profiles/examples/*))

.PHONY: install uninstall check-packaging
install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BUILD)/vmrun $(DESTDIR)$(BINDIR)/vmrun
ifneq ($(HELPER_SRCS),)
	$(INSTALL) -d $(DESTDIR)$(LIBEXECDIR)/vmrun
	@if [ "$$(id -u)" = 0 ]; then \
	    echo "$(INSTALL) -m 4755 $(BUILD)/vmrun-helper $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper"; \
	    $(INSTALL) -m 4755 $(BUILD)/vmrun-helper $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper; \
	else \
	    echo "$(INSTALL) -m 0755 $(BUILD)/vmrun-helper $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper"; \
	    $(INSTALL) -m 0755 $(BUILD)/vmrun-helper $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper; \
	    echo "warning: not root: vmrun-helper installed 0755, not setuid root; as root:" >&2; \
	    echo "warning:   chown root:root $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper && chmod 4755 $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper" >&2; \
	fi
endif
	$(INSTALL) -m 0644 launcher/man/vmrun.1 $(DESTDIR)$(MANDIR)/man1/vmrun.1
	$(INSTALL) -m 0644 launcher/man/vmrun.yaml.5 $(DESTDIR)$(MANDIR)/man5/vmrun.yaml.5
	$(INSTALL) -m 0644 launcher/completion/vmrun.bash $(DESTDIR)$(BASHCOMPDIR)/vmrun
	$(INSTALL) -m 0644 launcher/completion/_vmrun $(DESTDIR)$(ZSHCOMPDIR)/_vmrun
	$(INSTALL) -m 0644 $(EXAMPLES) $(ALLOW_EXAMPLE) $(DESTDIR)$(DOCDIR)/examples/
ifneq ($(SYSTEMD_UNIT),)
	$(INSTALL) -d $(DESTDIR)$(SYSTEMDUSERDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' $(SYSTEMD_UNIT) >$(DESTDIR)$(SYSTEMDUSERDIR)/vmrun@.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMDUSERDIR)/vmrun@.service.tmp
	mv -f $(DESTDIR)$(SYSTEMDUSERDIR)/vmrun@.service.tmp $(DESTDIR)$(SYSTEMDUSERDIR)/vmrun@.service
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vmrun $(DESTDIR)$(LIBEXECDIR)/vmrun/vmrun-helper \
	    $(DESTDIR)$(MANDIR)/man1/vmrun.1 $(DESTDIR)$(MANDIR)/man5/vmrun.yaml.5 \
	    $(DESTDIR)$(BASHCOMPDIR)/vmrun $(DESTDIR)$(ZSHCOMPDIR)/_vmrun \
	    $(DESTDIR)$(SYSTEMDUSERDIR)/vmrun@.service
	rm -rf $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(LIBEXECDIR)/vmrun 2>/dev/null

# Installs into a temporary DESTDIR and checks the file list, modes, man pages and completion.
check-packaging: all
	tests/packaging/check $(BUILD)
	tests/packaging/unit-verify $(BUILD)
