# gw - outbound SMTP gateway.  GNU make; libraries through pkg-config.
#
#   make                 build gwd, gwctl, gwsearch, gwtop into build/
#   make check           everything the CI runs (unit, e2e, ASan/UBSan, fuzz)
#   make unit            cmocka unit tests
#   make modgraph        fail on an include or link circle among gwd's
#                        modules (scripts/modgraph.py)
#   make e2e             end-to-end tests (pytest) against build/
#   make san             build with AddressSanitizer+UBSan into build-san/
#   make check-san       unit + e2e against build-san/
#   make fuzz            build the libFuzzer harnesses (clang-14)
#   make fuzz-short      a short run of every harness (part of check)
#   make bench           bench/relay against Postfix, then bench/api: the
#                        HTTP send API against SMTP submission (not part
#                        of check); BENCH_ARGS=--policy: MIME load, gwd
#                        with ten content policies too, and the detector
#                        scan; BENCH_ARGS=--cluster: gwd alone against gwd
#                        in cluster mode with Redis (make bench-cluster)
#   make bench-api       bench/api alone
#   make bench-priority  bench/priority: transactional mail under a bulk
#                        backlog, gwd against Postfix (not part of check)
#   make bench-retention bench/retention: how fast gwd prunes log.db
#   make bench-logday    bench/logday: gwtop --once and gwsearch stats on
#                        a log.db of one day of 1 000 000 messages (not
#                        part of check)
#   make bench-faults    bench/faults: kill -9, full disk, SIGTERM under
#                        load, a burst of 451s; acked, delivered, lost,
#                        duplicated (root; not part of check)
#   make bench-submit    bench/submit: STARTTLS + AUTH submission, gwd
#                        against Postfix with Cyrus SASL
#   make bench-dlp       bench/dlpscan.c: the content scanner's speed
#   make bench-idletls   bench/idletls: gwd's memory for 10 000 idle
#                        TLS sessions
#   make bench-queue     bench/queue: a million messages queued for a down
#                        destination: RSS, restart, drain (root; not part
#                        of check)
#   make install         PREFIX=/usr/local DESTDIR= (BASHCOMPDIR=: where
#                        the bash completion of the tools goes)

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
# bash-completion looks in $(PREFIX)/share/... through XDG_DATA_DIRS;
# for PREFIX=/usr, its own directory (pkg-config's completionsdir).
BASHCOMP_USR := $(or $(shell pkg-config --variable=completionsdir \
                bash-completion 2>/dev/null),/usr/share/bash-completion/completions)
BASHCOMPDIR ?= $(if $(filter /usr,$(PREFIX)),$(BASHCOMP_USR),$(PREFIX)/share/bash-completion/completions)
BUILD      ?= build
CC         ?= cc
PYTHON     ?= /usr/bin/python3
NPROC      := $(shell nproc)

PKGS       := openssl sqlite3 libconfig libidn2 zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CURSES_LIBS := $(shell pkg-config --libs ncursesw)
EDIT_LIBS  := $(shell pkg-config --libs libedit)
# The content policy (common/mime_walk.c, common/dlp*.c; common/urlx.c
# with libpsl, common/rspamd_reply.c with jansson): gwd, gwctl,
# their tests and fuzzers link these; gwsearch and gwtop do not.
CONTENT_PKGS := gmime-3.0 libhs libmagic libpsl jansson
CONTENT_LIBS := $(shell pkg-config --libs $(CONTENT_PKGS))
# HTTP in (gwd/http.c: metrics, unsubscribe links, the send API with
# its JSON; GnuTLS to name the TLS of a request) and out (libcurl:
# gwd/httpc.c's thread, gwd/rspamd.c on the content workers): gwd only.
HTTP_PKGS  := libmicrohttpd jansson gnutls libcurl
HTTP_LIBS  := $(shell pkg-config --libs $(HTTP_PKGS))
# Cluster state on Redis (gwd/cluster*.c; gwctl publishes suppression
# changes, gwtop --cluster reads the nodes' stats).  gw.db's shared
# configuration travels as SQLite changesets: the session extension,
# which Debian's libsqlite3 is built with, declared by the two -D below.
REDIS_LIBS := $(shell pkg-config --libs hiredis)
# gwd's system call allow-list (gwd/sandbox.c).
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp)

