# vmrun — build and test.
#   make                 build/vmrun and build/vmrun-helper
#   make check           every test: unit, unit under ASan+UBSan, packaging and docs, real VMs
#                        on this machine (no GPU), the Debian package (built, lintian), lab (a
#                        real kernel with emulated GPUs, the package installed in it)
#   make demo            the main job in the lab
#   make mutate          the mutation check (tests/mutate): is each planted bug caught?
# Both check and demo install missing Debian packages first (tests/install-deps).
#
# The architecture is enforced here. Each layer is a static library built with the include
# path of the layers below it only, so an include the wrong way fails to compile; headers are
# included by name (tests/layers refuses "dir/x.h" and "../x.h", and any include cycle), and
# every header is compiled on its own with its layer's path:
#
#   shared    launcher/shared     log, cleanup helpers, file I/O, XDG, exit codes, names
#   profiles  profiles            the YAML profile            (uses shared)
#   firmware  firmware            OVMF selection, NVRAM       (uses shared)
#   qmp       qmp                 the QMP client              (uses shared)
#   host      launcher/host       sysfs, IOMMU, holders, the switch, privileged operations
#                                                             (uses shared)
#   vm        launcher/vm         the plan, QEMU argv, the run (uses all of the above)
#   cli       launcher/cli        main and one file per command (uses everything)
#   helper    launcher/helper     the setuid vmrun-helper     (uses shared and host only)

BUILD   ?= build
CC      ?= cc
PKGS    := libpci libkmod libcyaml json-c
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wformat-security -Wundef -Wpointer-arith -Wcast-align -Wwrite-strings \
           -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 $(WARN) -D_GNU_SOURCE -fno-strict-aliasing \
           $(shell pkg-config --cflags $(PKGS)) \
           -DVMRUN_LIBEXECDIR='"$(or $(PREFIX),/usr/local)/libexec/vmrun"'
# libkmod is opened when first needed (launcher/host/kmodlib.c), not linked: linked, it and what
# it brings (libcrypto, libzstd, liblzma) were most of every start's cost.
LDLIBS  += $(shell pkg-config --libs $(filter-out libkmod,$(PKGS)))
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# --- layers: directories, what each may include, its library ------------------------------
LAYERS        := shared profiles firmware qmp host vm cli helper
DIRS_shared   := launcher/shared
DIRS_profiles := profiles
DIRS_firmware := firmware
DIRS_qmp      := qmp
DIRS_host     := launcher/host
DIRS_vm       := launcher/vm
DIRS_cli      := launcher/cli launcher/cli/setup
DIRS_helper   := launcher/helper
USES_shared   := shared
USES_profiles := shared profiles
USES_firmware := shared firmware
USES_qmp      := shared qmp
USES_host     := shared host
USES_vm       := shared profiles firmware qmp host vm
USES_cli      := $(USES_vm) cli
USES_helper   := shared host helper

