# unhook -- build, test, install.  See README.md.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
SHAREDIR ?= $(PREFIX)/share/unhook
LUA_CMOD ?= $(PREFIX)/lib/lua/5.4

CC      ?= cc
PKGS    := lua5.4 libcurl lua5.4-cjson sqlite3 libcrypto libpq
DEBS    := liblua5.4-dev lua5.4 libcurl4-openssl-dev lua-cjson-dev lua-cjson \
           libsqlite3-dev lua-busted libcmocka-dev pkg-config python3 curl valgrind \
           libssl-dev openssl binutils gcc time libpq-dev postgresql \
           libmicrohttpd-dev chromium python3-prometheus-client libuv1-dev

B       := build
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wwrite-strings
ifneq ($(CI)$(STRICT),)
WARN    += -Werror
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# `unhook serve` (bindings/cli/serve*.c) only: the HTTP server library
CLI_PKGS   := libmicrohttpd
CLI_CFLAGS  = $(shell pkg-config --cflags $(CLI_PKGS) 2>/dev/null)
CLI_LIBS    = $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null) -pthread
CFLAGS  ?=
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) $(WARN) \
           -fPIC -fvisibility=hidden -MMD -MP -DUNHOOK_SHARE='"$(SHAREDIR)"' $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS ?=

