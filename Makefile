# its-tools: its-dump (and, later, its-fsck) for GICv3 ITS tables in VM snapshots.

VERSION   := $(shell cat VERSION)
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=
SHARED    ?= $(abspath ../shared)
BUILD     ?= build

CC        ?= cc
PKGS      := libelf json-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CHECK_CFLAGS := $(shell pkg-config --cflags check)
CHECK_LIBS   := $(shell pkg-config --libs check)

CFLAGS    ?= -O2 -g
# kept apart from CFLAGS: `make CFLAGS=...` (as asan does) must not drop them
STD_CFLAGS := -std=gnu11 -Wall -Wextra -Werror
CPPFLAGS  += -D_GNU_SOURCE -Iinclude -DITS_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
SAN       ?=
ALL_CFLAGS = $(STD_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP

LIB_SRC   := $(wildcard src/util/*.c src/snap/*.c src/its/*.c src/check/*.c src/repair/*.c src/report/*.c) src/cli/common.c src/cli/progress.c \
	     src/cli/version.c
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libits.a
TEST_SRC  := $(wildcard tests/unit/*.c)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
FIXTURE_SRC := $(wildcard tests/tools/*.c)

SAMPLES_XZ := qemu10-virt-its-stopped.mig.xz qemu10-virt-its-stopped.elf.xz \
	      qemu72-virt-its-stopped.mig.xz kvm-synthetic/kvm-virt-2level.mig.xz \
	      kvm-synthetic/kvm-virt-2level.elf.xz
# decompressed once, shared by the normal and the sanitizer builds
SAMPLES_DIR := build/samples
SAMPLES   := $(patsubst %.xz,$(SAMPLES_DIR)/%,$(notdir $(SAMPLES_XZ)))

.PHONY: all demo check check-real check-qemu bench fuzz fuzz-regress asan clean install samples man check-man uninstall
all: $(BUILD)/its-dump $(BUILD)/its-fsck

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CHECK_CFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/its-dump: $(BUILD)/obj/src/cli/its-dump.o $(LIB)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(PKG_LIBS)

$(BUILD)/its-fsck: $(BUILD)/obj/src/cli/its-fsck.o $(LIB)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(PKG_LIBS)

# The fixture writer packs every field itself: it never includes src/ headers.
$(BUILD)/its-fixture: $(FIXTURE_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(FIXTURE_SRC) -o $@ $(PKG_LIBS)

$(BUILD)/its-tests: $(TEST_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(CHECK_LIBS) $(PKG_LIBS)

$(SAMPLES_DIR)/%: $(SHARED)/samples/%.xz
	@mkdir -p $(dir $@)
	xz -dc $< > $@.tmp && mv $@.tmp $@
$(SAMPLES_DIR)/%: $(SHARED)/samples/kvm-synthetic/%.xz
	@mkdir -p $(dir $@)
	xz -dc $< > $@.tmp && mv $@.tmp $@
samples: $(SAMPLES)

# The bundled sample: a real QEMU 10.0 migration stream (tests/fixtures/samples).
DEMO := $(SAMPLES_DIR)/demo-qemu10-virt-its-stopped.mig
$(DEMO): tests/fixtures/samples/qemu10-virt-its-stopped.mig.xz
	@mkdir -p $(dir $@)
	xz -dc $< > $@.tmp && mv $@.tmp $@
demo: $(BUILD)/its-dump $(DEMO)
	$(BUILD)/its-dump $(DEMO)

check: $(BUILD)/its-dump $(BUILD)/its-fsck $(BUILD)/its-fixture $(BUILD)/its-tests samples
	ITS_BUILD_DIR=$(abspath $(BUILD)) ITS_SAMPLES_DIR=$(abspath $(SAMPLES_DIR)) \
	ITS_SHARED_DIR=$(SHARED) ITS_SOURCE_DIR=$(CURDIR) $(BUILD)/its-tests

# Real captures: boot an arm64 guest under QEMU 7.2 and 10.0 (about 2.5
# minutes, needs apt-get), then check every stream and dump they write.
REAL_DIR ?= $(abspath build/real)
check-real: $(BUILD)/its-dump $(BUILD)/its-tests
	@if [ ! -s $(REAL_DIR)/out/verify-summary.txt ]; then \
		bash $(SHARED)/tools/make-real-fixtures.sh $(REAL_DIR)/work $(REAL_DIR)/out; fi
	ITS_BUILD_DIR=$(abspath $(BUILD)) ITS_SAMPLES_DIR=$(abspath $(SAMPLES_DIR)) \
	ITS_SHARED_DIR=$(SHARED) ITS_SOURCE_DIR=$(CURDIR) ITS_REAL_DIR=$(REAL_DIR)/out \
	CK_RUN_SUITE=real $(BUILD)/its-tests

$(BUILD)/runstat: tests/bench/runstat.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@

# Not a test: its-dump against cat on a 4 GiB-guest stream (tests/bench).
bench: $(BUILD)/its-dump $(BUILD)/its-fixture $(BUILD)/runstat
	BUILD=$(BUILD) bash tests/bench/bench.sh

# Repairs checked by QEMU itself: a real stream is corrupted, repaired with
# its-fsck -p, loaded by QEMU 10.0 and 7.2, resumed, and its guest's MSI counts
# must keep rising; then once the negative control (a repair writing at the
# wrong offset) must make that check fail. Shares build/real with check-real.
check-qemu: $(BUILD)/its-dump $(BUILD)/its-fsck
	@if [ ! -s $(REAL_DIR)/out/verify-summary.txt ]; then \
		bash $(SHARED)/tools/make-real-fixtures.sh $(REAL_DIR)/work $(REAL_DIR)/out; fi
	ITS_BUILD_DIR=$(abspath $(BUILD)) ITS_SHARED_DIR=$(SHARED) \
		bash tests/qemu/check-qemu.sh $(REAL_DIR)
	ITS_BUILD_DIR=$(abspath $(BUILD)) ITS_SHARED_DIR=$(SHARED) \
		CHECK_QEMU_NEGATIVE=1 QEMU_VERSIONS=10.0 bash tests/qemu/check-qemu.sh $(REAL_DIR)

# Fuzzing (libFuzzer, needs clang): every harness in tests/fuzz for
# FUZZ_SECONDS each, new corpus entries under build/fuzz; fuzz-regress runs
# each tests/fuzz/regress/HARNESS-* input and seed once through its harness
# (make check asserts each regress input's exact result in a unit test).
FUZZ_SECONDS ?= 60
# ASan keeps 256 MiB of freed memory in quarantine by default, which counts
# against -rss_limit_mb=512 (regs_json reached 475 MiB in 30 s with inputs
# of a few KiB): 64 MiB still catches use after free, and leaves the limit
# to what the code itself allocates.
FUZZ_ASAN_OPTIONS ?= quarantine_size_mb=64
FUZZ_CC      ?= clang
FUZZERS      := migstream vmdesc libvirt elfcore regs_json walk plan
FUZZ_SRC     := $(filter-out src/cli/%,$(LIB_SRC))
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_CFLAGS  := -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=all \
		-Iinclude $(PKG_CFLAGS)
FUZZ_FLAGS   := $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined \
		-DFUZZ_BASE_STREAM='"$(abspath tests/fuzz/base/minimal.mig)"'

# the library is instrumented once and linked into every harness
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_OBJ) $< -o $@ $(PKG_LIBS)
-include $(shell find $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)

fuzz: $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)
	@for h in $(FUZZERS); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$h $(BUILD)/fuzz/artifacts || exit 1; \
	  ASAN_OPTIONS=$${ASAN_OPTIONS:-$(FUZZ_ASAN_OPTIONS)} \
	  $(BUILD)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=1 \
	    -rss_limit_mb=512 -max_len=262144 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/$$h- \
	    $(BUILD)/fuzz/corpus-$$h tests/fuzz/corpus/$$h || exit 1; \
	done

fuzz-regress: $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)
	@for h in $(FUZZERS); do \
	  for f in tests/fuzz/regress/$$h-* tests/fuzz/corpus/$$h/*; do \
	    [ -e "$$f" ] || continue; \
	    $(BUILD)/fuzz/fuzz_$$h -timeout=1 -rss_limit_mb=512 "$$f" >/dev/null 2>&1 || \
	      { echo "fuzz-regress: $$h: $$f fails"; exit 1; }; \
	  done; \
	done; echo "fuzz-regress: every regress input and seed runs clean"

# Same tests, every binary built with AddressSanitizer and UBSan.
asan:
	$(MAKE) check BUILD=build-asan \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		CFLAGS="-O1 -g"

# The bad-input corpus (tests/badinput/README): damaged snapshots generated
# from tests/fixtures/minimal.json and the KVM sample, each run through the
# sanitizer-built its-dump and its-fsck -n, compared with expected.tsv.
$(BUILD)/badinput-gen: tests/badinput/gen.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $< -o $@ $(PKG_LIBS)
.PHONY: check-badinput
# $(BUILD)/its-dump and its-fsck: under "make asan" they are the build-asan
# ones, finished before the recipe's own make looks at them
check-badinput: $(BUILD)/badinput-gen $(BUILD)/its-fixture $(SAMPLES_DIR)/kvm-virt-2level.elf \
		$(BUILD)/its-dump $(BUILD)/its-fsck
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" CFLAGS="-O1 -g" build-asan/its-dump build-asan/its-fsck
	BADINPUT_BIN=build-asan BADINPUT_GEN=$(BUILD)/badinput-gen \
	BADINPUT_FIXTURE=$(BUILD)/its-fixture \
	BADINPUT_SAMPLE=$(SAMPLES_DIR)/kvm-virt-2level.elf \
	BADINPUT_SAMPLE_REGS=$(SHARED)/samples/kvm-synthetic/kvm-virt-2level.registers.json \
	BADINPUT_WORK=$(BUILD)/badinput bash tests/badinput/run.sh
check: check-badinput

# --version names the libelf it was built against: libelf has no call that
# says its version at run time.
LIBELF_VERSION := $(shell pkg-config --modversion libelf)
$(BUILD)/obj/src/cli/version.o: CPPFLAGS += -DITS_LIBELF_VERSION='"$(LIBELF_VERSION)"'
$(BUILD)/obj/src/cli/version.o: VERSION

# Manual pages: its-fsck.8's PROBLEM CODES are generated from the problem
# table (man/gen-problems), so the page cannot miss a code.
MAN_PAGES := $(BUILD)/man/its-dump.1 $(BUILD)/man/its-fsck.8
$(BUILD)/man/gen-problems: $(BUILD)/obj/man/gen-problems.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(PKG_LIBS)
$(BUILD)/man/its-fsck.8: man/its-fsck.8.in $(BUILD)/man/gen-problems
	$(BUILD)/man/gen-problems $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/its-dump.1: man/its-dump.1
	@mkdir -p $(dir $@)
	cp $< $@
man: $(MAN_PAGES)

# The pages linted (mandoc and groff must say nothing), every problem code
# and option documented, the completion, --version, the EXAMPLES' jq
# recipes on the real sample, and install/uninstall into a scratch DESTDIR.
check-man: $(BUILD)/its-dump $(BUILD)/its-fsck $(MAN_PAGES) $(SAMPLES)
	ITS_BUILD_DIR=$(abspath $(BUILD)) ITS_SAMPLES_DIR=$(abspath $(SAMPLES_DIR)) \
	ITS_SOURCE_DIR=$(CURDIR) ITS_MAKE="$(MAKE)" bash tests/man/run.sh
check: check-man

# bash completion: where bash-completion's lazy loader looks, one file per
# command; BASHCOMP_PKG is a test hook for a system without bash-completion.
BASHCOMP_PKG ?= bash-completion
BASHCOMPDIR  ?= $(or $(shell pkg-config --variable=completionsdir $(BASHCOMP_PKG) 2>/dev/null),$(PREFIX)/share/bash-completion/completions)

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(BUILD)/its-dump $(DESTDIR)$(BINDIR)/its-dump
	install -m 755 $(BUILD)/its-fsck $(DESTDIR)$(BINDIR)/its-fsck
	install -m 644 $(BUILD)/man/its-dump.1 $(DESTDIR)$(MANDIR)/man1/its-dump.1
	install -m 644 $(BUILD)/man/its-fsck.8 $(DESTDIR)$(MANDIR)/man8/its-fsck.8
	install -m 644 completion/its-tools.bash $(DESTDIR)$(BASHCOMPDIR)/its-dump
	ln -sf its-dump $(DESTDIR)$(BASHCOMPDIR)/its-fsck

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/its-dump $(DESTDIR)$(BINDIR)/its-fsck \
		$(DESTDIR)$(MANDIR)/man1/its-dump.1 $(DESTDIR)$(MANDIR)/man8/its-fsck.8 \
		$(DESTDIR)$(BASHCOMPDIR)/its-dump $(DESTDIR)$(BASHCOMPDIR)/its-fsck

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
