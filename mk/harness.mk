# mk/harness.mk - the scenario harness (build/asynctrace-harness), the
# scenario programs (build/scenarios/NAME), the harness's own failure tests
# (tests/harness/), the demo service (examples/) and `make demo`.

HARNESS_SRCS := $(sort $(wildcard harness/*.c))
HARNESS_OBJS := $(HARNESS_SRCS:harness/%.c=$(BUILD)/harness-obj/%.o)
HARNESS_BIN  := $(BUILD)/asynctrace-harness

SCN_COMMON_SRCS := $(sort $(wildcard scenarios/common/*.c))
SCN_COMMON_HDRS := $(wildcard scenarios/common/*.h)
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
ALL_TARGETS  += $(HARNESS_BIN) $(SCN_BINS)
TEST_TARGETS += test-harness

.PHONY: test-harness test-harness-self scenarios harness demo-run

harness: $(HARNESS_BIN)
scenarios: $(SCN_BINS)

$(BUILD)/harness-obj/%.o: harness/%.c harness/harness.h
	@mkdir -p $(@D)
	$(CC) $(JANSSON_CFLAGS) $(CFLAGS) -c $< -o $@

$(HARNESS_BIN): $(HARNESS_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(JANSSON_LIBS) -pthread

# Scenario sources may include one another (13 and 14 reuse 2, 5, 7, 11),
# so each depends on all of them.
$(BUILD)/scenarios/%: scenarios/%.c $(SCN_SRCS) $(SCN_COMMON_SRCS) $(SCN_COMMON_HDRS) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Iscenarios/common $(CFLAGS) $(SCN_CFLAGS) $< $(SCN_COMMON_SRCS) -o $@ $(LIB_A) $(LDLIBS)
	$(if $(filter $*,$(SCN_STRIPPED)),strip --strip-all $@)

$(BUILD)/tests/harness/%: tests/harness/%.c $(wildcard tests/harness/*.h) $(SCN_COMMON_SRCS) $(SCN_COMMON_HDRS) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Iscenarios/common $(CFLAGS) $(SCN_CFLAGS) $< $(SCN_COMMON_SRCS) -o $@ $(LIB_A) $(LDLIBS)

# The harness's failure handling first (broken scenarios, exact verdicts),
# then the scenario suite.
test-harness-self: $(HARNESS_BIN) $(HSELF_BINS)
	@sh tests/harness/selftest.sh $(BUILD)

test-harness: $(HARNESS_BIN) $(SCN_BINS) test-harness-self
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

san-harness: $(HARNESS_SAN_BIN) $(HSELF_BINS)
	@HARNESS=$(HARNESS_SAN_BIN) sh tests/harness/selftest.sh $(BUILD)

# The main job (`make demo` builds everything, then runs this): start the
# demo service, let it get into trouble, show what the GDB extension says.
demo-run: $(EXAMPLE_BINS)
	@sh examples/demo.sh $(BUILD)