inc_of  = $(addprefix -iquote ,$(foreach l,$(USES_$(1)),$(DIRS_$(l))))
srcs_of = $(sort $(foreach d,$(DIRS_$(1)),$(wildcard $(d)/*.c)))
hdrs_of = $(sort $(foreach d,$(DIRS_$(1)),$(wildcard $(d)/*.h)))
$(foreach l,$(LAYERS),$(eval SRCS_$(l) := $(call srcs_of,$(l))))
$(foreach l,$(LAYERS),$(eval OBJS_$(l) := $(SRCS_$(l):%.c=$(BUILD)/obj/%.o)))
$(foreach l,$(LAYERS),$(eval $(OBJS_$(l)): INC := $(call inc_of,$(l))))

# The programs' own main() files stay out of their layer's library (tests link the rest).
CLI_MAIN    := $(BUILD)/obj/launcher/cli/main.o
HELPER_MAIN := $(BUILD)/obj/launcher/helper/vmrun-helper.o
LIB_shared   := $(BUILD)/lib/libshared.a
LIB_profiles := $(BUILD)/lib/libprofiles.a
LIB_firmware := $(BUILD)/lib/libfirmware.a
LIB_qmp      := $(BUILD)/lib/libqmp.a
LIB_host     := $(BUILD)/lib/libhost.a
LIB_vm       := $(BUILD)/lib/libvm.a
LIB_cli      := $(BUILD)/lib/libcli.a
LIB_helper   := $(BUILD)/lib/libhelper.a
# Link order: a library before the ones it uses.
LINK_cli    := $(LIB_cli) $(LIB_vm) $(LIB_qmp) $(LIB_firmware) $(LIB_profiles) $(LIB_host) $(LIB_shared)
LINK_helper := $(LIB_helper) $(LIB_host) $(LIB_shared)
LINK_all    := $(LIB_cli) $(LIB_helper) $(LIB_vm) $(LIB_qmp) $(LIB_firmware) $(LIB_profiles) \
               $(LIB_host) $(LIB_shared)

ALL_DIRS := $(foreach l,$(LAYERS),$(DIRS_$(l)))
INC_ALL  := $(addprefix -iquote ,$(ALL_DIRS))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
SUPPORT_SRCS := $(wildcard tests/unit/support/*.c)
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
$(SUPPORT_OBJS): INC := $(INC_ALL) -iquote tests/unit/support
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCHES    := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS     := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
TESTS     := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# Every header on its own, with its layer's include path: a header that needs a layer above
# its own fails here even when no file of its layer includes it.
HDR_OKS   := $(foreach l,$(LAYERS),$(patsubst %.h,$(BUILD)/hdr/%.ok,$(call hdrs_of,$(l))))
$(foreach l,$(LAYERS),$(eval $(patsubst %.h,$(BUILD)/hdr/%.ok,$(call hdrs_of,$(l))): INC := $(call inc_of,$(l))))

.PHONY: all clean check check-unit check-asan check-lab check-vm check-packaging check-deb deps demo tests fuzz layers mutate bench
all: $(BUILD)/vmrun $(BUILD)/vmrun-helper $(BUILD)/layers.ok

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(INC) -MMD -MP -c -o $@ $<

$(BUILD)/hdr/%.ok: %.h
	@mkdir -p $(dir $@)
	printf '#include "%s"\n' $(notdir $<) | $(CC) $(CFLAGS) $(INC) -fsyntax-only -x c -
	@touch $@

# Includes by name only, and no include cycle (tests/layers); every header self-contained.
$(BUILD)/layers.ok: tests/layers $(foreach l,$(LAYERS),$(SRCS_$(l)) $(call hdrs_of,$(l))) $(HDR_OKS)
	@mkdir -p $(dir $@)
	tests/layers $(ALL_DIRS)
	@touch $@
layers: $(BUILD)/layers.ok
# A layer's include path and compiler flags (tests/packaging/layers shows a wrong-way include fail).
layer-flags-%:
	@echo $(CFLAGS) $(call inc_of,$*)

$(foreach l,$(LAYERS),$(eval $(LIB_$(l)): $(filter-out $(CLI_MAIN) $(HELPER_MAIN),$(OBJS_$(l)))))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vmrun: $(CLI_MAIN) $(LINK_cli)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vmrun-helper: $(HELPER_MAIN) $(LINK_helper)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# test_fileio sees (and breaks) the durable steps of an atomic write.
$(BUILD)/tests/test_fileio: TEST_LDFLAGS := -Wl,--wrap=fsync -Wl,--wrap=renameat -Wl,--wrap=unlinkat
# test_preflight loses a verdict to a failed allocation (the pre-flight must fail closed).
$(BUILD)/tests/test_preflight: TEST_LDFLAGS := -Wl,--wrap=reallocarray
$(BUILD)/tests/%: tests/unit/%.c $(SUPPORT_OBJS) $(LINK_all)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) -iquote tests/unit/support $(LDFLAGS) $(TEST_LDFLAGS) -o $@ $< \
	    $(SUPPORT_OBJS) $(LINK_all) $(LDLIBS) -lcmocka

# Fuzz entry points, built as standalone replay drivers (tests/fuzz/driver.c) so they run
# without clang; with clang: make fuzz CC=clang FUZZ_ENGINE=-fsanitize=fuzzer.
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c tests/fuzz/fuzz.h $(LINK_cli)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) -iquote tests/fuzz $(LDFLAGS) \
	    $(if $(FUZZ_ENGINE),$(FUZZ_ENGINE),tests/fuzz/driver.c) -o $@ $< $(LINK_cli) $(LDLIBS)

# Small programs the shell tests use (tests/tools): a QMP client.
$(BUILD)/tools/%: tests/tools/%.c $(LINK_all)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) $(LDFLAGS) -o $@ $< $(LINK_all) $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(LINK_all)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) $(LDFLAGS) -o $@ $< $(LINK_all) $(LDLIBS)

tests: all $(TESTS) $(FUZZERS) $(TOOLS) $(BENCHES)
fuzz: $(FUZZERS)

deps:
	tests/install-deps

check-unit: tests
	tests/run-unit $(BUILD)

check-asan:
	$(MAKE) BUILD=build-asan SAN=1 WERROR=$(WERROR) tests
	tests/run-unit build-asan

# The lab installs the Debian package in one scenario (vmrun-deb): built first when there is
# none (`make check` builds it anew in check-deb, just before). The model of NVIDIA's modules
# (tests/lab/nvidia-model) is built against the lab kernel's headers for vmrun-nvidia; the bare
# guest (tests/lab/bare-guest) is what the nested VMs boot, but for vmrun-run's main job.
check-lab: all
	@ls $(BUILD)/deb/vmrun_*.deb >/dev/null 2>&1 || tests/packaging/deb $(BUILD)
	tests/lab/nvidia-model/build $(BUILD)/nvidia-model
	tests/lab/bare-guest/build $(BUILD)/bare-guest
	-tests/lab/pvh-kernel $(BUILD)/lab-kernel
	tests/lab/run-scenarios $(BUILD)

# The Debian package from a copy of the source, lintian, what it holds; left in $(BUILD)/deb.
check-deb:
	tests/packaging/deb $(BUILD)

# Real VMs on this machine, without a GPU (nothing is switched): TCG, swtpm, qemu-img.
check-vm: tests
	tests/vm/run $(BUILD)

check: deps
	rm -f build/results-* build-asan/results-*
	@# Every suite runs even after one fails, so one run shows all that is wrong; the summary
	@# counts them and fails if any suite failed or did not run.
	@rc=0; for t in check-unit check-asan check-packaging check-vm check-deb check-lab; do \
		$(MAKE) WERROR=1 $$t || { echo "check: $$t failed" >&2; rc=1; }; \
	done; tests/summary && exit $$rc

demo: deps
	$(MAKE) all
	-tests/lab/pvh-kernel $(BUILD)/lab-kernel
	tests/lab/demo $(BUILD)

mutate: deps
	tests/mutate/run

# Speed, in the lab, as ratios against the floor and the tools people use (tests/bench/lab-bench.sh);
# not part of `make check`: a benchmark reports, it does not pass or fail.
bench: deps
	$(MAKE) tests
	VMRUN_BUILD=$(BUILD) tests/lab/lab tests/bench/lab-bench.sh

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
check-packaging: tests
	tests/packaging/check $(BUILD)
	tests/docs/check $(BUILD)
	tests/packaging/unit-verify $(BUILD)
	tests/packaging/layers
	tests/packaging/health $(BUILD)
