# sluice — build, test, run.
#
#   make            build ./sluice and ./sluicectl, and the man pages into
#                   build/man (sluice.1, sluicectl.1, sluice.ini.5) when
#                   go-md2man is installed
#   make run        install what is missing, build, start a scratch PostgreSQL
#                   and sluice in front of it, print the DATABASE_URL
#   make check      install what is missing, build, run every test with prove
#   make asan       the same tests against an AddressSanitizer+UBSan build
#   make fuzz       run each libFuzzer target for FUZZ_TIME seconds (clang), then
#                   merge inputs that add coverage into test/fuzz/corpus/
#   make difftest   differential protocol test campaign (test/diff/): random
#                   seeds for DIFF_TIME seconds (default 600) in every pool mode,
#                   each client's conversation through sluice compared with the
#                   one it has with PostgreSQL directly; failures are shrunk into
#                   test/diff/corpus/. DIFF_POOLER=pgbouncer runs it against
#                   /usr/sbin/pgbouncer; with BUILD=build/asan OUT=build/asan
#                   SAN=1 against the sanitizer build. See doc/testing.md.
#   make bench      build ./sluice, run test/bench/run: sluice against PgBouncer and
#                   direct PostgreSQL (QUICK=1: a two-minute smoke run); writes
#                   doc/performance.md and .png, raw results in build/bench/
#   make cluster-proof  issue 19's load proof of the cluster gate in full
#                   (test/integ/74-cluster-load.t with 200 clients for 40 s;
#                   make check runs it with 60 clients for 20 s)
#   make deps       apt-get install the Debian packages that are missing
#   make deb        build the Debian package build/deb/sluice_VERSION_ARCH.deb
#                   with dpkg-buildpackage from debian/, in a copy of the tree
#                   (build/deb/sluice-VERSION); doc/packaging.md
#
# libsystemd (sd_notify for a Type=notify service, src/sdnotify.c) is used
# when pkg-config finds it; SYSTEMD=0 builds without it, SYSTEMD=1 insists.

BUILD   ?= build
OUT     ?= .
SAN     ?=
FUZZ_TIME ?= 60
DIFF_TIME ?= 600
DIFF_MODES ?= session,transaction,statement
DIFF_POOLER ?= sluice
DIFF_PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)

CC      ?= cc
WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
# libpq: the coordination connection of a cluster (src/cluster.c) and sluicectl
PQINCLUDE ?= $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
PQINCLUDE := $(PQINCLUDE)
CFLAGS_BASE = -std=gnu11 -g $(WARN) -Iinclude -Itest/lib -I$(PQINCLUDE) -D_GNU_SOURCE
LIBS    = -levent_core -levent_extra -lssl -lcrypto -luring -lpq
ifndef SYSTEMD
SYSTEMD := $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1 || echo 0)
endif
ifeq ($(SYSTEMD),1)
CFLAGS_BASE += -DHAVE_SYSTEMD $(shell pkg-config --cflags libsystemd)
LIBS    += $(or $(shell pkg-config --libs libsystemd 2>/dev/null),-lsystemd)
endif
ifeq ($(SAN),1)
CFLAGS_OPT = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined -DSLUICE_DEBUG
LDFLAGS_SAN = -fsanitize=address,undefined
else
CFLAGS_OPT ?= -O2
endif
CFLAGS  += $(CFLAGS_BASE) $(CFLAGS_OPT)
PQLIBS  = -lpq

