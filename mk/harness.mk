# mk/harness.mk - the scenario harness (build/asynctrace-harness), the
# scenario library (build/libasynctrace-scenario.a, header
# harness/include/asynctrace/scenario.h), the scenario programs
# (build/scenarios/NAME), the harness's own failure tests (tests/harness/),
# their installation, the demo service (examples/) and `make demo`.

HARNESS_SRCS := $(sort $(wildcard harness/*.c))
HARNESS_OBJS := $(HARNESS_SRCS:harness/%.c=$(BUILD)/harness-obj/%.o)
HARNESS_BIN  := $(BUILD)/asynctrace-harness

# The checkpoint protocol, a static library users link (pkg-config
# asynctrace-scenario) and the project's scenarios link too.
SCN_LIB_SRCS := $(sort $(wildcard harness/scenario/*.c))
SCN_LIB_OBJS := $(SCN_LIB_SRCS:harness/scenario/%.c=$(BUILD)/scenario-obj/%.o)
SCN_LIB_HDR  := harness/include/asynctrace/scenario.h
SCN_LIB      := $(BUILD)/libasynctrace-scenario.a
SCN_COMMON_HDRS := $(wildcard scenarios/common/*.h) $(SCN_LIB_HDR)
SCN_INCLUDES    := -Iscenarios/common -Iharness/include
SCN_SRCS        := $(sort $(wildcard scenarios/*.c))
SCN_BINS        := $(SCN_SRCS:scenarios/%.c=$(BUILD)/scenarios/%)
# Scenarios built and then stripped (their offline traces must not change).
SCN_STRIPPED    := 13_stripped_abba

# Scenarios build with the library's ordinary flags: AT_AWAIT itself keeps
# every await's poll call distinct, so live native frames have exact lines.
SCN_CFLAGS :=

# Deliberately broken scenarios: they prove the harness's failure paths.
HSELF_SRCS := $(sort $(wildcard tests/harness/*.c))
HSELF_BINS := $(HSELF_SRCS:tests/harness/%.c=$(BUILD)/tests/harness/%)

# (examples/*.c are built by the Makefile's own rule into $(BUILD)/examples.)
ALL_TARGETS  += $(HARNESS_BIN) $(SCN_LIB) $(SCN_BINS)
TEST_TARGETS += test-harness

.PHONY: test-harness test-harness-self test-harness-user scenarios harness demo-run

harness: $(HARNESS_BIN)
scenarios: $(SCN_BINS)

$(BUILD)/harness-obj/%.o: harness/%.c harness/harness.h
	@mkdir -p $(@D)
	$(CC) $(JANSSON_CFLAGS) $(CFLAGS) -c $< -o $@

$(HARNESS_BIN): $(HARNESS_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(JANSSON_LIBS) -pthread

$(BUILD)/scenario-obj/%.o: harness/scenario/%.c $(SCN_LIB_HDR) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Iharness/include $(CFLAGS) -fPIC -c $< -o $@

$(SCN_LIB): $(SCN_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Scenario sources may include one another (13 and 14 reuse 2, 5, 7, 11),
# so each depends on all of them.
$(BUILD)/scenarios/%: scenarios/%.c $(SCN_SRCS) $(SCN_COMMON_HDRS) $(SCN_LIB) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(SCN_INCLUDES) $(CFLAGS) $(SCN_CFLAGS) $< -o $@ $(SCN_LIB) $(LIB_A) $(LDLIBS)
	$(if $(filter $*,$(SCN_STRIPPED)),strip --strip-all $@)

$(BUILD)/tests/harness/%: tests/harness/%.c $(wildcard tests/harness/*.h) $(SCN_COMMON_HDRS) $(SCN_LIB) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(SCN_INCLUDES) $(CFLAGS) $(SCN_CFLAGS) $< -o $@ $(SCN_LIB) $(LIB_A) $(LDLIBS)

# The harness's failure handling first (broken scenarios, exact verdicts),
# then the scenario suite.
# (15_seeded_lock_order: the seeded-schedule checks.)
HSELF_SCNS := $(BUILD)/scenarios/15_seeded_lock_order
test-harness-self: $(HARNESS_BIN) $(HSELF_BINS) $(HSELF_SCNS)
	@sh tests/harness/selftest.sh $(BUILD)

# The installed harness on the out-of-tree example project (a temporary
# prefix; reports checked field by field).
test-harness-user: $(HARNESS_BIN) $(SCN_LIB) $(LIB_A) $(LIB_SO)
	@sh tests/harness/user_suite.sh $(BUILD)

test-harness: $(HARNESS_BIN) $(SCN_BINS) test-harness-self test-harness-user
	@$(HARNESS_BIN)

# `make san`: the harness itself under ASan+UBSan, on its self-test (the
# scenarios stay unsanitized: GDB and gcore on sanitized processes are slow).
HARNESS_SAN_BIN := $(BUILD)/asan-harness/asynctrace-harness
SAN_TARGETS += san-harness
.PHONY: san-harness

$(HARNESS_SAN_BIN): $(HARNESS_SRCS) harness/harness.h
	@mkdir -p $(@D)
	$(CC) $(JANSSON_CFLAGS) $(CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
	  $(HARNESS_SRCS) -o $@ $(JANSSON_LIBS) -pthread

# The sanitized harness finds the CLI beside itself, as build/asynctrace-harness does.
san-harness: $(HARNESS_SAN_BIN) $(HSELF_BINS) $(HSELF_SCNS) $(CLI_BIN) $(UNWIND_BIN)
	@ln -sf $(abspath $(CLI_BIN)) $(dir $(HARNESS_SAN_BIN))asynctrace
	@HARNESS=$(HARNESS_SAN_BIN) sh tests/harness/selftest.sh $(BUILD)

# The main job (`make demo` builds everything, then runs this): start the
# demo service, let it get into trouble, show what the GDB extension says.
demo-run: $(EXAMPLE_BINS)
	@sh examples/demo.sh $(BUILD)

# ---- Installation ---------------------------------------------------------
# `make install` (PREFIX, DESTDIR; BINDIR, LIBDIR, INCLUDEDIR, DATADIR when
# set) adds the harness, its GDB helper script, the scenario header, the
# scenario library and asynctrace-scenario.pc.  The harness finds its helper
# in ../share/asynctrace/harness/ from its own directory.
H_BINDIR     = $(or $(BINDIR),$(PREFIX)/bin)
H_LIBDIR     = $(or $(LIBDIR),$(PREFIX)/lib)
H_INCLUDEDIR = $(or $(INCLUDEDIR),$(PREFIX)/include)
H_DATADIR    = $(or $(DATADIR),$(PREFIX)/share)
SCN_PC       := $(BUILD)/asynctrace-scenario.pc

.PHONY: install-harness uninstall-harness
install: install-harness
uninstall: uninstall-harness

$(SCN_PC): mk/asynctrace-scenario.pc.in FORCE-SCN-PC
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(H_LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(H_INCLUDEDIR)|g' $< > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
.PHONY: FORCE-SCN-PC
FORCE-SCN-PC:

install-harness: $(HARNESS_BIN) $(SCN_LIB) $(SCN_PC)
	install -d $(DESTDIR)$(H_BINDIR) $(DESTDIR)$(H_DATADIR)/asynctrace/harness \
	  $(DESTDIR)$(H_INCLUDEDIR)/asynctrace $(DESTDIR)$(H_LIBDIR)/pkgconfig
	install -m 755 $(HARNESS_BIN) $(DESTDIR)$(H_BINDIR)/
	install -m 644 harness/native_frames.py $(DESTDIR)$(H_DATADIR)/asynctrace/harness/
	install -m 644 $(SCN_LIB_HDR) $(DESTDIR)$(H_INCLUDEDIR)/asynctrace/
	install -m 644 $(SCN_LIB) $(DESTDIR)$(H_LIBDIR)/
	install -m 644 $(SCN_PC) $(DESTDIR)$(H_LIBDIR)/pkgconfig/

uninstall-harness:
	rm -f $(DESTDIR)$(H_BINDIR)/asynctrace-harness
	rm -f $(DESTDIR)$(H_DATADIR)/asynctrace/harness/native_frames.py
	-rmdir $(DESTDIR)$(H_DATADIR)/asynctrace/harness 2>/dev/null
	rm -f $(DESTDIR)$(H_INCLUDEDIR)/asynctrace/scenario.h
	rm -f $(DESTDIR)$(H_LIBDIR)/libasynctrace-scenario.a
	rm -f $(DESTDIR)$(H_LIBDIR)/pkgconfig/asynctrace-scenario.pc
