# tests/fuzz/fuzz.mk -- the libFuzzer targets, built by `make fuzz` (the
# top Makefile runs this with B set and build/embed.c made).  The engine
# is compiled again with clang and the same sanitizers as the targets, so
# coverage and ASan/UBSan reach into core/.  The library's sources are the
# main Makefile's: every core/*.c, and build/embed.c.

B        ?= build
FB       := $(B)/fuzz
FUZZ_CC  ?= clang
SHAREDIR ?= /usr/local/share/unhook
PKGS     ?= lua5.4 libcurl lua5.4-cjson sqlite3 libcrypto libpq

SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
FCFLAGS  := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -O1 -g $(SAN) \
            -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wwrite-strings -MMD -MP -DUNHOOK_SHARE='"$(SHAREDIR)"' \
            $(shell pkg-config --cflags $(PKGS))
FLIBS    := $(shell pkg-config --libs $(PKGS)) -lm

LIB_SRC  := $(wildcard core/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(FB)/obj/%.o) $(FB)/obj/embed.o
TARGETS  := $(patsubst tests/fuzz/%.c,$(FB)/%,$(wildcard tests/fuzz/fuzz_*.c))
HELPERS  := $(FB)/obj/tests/fuzz/lua_cov.o

all: $(TARGETS)

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -fsanitize=fuzzer-no-link -Icore -c $< -o $@

$(FB)/obj/embed.o: $(B)/embed.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -fsanitize=fuzzer-no-link -Icore -Wno-overlength-strings \
	  -c $< -o $@

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_OBJ) $(HELPERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FCFLAGS) -fsanitize=fuzzer -Icore -o $@ $< $(LIB_OBJ) $(HELPERS) $(FLIBS)

.PHONY: all
.SECONDARY: $(LIB_OBJ) $(HELPERS)
-include $(shell find $(FB) -name '*.d' 2>/dev/null)
