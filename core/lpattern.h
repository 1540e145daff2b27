/*
 * lpattern.h -- private: the pattern matcher of lpattern.c, which checks
 * the run's limits as it works, for lpatlib.c.  From Lua 5.4.4's
 * lstrlib.c (Copyright (C) 1994-2022 Lua.org, PUC-Rio; MIT licence, as
 * lpattern.c states in full).
 */
#ifndef UNHOOK_LPATTERN_H
#define UNHOOK_LPATTERN_H

#include <stddef.h>
#include <lua.h>

#define UH_MATCH_STEPS 1024       /* matcher steps between two checks */
#define L_ESC		'%'
#define SPECIALS	"^$*+?.([%-"

/* as lstrlib.c configures them */
#define LUA_MAXCAPTURES 32
#define MAXCCALLS 200
#define uchar(c) ((unsigned char)(c))
#ifndef l_unlikely
#define l_unlikely(x) (x)
#endif

#define CAP_UNFINISHED	(-1)
#define CAP_POSITION	(-2)

typedef struct MatchState {
  const char *src_init;  /* init of source string */
  const char *src_end;  /* end ('\0') of source string */
  const char *p_end;  /* end ('\0') of pattern */
  lua_State *L;
  int matchdepth;  /* control for recursive depth (to avoid C stack overflow) */
  unsigned char level;  /* total number of captures (finished or unfinished) */
  size_t left;  /* unhook: steps until the next check of the limits */
  struct {
    const char *init;
    ptrdiff_t len;
  } capture[LUA_MAXCAPTURES];
} MatchState;

/* The end of the match of pattern p at s, or NULL (lstrlib's match). */
const char *uh_pat_match (MatchState *ms, const char *s, const char *p);
/* s2 in s1 (l1, l2 bytes), or NULL (lstrlib's lmemfind). */
const char *uh_pat_memfind (lua_State *L, const char *s1, size_t l1,
                            const char *s2, size_t l2);

#endif