# The library: every core/*.c.
CORE_SRC := $(wildcard core/*.c)
LIB_SRC  := $(CORE_SRC)
LUA_SRC  := $(sort $(wildcard scripts/unhook/*.lua scripts/unhook/cards/*.lua))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o) $(B)/obj/embed.o

# Clients of the public API (the CLI and the Lua module) see one header:
# core/unhook.h copied alone into $(B)/include, and no -Icore.  The CLI is
# bindings/cli/*.c.
PUB_INC  := $(B)/include
CLI_SRC  := $(wildcard bindings/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
LUAMOD_OBJ := $(B)/obj/bindings/lunhook.o $(B)/obj/bindings/lengine.o \
              $(B)/obj/bindings/lresult.o
CLIENT_OBJ := $(CLI_OBJ) $(LUAMOD_OBJ)

# Every output that depends on the configuration depends on $(B)/config.stamp,
# rewritten only when one of these values changes (so `make` then
# `make install PREFIX=/usr` rebuilds what has /usr/local compiled in).
# WARN is left out: -Werror changes no output.
CONFIG   = PREFIX=$(PREFIX) BINDIR=$(BINDIR) LIBDIR=$(LIBDIR) INCDIR=$(INCDIR) \
           SHAREDIR=$(SHAREDIR) LUA_CMOD=$(LUA_CMOD) MANDIR=$(MANDIR) \
           VERSION=$(VERSION) CC=$(CC) OPT=$(OPT) CFLAGS=$(CFLAGS) \
           LDFLAGS=$(LDFLAGS) LIBS=$(LIBS) PKG_CFLAGS=$(PKG_CFLAGS)
STAMP    := $(B)/config.stamp

# C tests: tests/unit/test_*.c (no network) -> $(B)/tests/, and
# tests/integration/test_*.c (against the fixture provider) -> $(B)/itests/,
# all linked with tests/support/*.c.
TEST_SRC := $(wildcard tests/unit/test_*.c)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%) \
            $(ITEST_SRC:tests/integration/%.c=$(B)/itests/%)
SUPPORT_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/support/*.c))
$(SUPPORT_OBJ): ALL_CFLAGS += -Icore

.PHONY: all deps test check unit integration spec e2e arch demo install uninstall clean bench bench-scale fuzz FORCE

SOVER   := 0
VERSION := 0.1.0
MANDIR  ?= $(PREFIX)/share/man

all: $(B)/unhook $(B)/libunhook.a $(B)/libunhook.so $(B)/unhook.pc $(B)/lua/unhook.so

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): FORCE
	@mkdir -p $(B)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(CONFIG)' ]; then \
	  [ ! -f $@ ] || echo "configuration changed: rebuilding"; \
	  printf '%s\n' '$(CONFIG)' >$@; fi

$(B)/obj/%.o: %.c $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(PUB_INC)/unhook.h: core/unhook.h
	@mkdir -p $(dir $@)
	cp $< $@

$(CLIENT_OBJ): $(B)/obj/%.o: %.c $(PUB_INC)/unhook.h $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(if $(filter $(CLI_OBJ),$@),$(CLI_CFLAGS)) -I$(PUB_INC) -c $< -o $@

$(B)/embed.c: scripts/embed.lua $(LUA_SRC)
	@mkdir -p $(B)
	lua5.4 scripts/embed.lua $@ $(LUA_SRC)

$(B)/obj/embed.o: $(B)/embed.c $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icore -Wno-overlength-strings -c $< -o $@

$(B)/libunhook.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/unhook: $(CLI_OBJ) $(B)/libunhook.a $(STAMP)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libunhook.a $(PKG_LIBS) $(CLI_LIBS) -lm -pthread $(LIBS)

# The shared library exports only the public API (unhook_*).
$(B)/libunhook.so: $(LIB_OBJ) $(STAMP)
	$(CC) -shared -Wl,-soname,libunhook.so.$(SOVER) $(LDFLAGS) -o $@.$(VERSION) $(LIB_OBJ) \
	  $(PKG_LIBS) -lm -pthread
	ln -sf libunhook.so.$(VERSION) $@.$(SOVER)
	ln -sf libunhook.so.$(VERSION) $@

$(B)/unhook.pc: core/unhook.pc.in Makefile $(STAMP)
	sed -e 's#@PREFIX@#$(PREFIX)#' -e 's#@LIBDIR@#$(LIBDIR)#' -e 's#@INCDIR@#$(INCDIR)#' \
	  -e 's#@VERSION@#$(VERSION)#' $< >$@

# The Lua module: the engine inside, Lua itself from the host interpreter.
$(B)/lua/unhook.so: $(LUAMOD_OBJ) $(LIB_OBJ) $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $(LUAMOD_OBJ) $(LIB_OBJ) $(shell pkg-config --libs libcurl lua5.4-cjson sqlite3 libcrypto libpq) -lm -pthread

TEST_LINK = $(SUPPORT_OBJ) $(B)/libunhook.a $(PKG_LIBS) -lm -pthread -lcmocka
$(B)/tests/%: tests/unit/%.c $(SUPPORT_OBJ) $(B)/libunhook.a $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icore -Itests/support -o $@ $< $(TEST_LINK)
$(B)/itests/%: tests/integration/%.c $(SUPPORT_OBJ) $(B)/libunhook.a $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icore -Itests/support -o $@ $< $(TEST_LINK)

# make test: what CI runs.  Installs missing packages, builds with
# warnings as errors, starts the fixture provider, runs every suite.
test: deps
	$(MAKE) STRICT=1 all $(TEST_BIN)
	sh tests/run.sh all

unit: all $(TEST_BIN)
	sh tests/run.sh unit
integration: all $(TEST_BIN)
	sh tests/run.sh integration
spec: all
	sh tests/run.sh spec
e2e: all
	sh tests/run.sh e2e
arch: all
	sh tests/arch/check.sh

# make check: the C tests under AddressSanitizer/UBSan and valgrind.
check: deps
	$(MAKE) STRICT=1 B=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" build/asan/unhook \
	  $(TEST_SRC:tests/unit/%.c=build/asan/tests/%) $(ITEST_SRC:tests/integration/%.c=build/asan/itests/%)
	$(MAKE) STRICT=1 all $(TEST_BIN)
	sh tests/check.sh

demo: deps all
	sh tests/demo.sh

# make bench [N=20000] [C=32] [LATENCY=0] [BIG_N=0] [WIDE_C=0]: unhook
# disable --all against raw libcurl on loopback, against nginx and against
# a provider that answers after 20 ms, with the targets of issue 17
# (tests/bench/README.md lists every variable).
bench: all
	N="$(N)" C="$(C)" sh tests/bench/run.sh

# make bench-scale [N=8000]: 1, 2 and 4 worker processes on one PostgreSQL
# database (a private cluster), --concurrency 16 each, against a provider
# that answers each DELETE after 20 ms (README.md, PostgreSQL).
bench-scale: deps all
	N="$(or $(N),8000)" sh tests/bench/scale.sh

# make fuzz [FUZZ_SECONDS=60]: libFuzzer targets (clang, ASan/UBSan) built
# into build/fuzz; the kept regression inputs are replayed first, then each
# target runs for FUZZ_SECONDS (tests/fuzz/README.md); last, the long
# hostile-flow stress run (tests/sandbox/stress.py, STRESS_LONG=1).  Not
# part of CI.
fuzz: $(B)/embed.c all
	$(MAKE) -f tests/fuzz/fuzz.mk B=$(B) SHAREDIR=$(SHAREDIR) PKGS="$(PKGS)"
	@st=0; sh tests/fuzz/regress.sh $(B)/fuzz || st=1; \
	sh tests/fuzz/run.sh $(B)/fuzz $(or $(FUZZ_SECONDS),60) || st=1; \
	STRESS_LONG=1 sh tests/sandbox/run.sh stress || st=1; exit $$st

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
	  $(DESTDIR)$(SHAREDIR)/lua/unhook/cards $(DESTDIR)$(LUA_CMOD) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(B)/unhook $(DESTDIR)$(BINDIR)/unhook
	install -m 644 $(B)/libunhook.a $(DESTDIR)$(LIBDIR)/libunhook.a
	install -m 755 $(B)/libunhook.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libunhook.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libunhook.so.$(SOVER)
	ln -sf libunhook.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libunhook.so
	install -m 644 $(B)/unhook.pc $(DESTDIR)$(LIBDIR)/pkgconfig/unhook.pc
	install -m 644 core/unhook.h $(DESTDIR)$(INCDIR)/unhook.h
	install -m 755 $(B)/lua/unhook.so $(DESTDIR)$(LUA_CMOD)/unhook.so
	install -m 644 core/unhook.1 $(DESTDIR)$(MANDIR)/man1/unhook.1
	install -m 644 scripts/unhook/*.lua $(DESTDIR)$(SHAREDIR)/lua/unhook/
	install -m 644 scripts/unhook/cards/*.lua $(DESTDIR)$(SHAREDIR)/lua/unhook/cards/
	cp -R scripts/connectors $(DESTDIR)$(SHAREDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/unhook $(DESTDIR)$(LIBDIR)/libunhook.a \
	  $(DESTDIR)$(LIBDIR)/libunhook.so $(DESTDIR)$(LIBDIR)/libunhook.so.$(SOVER) \
	  $(DESTDIR)$(LIBDIR)/libunhook.so.$(VERSION) $(DESTDIR)$(LIBDIR)/pkgconfig/unhook.pc \
	  $(DESTDIR)$(INCDIR)/unhook.h $(DESTDIR)$(LUA_CMOD)/unhook.so \
	  $(DESTDIR)$(MANDIR)/man1/unhook.1
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
