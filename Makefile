# sockit — a toolkit for network sockets on Linux. Plain GNU make; see README.md.
#
#   make                 build build/sockit, build/libsockit.a and build/libsockit.so
#   make run             install deps, build, run the article's echo exchange
#   make test            deps, format check, fuzz corpus replay, all tests, again under ASan+UBSan
#   make install         PREFIX=/usr/local DESTDIR=
#   make SANITIZE=address,undefined   sanitized build (into build/san)
#   make CC=clang        any C17 compiler; gcc and clang are both kept warning-free

PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?=
BUILD    ?= build$(if $(SANITIZE),/san)

CPPFLAGS += -Iinclude -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wvla -pthread -MMD -MP
LDFLAGS  += -pthread
LDLIBS   += -luring -lpcap -lcrypto -lz -ljansson -lhiredis -lm
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# Sources are found at any depth, so a new folder (src/lib/proto/http/) joins the build as is.
files_under = $(sort $(shell find $(1) -type f -name '$(2)' 2>/dev/null))

LIB_SRC  := $(call files_under,src/lib,*.c)
CLI_SRC  := $(call files_under,src/cli,*.c)
TEST_SRC := $(call files_under,tests/unit tests/integration tests/support,*.c)
LIB_HDR  := $(call files_under,include src/lib,*.h)
EX_SRC   := $(sort $(wildcard examples/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

VERSION  := 0.1.0
SOVER    := 0
LIB      := $(BUILD)/libsockit.a
SHLIB    := $(BUILD)/libsockit.so.$(VERSION)
SOLINKS  := $(BUILD)/libsockit.so.$(SOVER) $(BUILD)/libsockit.so
BIN      := $(BUILD)/sockit
TESTS    := $(BUILD)/tests/sockit-tests
EXAMPLES := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
MAN      := $(BUILD)/sockit.1

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
pic = $(patsubst %.c,$(BUILD)/pic/%.o,$(1))

# Libraries the build needs (pkg-config module:Debian package), checked once per make run
# before the first compile, so that a missing one is named with its fix (make deps) rather
# than met as a compiler error. The test check follows the library check.
LIB_DEPS  := liburing:liburing-dev libpcap:libpcap-dev libcrypto:libssl-dev zlib:zlib1g-dev \
             jansson:libjansson-dev hiredis:libhiredis-dev
TEST_DEPS := criterion:libcriterion-dev

# `make V=1` shows full commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

.PHONY: all run test check unit format format-check fuzz fuzz-replay examples man install cxx-headers \
        uninstall deps clean bench anchors check-lib-deps check-test-deps check-anchor-deps install-check
.DEFAULT_GOAL := all

all: $(BIN) $(LIB) $(SOLINKS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The shared library's objects are built apart, position-independent, so the static archive
# and the binary keep the code that cost.sh measures.
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

check-lib-deps:
	@./scripts/check-deps.sh $(LIB_DEPS)

# The chat's page is taken into the binary by .incbin: rebuild when it changes.
$(BUILD)/obj/src/cli/chat_page.o: src/cli/chat_page.html

check-test-deps: check-lib-deps
	@./scripts/check-deps.sh $(TEST_DEPS)

$(call obj,$(LIB_SRC) $(CLI_SRC)) $(call pic,$(LIB_SRC)): | check-lib-deps
$(call obj,$(TEST_SRC)): | check-test-deps

# The archive is made afresh: `ar r` into the old one would keep members whose source is gone.
$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(@D)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# libsockit.so.0.1.0 with the soname libsockit.so.0 (bumped when the ABI breaks); only the
# public sockit_* symbols are exported (src/lib/libsockit.map).
$(SHLIB): $(call pic,$(LIB_SRC)) src/lib/libsockit.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-soname,libsockit.so.$(SOVER) \
	    -Wl,--version-script,src/lib/libsockit.map $(call pic,$(LIB_SRC)) $(LDLIBS) -o $@

$(SOLINKS): $(SHLIB)
	$(Q)ln -sf $(notdir $(SHLIB)) $@

$(BIN): $(call obj,$(CLI_SRC)) $(LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(TESTS): $(call obj,$(TEST_SRC)) $(LIB)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lcriterion $(LDLIBS) -o $@

# The examples use the plain socket API only: no libsockit.
$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

examples: $(EXAMPLES)

# libFuzzer needs clang; fuzzers are built apart from the main build, always sanitized.
FUZZ_CFLAGS := -std=c17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build/fuzz/%: fuzz/%.c $(LIB_SRC) $(LIB_HDR) | check-lib-deps
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)clang $(CPPFLAGS) $(FUZZ_CFLAGS) $< $(LIB_SRC) $(LDLIBS) -o $@

# Replay every seed and saved input once (no fuzzing): fast, deterministic, part of make test.
fuzz-replay: $(FUZZERS)
	@for f in $(FUZZERS); do \
	    name=$${f#build/fuzz/fuzz_}; \
	    $$f -runs=0 fuzz/corpus/$$name >/dev/null 2>build/fuzz/$$name.log \
	        || { cat build/fuzz/$$name.log; exit 1; }; \
	    echo "fuzz-replay: $$name: $$(ls fuzz/corpus/$$name | wc -l) inputs ok"; \
	done

FUZZ_SECONDS ?= 60
fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do \
	    name=$${f#build/fuzz/fuzz_}; mkdir -p build/fuzz/work-$$name; \
	    $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/work-$$name fuzz/corpus/$$name || exit 1; \
	done

# The man page is generated from the program's own --help texts, so it cannot drift:
# help2man reads `sockit --help`, and each subcommand's --help becomes a section. The
# examples of `sockit --help` become EXAMPLES one per line (help2man would fill them into
# one paragraph).
SUBCOMMANDS := echo send connect listen bench http ping capture inject ws chat impair game-server game-client
$(BUILD)/sockit.h2m: man/sockit.h2m $(BIN)
	$(Q){ cat man/sockit.h2m; for c in $(SUBCOMMANDS); do \
	    printf '\n[SOCKIT %s]\n.nf\n' "$$(echo $$c | tr a-z A-Z)"; \
	    $(BIN) $$c --help | sed -e 's/\\/\\e/g' -e "s/^[.']/\\\\\&&/"; \
	    printf '.fi\n'; done; \
	    printf '\n[=EXAMPLES]\n.nf\n'; \
	    $(BIN) --help | sed -n '/^Examples:/,$$p' | sed -e '1d' -e 's/^  //'; \
	    printf '.fi\n'; } > $@

$(MAN): $(BIN) $(BUILD)/sockit.h2m
	$(call say,MAN,$@)
	$(Q)help2man --no-info --section=1 --include=$(BUILD)/sockit.h2m --version-string=0.1.0 \
	    --name="a toolkit for network sockets: echo, send, connect, listen, bench, http, ping, capture, inject" $(BIN) -o $@

man: $(MAN)

deps:
	@./scripts/deps.sh

# Test-only peers from the npm registry (node's ws), at the versions package-lock.json pins.
NODE_DEPS := tests/node/node_modules/.package-lock.json
$(NODE_DEPS): tests/node/package.json tests/node/package-lock.json
	$(call say,NPM,tests/node)
	$(Q)cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null

# Benchmark anchors: servers we compete with, built from bench/anchors/ (libuv, libwebsockets
# and ENet from Debian; the node chat runs on tests/node's ws), the chat's load client and the
# game's forged-request attacker.
ANCHOR_BINS := $(BUILD)/bench/uv_echo $(BUILD)/bench/epoll_echo $(BUILD)/bench/chat_lws \
               $(BUILD)/bench/chat_load $(BUILD)/bench/send_floor $(BUILD)/bench/enet_game \
               $(BUILD)/bench/game_forge
ANCHOR_DEPS := libuv:libuv1-dev libwebsockets:libwebsockets-dev jansson:libjansson-dev \
               libenet:libenet-dev
check-anchor-deps:
	@./scripts/check-deps.sh $(ANCHOR_DEPS)
$(BUILD)/bench/uv_echo $(BUILD)/bench/chat_lws $(BUILD)/bench/enet_game: | check-anchor-deps
$(BUILD)/bench/uv_echo: bench/anchors/uv_echo.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) -D_GNU_SOURCE -O2 -g -std=c17 -Wall -Wextra -Werror $< $$(pkg-config --cflags --libs libuv) -o $@
$(BUILD)/bench/epoll_echo: bench/anchors/epoll_echo.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) -D_GNU_SOURCE -O2 -g -std=c17 -Wall -Wextra -Werror $< -o $@
$(BUILD)/bench/send_floor: bench/send_floor.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) -D_GNU_SOURCE -O2 -g -std=c17 -Wall -Wextra -Werror $< -o $@

$(BUILD)/bench/chat_lws: bench/anchors/chat_lws.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) -D_GNU_SOURCE -O2 -g -std=c17 -Wall -Wextra -Werror $< \
	    $$(pkg-config --cflags --libs libwebsockets jansson) -o $@
# The load client takes the sans-I/O WebSocket pieces (sockit/ws.h) from the static library.
$(BUILD)/bench/chat_load: bench/chat_load.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@
# The ENet game (issue 21) carries sockit's game world and snapshots (sockit/game.h) from the
# static library; game_forge sends the same forged connect traffic to a sockit game server.
$(BUILD)/bench/enet_game: bench/anchors/enet_game.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $$(pkg-config --cflags libenet) $(CFLAGS) $(LDFLAGS) $< $(LIB) \
	    $$(pkg-config --libs libenet) $(LDLIBS) -o $@
$(BUILD)/bench/game_forge: bench/game_forge.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

anchors: $(ANCHOR_BINS) $(NODE_DEPS)

# Speed lives here, never in unit tests: anchors and sockit under the same load, ratios printed
# and recorded in docs/benchmarks.md: CPU time, msgs/s, p99 and bulk throughput (echo.sh), then
# instructions, syscalls and context switches per message (cost.sh), which do not drift
# between runs; then HTTP, capture and the WebSocket chat (chat.sh: fan-out, latency,
# handshakes, memory per idle connection), the impairment proxy (impair.sh: added latency,
# rate ratio against socat, accuracy) and the UDP game against ENet (game.sh: bytes and
# datagrams per update, update latency and survival through loss, dead-client detection,
# forged requests, CPU per message at 1000 clients). BENCH_ARGS=--quick for short runs.
bench: deps all anchors
	./bench/echo.sh $(BENCH_ARGS)
	./bench/cost.sh
	./bench/http.sh $(BENCH_ARGS)
	./bench/capture.sh $(BENCH_ARGS)
	./bench/chat.sh $(BENCH_ARGS)
	./bench/chat.sh --redis $(BENCH_ARGS)
	./bench/impair.sh $(BENCH_ARGS)
	./bench/game.sh $(BENCH_ARGS)

run: deps
	@$(MAKE) --no-print-directory all
	@./scripts/demo.sh $(BIN)

# The unsanitized run checks the real binaries; the second run repeats every test with
# AddressSanitizer, LeakSanitizer and UBSan; its Criterion summary is the last thing printed.
test: deps
	@$(MAKE) --no-print-directory format-check $(NODE_DEPS)
	@$(MAKE) --no-print-directory all examples man $(TESTS)
	@$(MAKE) --no-print-directory cxx-headers install-check
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory SANITIZE=address,undefined $(BUILD)/san/sockit \
	    $(BUILD)/san/tests/sockit-tests
	SOCKIT_BIN=$(BIN) SOCKIT_EXAMPLES=$(BUILD)/examples SOCKIT_MAN=$(MAN) $(TESTS) --jobs 2 --short-filename
	SOCKIT_BIN=$(BUILD)/san/sockit SOCKIT_EXAMPLES=$(BUILD)/examples SOCKIT_MAN=$(MAN) SOCKIT_SANITIZED=1 \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(BUILD)/san/tests/sockit-tests --jobs 2 --short-filename

check: test

# The public headers from C++: every one included by a C++17 file that calls the library.
cxx-headers: $(LIB)
	@mkdir -p $(BUILD)/cxx
	$(Q)$(CXX) -std=c++17 -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE tests/cxx/headers.cpp \
	    $(LIB) $(LDLIBS) -pthread -o $(BUILD)/cxx/headers
	$(Q)$(BUILD)/cxx/headers && echo "cxx-headers: ok"

# An outside program built against a scratch `make install` with pkg-config alone, linked
# with the shared library and again with the static one.
install-check: all $(MAN)
	$(Q)./tests/install/check.sh $(BUILD)

# fuzz/corpus holds inputs, not code: only the fuzz targets themselves are formatted.
FORMAT_FILES = $(call files_under,include src tests examples bench,*.[ch]) $(wildcard fuzz/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

install: all $(MAN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/sockit \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sockit
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libsockit.a
	install -m 755 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/$(notdir $(SHLIB))
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(PREFIX)/lib/libsockit.so.$(SOVER)
	ln -sf libsockit.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libsockit.so
	for h in $(call files_under,include/sockit,*.h); do \
	    install -D -m 644 $$h $(DESTDIR)$(PREFIX)/$$h || exit 1; done
	install -m 644 $(MAN) $(DESTDIR)$(PREFIX)/share/man/man1/sockit.1
	sed 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(VERSION)|' sockit.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sockit.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sockit $(DESTDIR)$(PREFIX)/lib/libsockit.a \
	    $(DESTDIR)$(PREFIX)/lib/libsockit.so* \
	    $(DESTDIR)$(PREFIX)/share/man/man1/sockit.1 $(DESTDIR)$(PREFIX)/lib/pkgconfig/sockit.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/sockit

clean:
	rm -rf build

-include $(sort $(shell find build $(BUILD) -name '*.d' 2>/dev/null))