SRCS    := $(wildcard src/*.c)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
OBJS    := $(LIBSRCS:src/%.c=$(BUILD)/obj/%.o)
LIBA    := $(BUILD)/libsluice.a
UNIT_T  := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%.t,$(wildcard test/unit/*.c))
TBIN    := $(patsubst test/integ/c/%.c,$(BUILD)/test/bin/%,$(wildcard test/integ/c/*.c))
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,%,$(filter-out test/fuzz/replay_main.c,$(wildcard test/fuzz/*.c)))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(BUILD)/test/fuzz/%_replay.t)
CTL_SRCS := $(wildcard src/ctl/*.c)
VERSION := $(shell sed -n 's/^\#define SLUICE_VERSION "\(.*\)"$$/\1/p' src/main.c)
# Man pages: Markdown (doc/man/*.md; sluice.ini.5 includes doc/config.md)
# through doc/man/mkpage.pl and Debian's go-md2man.
MD2MAN  := $(shell command -v go-md2man 2>/dev/null)
MAN_PAGES := $(BUILD)/man/sluice.1 $(BUILD)/man/sluicectl.1 $(BUILD)/man/sluice.ini.5

PROVE_ARGS ?=
export SLUICE_BIN = $(abspath $(OUT)/sluice)
export SLUICECTL_BIN = $(abspath $(OUT)/sluicectl)
export SLUICE_TEST_BIN = $(abspath $(BUILD)/test/bin)
export SLUICE_MAN_DIR = $(abspath $(BUILD)/man)

.PHONY: all deps run check test asan fuzz bench clean difftest man man-skipped deb cluster-proof FORCE
all: $(OUT)/sluice $(OUT)/sluicectl $(UNIT_T) $(TBIN) $(FUZZ_REPLAY) man

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/obj $(BUILD)/test/unit $(BUILD)/test/bin $(BUILD)/test/fuzz $(BUILD)/man/md:
	mkdir -p $@
# sdnotify.o is rebuilt when SYSTEMD changes between two builds in one BUILD
$(BUILD)/systemd.flag: FORCE | $(BUILD)/obj
	@echo $(SYSTEMD) | cmp -s - $@ || echo $(SYSTEMD) > $@
$(BUILD)/obj/sdnotify.o: $(BUILD)/systemd.flag
$(LIBA): $(OBJS)
	rm -f $@ && ar rcs $@ $^
$(OUT)/sluice: $(BUILD)/obj/main.o $(LIBA)
	$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
# sluicectl: a libpq client of the admin console; nothing of the pooler linked in
$(OUT)/sluicectl: $(CTL_SRCS) $(wildcard src/ctl/*.h) include/sqlstate.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -I$(PQINCLUDE) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $(CTL_SRCS) $(PQLIBS)

$(BUILD)/test/unit/%.t: test/unit/%.c $(LIBA) test/lib/tap.h test/lib/sqlscan_feed.h | $(BUILD)/test/unit
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS)
$(BUILD)/test/bin/%: test/integ/c/%.c $(LIBA) | $(BUILD)/test/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -I/usr/include/postgresql $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $< $(LIBA) $(PQLIBS) $(LIBS) -lpthread
$(BUILD)/test/fuzz/%_replay.t: test/fuzz/%.c test/fuzz/replay_main.c test/lib/sqlscan_feed.h $(LIBA) | $(BUILD)/test/fuzz
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS_SAN) $(LDFLAGS) -DFUZZ_NAME='"$*"' -o $@ $< test/fuzz/replay_main.c $(LIBA) $(LIBS)

# Without go-md2man the binaries still build; make check installs it (deps)
# and test/lint/man-pages.t then fails if a page is missing.
man: $(if $(MD2MAN),$(MAN_PAGES),man-skipped)
man-skipped:
	@echo "man pages skipped: go-md2man is not installed (make deps installs it)"
$(BUILD)/man/%: doc/man/%.md doc/man/mkpage.pl src/main.c | $(BUILD)/man/md
	perl doc/man/mkpage.pl --version '$(VERSION)' $< > $(BUILD)/man/md/$*.md
	$(MD2MAN) -in $(BUILD)/man/md/$*.md -out $(BUILD)/man/md/$*.roff
	perl doc/man/mkpage.pl --roff $(BUILD)/man/md/$*.roff > $@.tmp && mv $@.tmp $@
$(BUILD)/man/sluice.ini.5: doc/config.md

# Debian packages the build, the tests and the benchmarks use.
DEB_PKGS = build-essential pkg-config libevent-dev libssl-dev libpq-dev liburing-dev libsystemd-dev \
           postgresql-15 postgresql-client-15 pgbouncer clang perl openssl \
           python3-asyncpg python3-psycopg nodejs $(if $(shell command -v npm),,npm) \
           default-jdk-headless libpostgresql-jdbc-java logrotate \
           go-md2man man-db groff-base prometheus prometheus-pgbouncer-exporter \
           debhelper dpkg-dev lintian
# Of those, packages whose postinst enables and starts a service of the
# same name (unless policy-rc.d forbids it, as in most containers): the
# tests want only their programs (promtool; the exporter, started by
# test/integ/65-monitoring.t on its own port), so make deps stops and
# disables the service of each one it installs itself.
DEB_SERVICES = prometheus prometheus-pgbouncer-exporter
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  { $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; } || exit 1; \
	  for s in $(DEB_SERVICES); do \
	    case " $$missing " in *" $$s "*) \
	      echo "make deps: stopping and disabling the $$s service (only its programs are used)"; \
	      if [ -d /run/systemd/system ]; then \
	        $$SUDO systemctl disable --now $$s.service >/dev/null 2>&1 || true; \
	      else \
	        $$SUDO invoke-rc.d $$s stop >/dev/null 2>&1 || true; \
	        $$SUDO update-rc.d $$s disable >/dev/null 2>&1 || true; \
	      fi;; \
	    esac; \
	  done; \
	fi

# The Debian package, built in a copy of the files the build needs (the
# tree's own, committed or not), so that dpkg-buildpackage writes nothing
# into the tree. The Dockerfile's build stage copies the same DEB_SRC and
# runs this target (test/lint/dockerfile.t checks both). The flags of this
# make (CFLAGS from the environment, MAKEFLAGS, and BUILD, OUT, SAN as make
# asan gives them) stay out: dpkg-buildflags
# and debian/rules decide the package's.
DEB_DIR ?= $(BUILD)/deb
DEB_SRC = Makefile README.md include src doc etc debian
deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version) || exit 1; \
	if [ "$$v" != "$(VERSION)" ]; then \
	  echo "make deb: debian/changelog is at $$v, src/main.c's SLUICE_VERSION at $(VERSION): add a changelog entry"; exit 1; \
	fi
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/sluice-$(VERSION)
	cp -R --parents $(DEB_SRC) $(DEB_DIR)/sluice-$(VERSION)/
	cd $(DEB_DIR)/sluice-$(VERSION) && \
	  env -u CFLAGS -u CPPFLAGS -u LDFLAGS -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u OUT -u SAN \
	  dpkg-buildpackage --build=binary --no-sign -jauto
	rm -rf $(DEB_DIR)/sluice-$(VERSION)
	@ls $(DEB_DIR)/sluice_$(VERSION)_*.deb

run: deps all
	perl test/lib/run-scratch.pl

test: all
	SLUICE_TEST_FAILURES=$(abspath $(BUILD))/test-failures.txt perl test/lib/prove-recap.pl $(PROVE_ARGS) -r $(BUILD)/test/unit $(BUILD)/test/fuzz test/lint $(wildcard test/integ) test/diff

check: deps
	$(MAKE) all
	$(MAKE) test

asan: deps
	$(MAKE) BUILD=build/asan OUT=build/asan SAN=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(MAKE) BUILD=build/asan OUT=build/asan SAN=1 test

fuzz:
	mkdir -p build/fuzz
	for t in $(FUZZ_TARGETS); do \
	  clang -std=gnu11 -g -O1 -Iinclude -Itest/lib -I$(PQINCLUDE) -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/$$t test/fuzz/$$t.c $(LIBSRCS) $(LIBS) || exit 1; \
	  mkdir -p test/fuzz/corpus/$$t build/fuzz/corpus/$$t; \
	  build/fuzz/$$t -max_total_time=$(FUZZ_TIME) -max_len=12000 build/fuzz/corpus/$$t test/fuzz/corpus/$$t || exit 1; \
	  build/fuzz/$$t -merge=1 test/fuzz/corpus/$$t build/fuzz/corpus/$$t || exit 1; \
	done

difftest: deps
	$(MAKE) $(OUT)/sluice
	$(DIFF_PYTHON) test/diff/difftest.py campaign --time $(DIFF_TIME) --modes $(DIFF_MODES) --pooler $(DIFF_POOLER)

cluster-proof: all
	SLUICE_CLUSTER_PROOF=full prove -v test/integ/74-cluster-load.t

bench: deps
	$(MAKE) $(OUT)/sluice
	test/bench/run

clean:
	rm -rf build sluice sluicectl