OPT        ?= -O2
CFLAGS     ?= -g
CFLAGS     += $(OPT) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
              -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
              -Wno-unused-parameter -fno-strict-aliasing \
              -DGW_VERSION='"$(VERSION)"' -Icommon $(PKG_CFLAGS) \
              -DSQLITE_ENABLE_SESSION -DSQLITE_ENABLE_PREUPDATE_HOOK \
              $(shell pkg-config --cflags $(CONTENT_PKGS) $(HTTP_PKGS))
LDLIBS     += $(PKG_LIBS) -lpthread -lm

ifeq ($(SAN),1)
BUILD      := build-san
OPT        := -O1
CFLAGS     += -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
endif

COMMON_SRC := $(wildcard common/*.c)
GWD_SRC    := $(filter-out gwd/main.c,$(wildcard gwd/*.c))
OBJ        := $(BUILD)/obj
COMMON_OBJ := $(COMMON_SRC:%.c=$(OBJ)/%.o)
GWD_OBJ    := $(GWD_SRC:%.c=$(OBJ)/%.o)
GWCTL_OBJ  := $(patsubst %.c,$(OBJ)/%.o,$(wildcard gwctl/*.c))
GWSEARCH_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(wildcard gwsearch/*.c))
GWTOP_OBJ  := $(patsubst %.c,$(OBJ)/%.o,$(wildcard gwtop/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGS      := $(BUILD)/gwd $(BUILD)/gwctl $(BUILD)/gwsearch $(BUILD)/gwtop
# Drivers the e2e tests run (built with the programs, never installed);
# submitload is bench/submit's load generator, tested in e2e too.
TEST_TOOLS := $(BUILD)/tests/addrlist_dump $(BUILD)/submitload

.PHONY: bench-api bench-cluster bench-dlp bench-submit bench-idletls bench-search bench-priority bench-retention bench-logday bench-faults bench-queue all check unit modgraph e2e san check-san fuzz fuzz-short fuzz-long bench install clean lint-man
.SUFFIXES:

all: $(PROGS) $(TEST_TOOLS)

# No -Igwd: a gwd source finds gwd's headers beside it, and common/,
# gwctl, gwsearch and gwtop cannot include them (common/ knows nothing
# of gwd).
$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libgwcommon.a: $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libgwd.a: $(GWD_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/gwd: $(OBJ)/gwd/main.o $(BUILD)/libgwd.a $(BUILD)/libgwcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CONTENT_LIBS) $(HTTP_LIBS) $(REDIS_LIBS) $(SECCOMP_LIBS) $(LDLIBS)

$(BUILD)/gwctl: $(GWCTL_OBJ) $(BUILD)/libgwcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(EDIT_LIBS) $(CONTENT_LIBS) $(REDIS_LIBS) $(LDLIBS)

$(BUILD)/gwsearch: $(GWSEARCH_OBJ) $(BUILD)/libgwcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/gwtop: $(GWTOP_OBJ) $(BUILD)/libgwcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS) $(REDIS_LIBS) $(LDLIBS)

# gwd's reading of From: against Python's (tests/e2e/test_addrlist.py).
$(BUILD)/tests/addrlist_dump: tests/diff/addrlist_dump.c $(OBJ)/gwd/msg.o $(BUILD)/libgwcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Igwd $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test names the gwd sources it exercises on its first line
# ("// sources: gwd/reply.c gwd/dsn.c") and links them with libgwcommon.
unit_srcs = $(shell sed -n '1s|^// sources: ||p' tests/unit/$(1).c)
define unit_rule
$(BUILD)/tests/$(1): tests/unit/$(1).c $(patsubst %.c,$(OBJ)/%.o,$(call unit_srcs,$(1))) $(BUILD)/libgwcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -Igwd -Igwctl $$(LDFLAGS) -o $$@ $$^ $$(shell pkg-config --libs cmocka) $$(CONTENT_LIBS) $$(HTTP_LIBS) $$(REDIS_LIBS) $$(SECCOMP_LIBS) $$(LDLIBS)
endef
$(foreach t,$(UNIT_SRC:tests/unit/%.c=%),$(eval $(call unit_rule,$(t))))
# A helper a unit test names there (tests/unit/sched_fake.c: what stands
# in for the rest of gwd) sees gwd's headers, as the test does.
$(OBJ)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Igwd -c -o $@ $<

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; GW_TESTDATA=tests/data $$t; done

# gwd's modules in layers, each using only those below it: an include
# or a symbol one module's objects take from another's that closes a
# circle fails (README, "How it works").
modgraph: $(GWD_OBJ) $(OBJ)/gwd/main.o
	$(PYTHON) scripts/modgraph.py --objects $(OBJ)/gwd

# E2E_JOBS pytest-xdist workers, a test file per worker at a time (its
# module fixtures stay in one process); the slowest tests are listed.
E2E_JOBS ?= $(NPROC)
e2e: $(PROGS) $(TEST_TOOLS)
	GW_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -x -p no:cacheprovider -n $(E2E_JOBS) --dist loadfile --durations=25 tests/e2e $(PYTEST_ARGS)

san:
	$(MAKE) SAN=1 all $(UNIT_BIN:build/%=build-san/%)

check-san:
	$(MAKE) SAN=1 unit e2e

# libFuzzer harnesses: tests/fuzz/fuzz_*.c, each linked against the pure
# sources it names in its first line ("// sources: a.c b.c").
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_CC    ?= clang-14
FUZZ_FLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Icommon -Igwd -Igwctl $(PKG_CFLAGS) \
              $(shell pkg-config --cflags $(CONTENT_PKGS)) \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 10
# The send API's JSON (tests/fuzz/fuzz_api_msg.c).
FUZZ_LIBS  := $(shell pkg-config --libs jansson)

build-fuzz/%: tests/fuzz/%.c FORCE
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $$(sed -n '1s|^// sources: ||p' $<) $(CONTENT_LIBS) $(FUZZ_LIBS) $(PKG_LIBS) -lpthread -lm

fuzz: $(FUZZ_BIN)

fuzz-short: $(FUZZ_BIN)
	@KEEP_GOING=1 scripts/fuzz-run.sh $(FUZZ_SECONDS) $(NPROC) $(FUZZ_BIN)

# Every harness for FUZZ_LONG_SECONDS (10 minutes), FUZZ_JOBS at once,
# all of them even after a failure; not part of `make check` (README,
# "Tests").
FUZZ_LONG_SECONDS ?= 600
FUZZ_JOBS ?= 2
fuzz-long: $(FUZZ_BIN)
	@KEEP_GOING=1 scripts/fuzz-run.sh $(FUZZ_LONG_SECONDS) $(FUZZ_JOBS) $(FUZZ_BIN)

FORCE:

check:
	$(MAKE) -j$(NPROC) all
	$(MAKE) unit modgraph
	$(MAKE) e2e
	$(MAKE) -j$(NPROC) san
	$(MAKE) check-san
	$(MAKE) -j$(NPROC) fuzz-short
	$(MAKE) lint-man

# Style messages too, as tests/e2e/test_manpages.py: only references to
# pages this machine lacks are let through.
lint-man:
	@bad=$$(for m in man/*.[0-9]; do mandoc -Tlint -Wstyle $$m 2>&1; done | \
	    grep -v -e 'referenced manual not found' -e 'outdated mandoc.db'); \
	if [ -n "$$bad" ]; then echo "$$bad"; exit 1; fi; \
	echo "man pages: mandoc -Tlint -Wstyle clean"

bench: all $(BUILD)/dlpscan $(BUILD)/polcg
	$(PYTHON) bench/relay $(BENCH_ARGS)
	$(PYTHON) bench/api

# bench/api: one gwd, SMTP submission (submitload) against POST
# /v1/messages (wrk with bench/api.lua, keep-alive), runs alternating.
bench-api: all
	$(PYTHON) bench/api $(BENCH_ARGS)

# bench/relay --cluster: one gwd without Redis, one in cluster mode
# (throttle and quota tokens from a redis-server started for the run):
# the cluster's cost in msg/s and CPU per message, Redis round trips.
bench-cluster: all
	$(PYTHON) bench/relay --cluster $(BENCH_ARGS)

# bench/submitload.c: STARTTLS/implicit TLS + AUTH PLAIN load generator.
$(BUILD)/submitload: bench/submitload.c bench/mimeload.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

# bench/submit: TLS + AUTH submission, gwd against Postfix with Cyrus
# SASL, without and with DKIM (BENCH_ARGS="--messages 500 --reps 1" for
# a short run).
bench-submit: all
	$(PYTHON) bench/submit $(BENCH_ARGS)
	$(PYTHON) bench/submit --dkim $(BENCH_ARGS)

# bench/dlpscan.c: the content scanner's GB/s on one core, 10 detectors
# over 50 KB of text, the median of rounds (BENCH_ARGS="SIZE SECONDS
# ROUNDS").
$(BUILD)/dlpscan: bench/dlpscan.c $(BUILD)/libgwcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CONTENT_LIBS) $(LDLIBS)

bench-dlp: $(BUILD)/dlpscan
	$(BUILD)/dlpscan $(BENCH_ARGS)

# bench/polcg.c: the policy stage's walk and scan of bench/relay's MIME
# message, N times, for valgrind --tool=callgrind (instructions per
# message by function; bench/RESULTS.md).
$(BUILD)/polcg: bench/polcg.c bench/mimeload.h $(BUILD)/libgwcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(CONTENT_LIBS) $(LDLIBS)

# bench/idletls: gwd's RSS with 10 000 idle TLS sessions.
bench-idletls: all
	$(PYTHON) bench/idletls $(BENCH_ARGS)

# bench/search: a log of SEARCH_EVENTS built with gwd's own writer, then
# gwsearch timed on it while gwd relays at full speed.
$(BUILD)/logfill: bench/logfill.c $(OBJ)/gwd/auditlog.o $(BUILD)/libgwcommon.a
	$(CC) $(CFLAGS) -Igwd $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-search: all $(BUILD)/logfill
	$(PYTHON) bench/search $(BENCH_ARGS)

# bench/retention: events pruned per second from a log.db of 2 million
# events, half past log.retention_days (BENCH_ARGS="--load 10": while
# gwd relays; "--build old=DIR --build new=DIR" to compare builds).
bench-retention: all $(BUILD)/logfill
	$(PYTHON) bench/retention $(BENCH_ARGS)

# bench/logday: CPU of gwtop --once and gwsearch stats on one day of a
# million messages, made once by logfill in /var/tmp/gw-logday
# (BENCH_ARGS="--compare OTHER/build": that build too, interleaved).
bench-logday: all $(BUILD)/logfill
	$(PYTHON) bench/logday $(BENCH_ARGS)

# bench/priority: 100 000 bulk messages queued for a slow destination,
# then transactional ones timed from their 250 to the sink
# (BENCH_ARGS="--backlog 2000" for a short run).
bench-priority: all
	$(PYTHON) bench/priority $(BENCH_ARGS)

# bench/faults: issue 21's fault scenarios under load, each with its
# count of acknowledged, delivered, lost and duplicated messages
# (BENCH_ARGS="--scenarios sigterm" for one).
bench-faults: all
	$(PYTHON) bench/faults $(BENCH_ARGS)

# bench/queue: 1 000 000 messages queued for a destination that is down:
# gwd's RSS, restart to accepting and to delivering, the drain against
# the relay rate (BENCH_ARGS="--messages 100000" for a short run).
bench-queue: all
	$(PYTHON) bench/queue $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/gw/examples \
	  $(DESTDIR)$(PREFIX)/share/doc/gw/examples/policies $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/gwd $(BUILD)/gwctl $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(BUILD)/gwsearch $(BUILD)/gwtop $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $$(find examples -maxdepth 1 -type f) \
	  $(DESTDIR)$(PREFIX)/share/doc/gw/examples/
	install -m 0755 examples/policies/*.sh \
	  $(DESTDIR)$(PREFIX)/share/doc/gw/examples/policies/
	for p in gwctl gwsearch gwtop; do \
	  install -m 0644 completion/gw.bash $(DESTDIR)$(BASHCOMPDIR)/$$p; done

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
