/*
 * sandbox.c -- Lua states for untrusted connector code: a capped
 * allocator, a deadline hook pcall cannot swallow, safe libraries only
 * and a require that finds only the runtime's own modules.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "runtime.h"

#define HOOK_COUNT 10000
#define SLICE_S 0.01              /* a flow runs at most this long at once */

/* The system refused run r (NULL: none) the growth of the block keyed
 * key (its address before the call) to n bytes under its cap: the
 * machine's shortage, not the flow's.  The next growth decides: the same
 * request granted (Lua collected and asked again) takes the note back;
 * any other leaves it. */
static void refused(uh_run *r, uintptr_t key, size_t n)
{
    if (r) {
        r->short_mem = r->short_pending = 1;
        r->short_key = key;
        r->short_size = n;
    }
}

static void granted(uh_run *r, uintptr_t key, size_t n)
{
    if (r && r->short_pending) {
        r->short_pending = 0;
        if (r->short_key == key && r->short_size == n)
            r->short_mem = 0;
    }
}

/* lua_Alloc with a budget: refuse what would pass the cap. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    uh_limit *lim = ud;
    size_t old = ptr ? osize : 0;
    uintptr_t key = (uintptr_t)ptr;
    void *p;

    if (nsize == 0) {
        free(ptr);
        lim->used -= old;
        return NULL;
    }
    if (lim->cap && nsize > old && lim->used + (nsize - old) > lim->cap) {
        lim->hit = 1;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (!p) {
        refused(lim->run, key, nsize);
        return NULL;
    }
    if (nsize > old)            /* a growth decides; a collection's shrinks do not */
        granted(lim->run, key, nsize);
    lim->used = lim->used - old + nsize;
    return p;
}

static void deadline_hook(lua_State *L, lua_Debug *ar);

/* The header of a block in a shared state: its owner (uh_share) and
 * its size class (0: a block of the size Lua asked for, from malloc or
 * realloc).  As large as max_align_t, so the block after it is aligned
 * as malloc's.  A block in the state's cache links to the next in place
 * of its owner. */
typedef union owner_hdr {
    max_align_t align;
    struct {
        unsigned slot, gen;
        unsigned cls;
    } o;
    union owner_hdr *next;
} owner_hdr;

_Static_assert(sizeof(owner_hdr) == sizeof(max_align_t), "owner_hdr grew");
_Static_assert(offsetof(owner_hdr, o.cls) >= sizeof(void *),
               "a cached block's link overlaps its class");

/*
 * The small blocks of a shared state (up to BLK_MAX bytes) are of a size
 * class, 16-byte steps: a block freed goes to its class's list in the
 * state (while they hold at most CACHE_MAX bytes) and the state's next
 * allocation of that class takes it, a block that shrinks or grows
 * within its class stays where it is.  A class holds 8 bytes less than
 * its steps, the sizes of glibc's chunks less their header, so a block
 * takes no more of the heap than one of the size Lua asked for.  What a
 * run is charged is what Lua asked for, not its class's size; the lists
 * are freed with the state.  Under AddressSanitizer a block in a list is
 * poisoned, and so is a block's tail past what Lua asked for.
 */
#define BLK_STEP 16
#define BLK_SLACK 8
#define BLK_CAP(c) ((size_t)(c) * BLK_STEP - BLK_SLACK)
#define BLK_MAX BLK_CAP(UH_BLK_CLASSES)
#define CACHE_MAX ((size_t)256 << 10)

#if defined(__SANITIZE_ADDRESS__)
#define UH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UH_ASAN 1
#endif
#endif
#ifdef UH_ASAN
#include <sanitizer/asan_interface.h>
/* what Lua may touch of block h: its first n bytes */
#define BLK_FIT(h, n) (ASAN_POISON_MEMORY_REGION((h) + 1, BLK_CAP((h)->o.cls)), \
                       ASAN_UNPOISON_MEMORY_REGION((h) + 1, (n)))
#define BLK_POISON(h) ASAN_POISON_MEMORY_REGION((h) + 1, BLK_CAP((h)->o.cls))
#define BLK_UNPOISON(h) ASAN_UNPOISON_MEMORY_REGION((h) + 1, BLK_CAP((h)->o.cls))
#else
#define BLK_FIT(h, n) ((void)(h), (void)(n))
#define BLK_POISON(h) ((void)(h))
#define BLK_UNPOISON(h) ((void)(h))
#endif

static size_t blk_bytes(unsigned cls)
{
    return sizeof(owner_hdr) + BLK_CAP(cls);
}

static void cache_drop(uh_share *sh)
{
    for (unsigned c = 1; c <= UH_BLK_CLASSES; c++)
        while (sh->cache[c]) {
            owner_hdr *h = sh->cache[c];

            sh->cache[c] = h->next;
            BLK_UNPOISON(h);
            free(h);
        }
    sh->cached = 0;
}

/* malloc (p NULL) or realloc; out of memory, the cache goes first */
static void *sys_alloc(uh_share *sh, void *p, size_t n)
{
    void *q = p ? realloc(p, n) : malloc(n);

    if (!q && sh->cached) {
        cache_drop(sh);
        q = p ? realloc(p, n) : malloc(n);
    }
    return q;
}

static void blk_free(uh_share *sh, owner_hdr *h)
{
    unsigned c = h->o.cls;

    if (c && sh->cached + blk_bytes(c) <= CACHE_MAX) {
        BLK_POISON(h);
        h->next = sh->cache[c];
        sh->cache[c] = h;
        sh->cached += blk_bytes(c);
        return;
    }
    if (c)
        BLK_UNPOISON(h);
    free(h);
}

/* Block h (NULL: none) of old bytes made n bytes (n > old): moved or
 * not, or NULL (then h is as it was).  The owner is the caller's to set. */
static owner_hdr *blk_grow(uh_share *sh, owner_hdr *h, size_t old, size_t n)
{
    unsigned c = n <= BLK_MAX ? (unsigned)((n + BLK_SLACK + BLK_STEP - 1) / BLK_STEP) : 0;
    owner_hdr *nh;

    if (h && !h->o.cls)
        return sys_alloc(sh, h, sizeof *h + n);
    if (h && c && c <= h->o.cls) {
        BLK_FIT(h, n);
        return h;
    }
    if (c && (nh = sh->cache[c])) {
        sh->cache[c] = nh->next;
        sh->cached -= blk_bytes(c);
    } else {
        nh = sys_alloc(sh, NULL, c ? blk_bytes(c) : sizeof *nh + n);
        if (!nh)
            return NULL;
        nh->o.cls = c;
    }
    if (c)
        BLK_FIT(nh, n);
    if (h) {
        memcpy(nh + 1, h + 1, old);
        blk_free(sh, h);
    }
    return nh;
}

/* The account a block is charged to: its run's while the run lives,
 * else the state's. */
static size_t *owner_of(uh_share *sh, const owner_hdr *h)
{
    unsigned s = h->o.slot;

    if (s && s <= UH_SHARE_MAX && sh->gen[s] == h->o.gen && sh->run[s])
        return &sh->run[s]->mem_used;
    return &sh->own;
}

void uh_sandbox_close(lua_State *L, uh_limit *lim)
{
    lua_close(L);
    if (lim->share)
        cache_drop(lim->share);
}

/*
 * lua_Alloc of a state several runs share: a block is charged to the run
 * that allocated it (the state's current run), a free credits its owner,
 * and a block that grows is charged anew to the run growing it, so a run
 * growing a table another run made pays for it.  Growth past the running
 * run's cap is refused.  A shrink is never refused and keeps the block's
 * owner: the collector shrinks other runs' stacks and strings table in
 * whichever run it steps.
 */
static __attribute__((noinline)) void *shared_realloc(uh_limit *lim, void *ptr,
                                                      size_t osize, size_t nsize)
{
    uh_share *sh = lim->share;
    owner_hdr *h = ptr ? (owner_hdr *)ptr - 1 : NULL, *nh;
    size_t old = ptr ? osize : 0;
    size_t *from = h ? owner_of(sh, h) : NULL, *to;
    uh_run *cur = lim->run;
    unsigned slot = cur && cur->mem_slot > 0 ? (unsigned)cur->mem_slot : 0;
    uintptr_t key = (uintptr_t)h;
    int over = 0, again;

    if (h && nsize <= old) {
        if (h->o.cls) {
            nh = h;             /* kept: its class says what it holds */
            BLK_FIT(nh, nsize);
        } else if (!(nh = realloc(h, sizeof *h + nsize)))
            nh = h;             /* the block stays as it was, big enough */
        *from -= old - nsize;
        lim->used -= old - nsize;
        return nh + 1;
    }
    to = slot ? &cur->mem_used : &sh->own;
    if (slot && cur->mem_cap) {
        size_t want = *to - (from == to ? old : 0) + nsize;

        over = want > cur->mem_cap;
        /*
         * A run's account holds its garbage until the collector frees it,
         * and in a shared state the collector is paced by every run's
         * memory.  Past its cap (up to twice it) an allocation is granted
         * and the run's hook, at its next instruction, collects in full
         * and looks again: still over, the run is stopped (and, as past
         * twice its cap, refused from then on).  A refusal lets Lua
         * collect and ask again (its emergency collection): only a
         * request refused again, or never asked again (lauxlib's buffers
         * raise at once), stops the run there.
         */
        if (cur->mem_hit || want > 2 * cur->mem_cap) {
            if (cur->mem_refused)
                cur->mem_hit = 1;
            cur->mem_refused = 1;
            cur->mem_ref_block = key;
            cur->mem_ref_size = nsize;
            return NULL;
        }
        if (want > cur->mem_cap && cur->mem_tight) {
            /* what it holds after the last collection was within an
             * eighth of its cap: not garbage, and no collection at every
             * allocation from here on */
            cur->mem_hit = cur->mem_refused = 1;
            cur->mem_ref_block = key;
            cur->mem_ref_size = nsize;
            return NULL;
        }
        if (want > cur->mem_cap && !cur->mem_over) {
            cur->mem_over = 1;
            if (cur->co)
                lua_sethook(cur->co, deadline_hook, LUA_MASKCOUNT, 1);
        }
    }
    if (nsize > SIZE_MAX - sizeof *h)
        return NULL;
    nh = blk_grow(sh, h, old, nsize);
    again = slot && cur->mem_refused && cur->mem_ref_block == key &&
            cur->mem_ref_size == nsize;
    if (!nh && over) {
        /* past its cap, maybe with garbage: as a refusal of the cap's
         * (above), Lua collects and asks again; still over, it stops */
        cur->mem_hit |= again;
        cur->mem_refused = 1;
        cur->mem_ref_block = key;
        cur->mem_ref_size = nsize;
        return NULL;
    }
    if (!nh) {
        if (again)              /* within its cap now: the machine's */
            cur->mem_refused = 0;
        refused(cur, key, nsize);
        return NULL;
    }
    granted(cur, key, nsize);
    if (from)
        *from -= old;
    *to += nsize;
    if (again)
        cur->mem_refused = 0;   /* the same request, granted after the collection */
    nh->o.slot = slot;
    nh->o.gen = sh->gen[slot];
    lim->used = lim->used - old + nsize;
    return nh + 1;
}

/* The lua_Alloc itself: a free here (the common call, kept short), the
 * rest in shared_realloc. */
static void *shared_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    uh_limit *lim = ud;

    if (nsize == 0) {           /* a free: credited to its owner */
        if (ptr) {
            uh_share *sh = lim->share;
            owner_hdr *h = (owner_hdr *)ptr - 1;

            *owner_of(sh, h) -= osize;
            lim->used -= osize;
            blk_free(sh, h);
        }
        return NULL;
    }
    return shared_realloc(lim, ptr, osize, nsize);
}

/*
 * The CPU limit counts the flow's own running time; the wall-clock
 * deadline stops a flow that was kept waiting.  Once either trips, the
 * hook fires on every instruction, so a pcall in the flow cannot catch
 * the error and carry on.  A flow that runs long is also made to yield
 * now and then, so that one busy flow does not starve the others.
 */
static void deadline_hook(lua_State *L, lua_Debug *ar)
{
    uh_run *r = uh_state_run(L);
    double now;

    (void)ar;
    if (!r)
        return;
    if (lua_gethookcount(L) == 1 && !r->cpu_tripped && !r->timed_out) {
        /* asked to look at once (the allocator, a run past its memory
         * cap): back to the usual pace */
        lua_sethook(L, deadline_hook, LUA_MASKCOUNT,
                    r->sched && r->sched->slice > 0 ? UH_SHORT_HOOK_COUNT : HOOK_COUNT);
    }
    uh_run_mem_check(r, L);
    if (r->deadline <= 0)
        return;
    now = uh_now();
    if (!r->cpu_tripped && !r->timed_out) {
        double cpu = r->busy + (r->resume_t0 > 0 ? now - r->resume_t0 : 0);
        /* past the deadline while running (not waiting on the network,
         * which the scheduler handles): it has been burning CPU */
        if ((r->budget_ms > 0 && cpu * 1000.0 > (double)r->budget_ms) ||
            now >= r->deadline)
            r->cpu_tripped = 1;
        else {
            /* its turn is over: yield, from a coroutine of the flow too
             * (the flow's resume passes it on, see co_resume) */
            double slice = r->sched && r->sched->slice > 0 ? r->sched->slice : SLICE_S;
            if (r->resume_t0 > 0 && now - r->resume_t0 > slice && r->co &&
                lua_isyieldable(L)) {
                r->preempted = 1;
                lua_yield(L, 0);
            }
            return;
        }
    }
    /* from now on every thread of the run fails at once */
    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, 1);
    if (r->co && r->co != L)
        lua_sethook(r->co, deadline_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "cpu_limit: flow ran past its time budget");
}

/*
 * coroutine.resume and coroutine.wrap for flows (after lcorolib.c).  When
 * the hook preempted the resumed thread (it yielded with nothing, and
 * r->preempted is set), this thread yields in turn, so the scheduler
 * gets its turn back however deep the flow's coroutines nest; when the
 * flow is resumed, so is the inner thread.  Where this thread cannot
 * yield, the inner one simply goes on.
 */
/* Resume co with narg values from L: the count of results moved to L,
 * or -1 with the error on L.  May yield L (continuing in k). */
static int resume_in(lua_State *L, lua_State *co, int narg, lua_KFunction k)
{
    uh_run *r = uh_state_run(L);
    int status, nres;

    if (!lua_checkstack(co, narg)) {
        lua_pushliteral(L, "too many arguments to resume");
        return -1;
    }
    lua_xmove(L, co, narg);
    for (;;) {
        status = lua_resume(co, L, narg, &nres);
        if (status != LUA_YIELD || nres != 0 || !r || !r->preempted)
            break;
        if (lua_isyieldable(L))
            return lua_yieldk(L, 0, 1, k);  /* stack: co (the one argument kept) */
        r->preempted = 0;
        narg = 0;
    }
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushliteral(L, "too many results to resume");
            return -1;
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1);
    return -1;
}

static int co_resume_finish(lua_State *L, int n)
{
    if (n < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(n + 1));
    return n + 1;
}

static int co_resume_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return co_resume_finish(L, resume_in(L, lua_tothread(L, 1), 0, co_resume_k));
}

/* A run's own coroutine carries this mark in its extra space (threads a
 * flow creates copy the main thread's: none).  Runs of one connection
 * share module-level values, so a flow could get hold of another run's
 * coroutine: it may not resume or close it. */
static const char run_thread_mark;

void uh_sandbox_mark_run(lua_State *co)
{
    *(const void **)lua_getextraspace(co) = &run_thread_mark;
}

void uh_sandbox_reuse_run(lua_State *co)
{
    lua_settop(co, 0);
    lua_sethook(co, deadline_hook, LUA_MASKCOUNT, HOOK_COUNT);
    uh_sandbox_mark_run(co);
}

static int run_thread(lua_State *co)
{
    return *(const void **)lua_getextraspace(co) == &run_thread_mark;
}

static int co_resume(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);

    luaL_argexpected(L, co, 1, "coroutine");
    if (run_thread(co)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "cannot resume the coroutine of a flow run");
        return 2;
    }
    /* stack: co args...; keep only co below what moves */
    return co_resume_finish(L, resume_in(L, co, lua_gettop(L) - 1, co_resume_k));
}

static int wrap_finish(lua_State *L, lua_State *co, int n)
{
    if (n < 0) {
        int st = lua_status(co);
        if (st != LUA_OK && st != LUA_YIELD) {
            lua_resetthread(co);
        }
        if (lua_type(L, -1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return n;
}

static int co_wrap_k(lua_State *L, int status, lua_KContext ctx)
{
    lua_State *co = lua_tothread(L, 1);

    (void)status;
    (void)ctx;
    return wrap_finish(L, co, resume_in(L, co, 0, co_wrap_k));
}

static int co_wrapped(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int narg = lua_gettop(L);

    /* the thread at index 1, under the arguments, for the continuation */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    return wrap_finish(L, co, resume_in(L, co, narg, co_wrap_k));
}

/* coroutine.close, except a flow run's coroutine.  upvalue 1: Lua's. */
static int co_close(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);

    if (co && run_thread(co))
        return luaL_error(L, "cannot close the coroutine of a flow run");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int co_wrap(lua_State *L)
{
    lua_State *co;

    luaL_checktype(L, 1, LUA_TFUNCTION);
    co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, co_wrapped, 1);
    return 1;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL && !lua_isnoneornil(L, 1))
        return 1;                 /* error objects pass unchanged */
    luaL_traceback(L, L, msg ? msg : "(error object is nil)", 1);
    return 1;
}

int uh_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    int status;

    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/*
 * setmetatable without finalizers: a __gc metamethod runs when the
 * collector decides, in whichever run is then under way, or when a state
 * is closed outside any run's limits; a flow may not leave code behind
 * to run there.  Otherwise as the base library's.
 */
static int safe_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);

    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed "
                              "in flows");
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    if (lua_getmetatable(L, 1)) {
        lua_pop(L, 1);
        uh_http_resp_fill(L, 1);        /* a response keeps what it had */
    }
    lua_setmetatable(L, 1);
    return 1;
}

/* load(chunk [, chunkname [, mode [, env]]]) for text chunks only. */
static int safe_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    int status;

    if (strcmp(mode, "t") != 0)
        return luaL_argerror(L, 3, "only text chunks (\"t\") are allowed");
    if (lua_isnoneornil(L, 4))
        return luaL_argerror(L, 4, "an explicit environment is required");
    status = luaL_loadbufferx(L, s, len, name, "t");
    if (status != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushvalue(L, 4);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

static const uh_embedded *find_embedded(const char *name)
{
    const uh_embedded *m;

    for (m = uh_embedded_modules; m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    uh_buf_add(ud, p, n);
    return 0;
}

/*
 * Load runtime module m: from the engine's compiled copy when there is
 * one (parsing the sources for every flow run would dominate its cost),
 * else from source, keeping the compiled form for the next state.
 */
static int load_embedded(lua_State *L, const uh_embedded *m, const char *chunkname)
{
    uh_run *r = uh_state_run(L);
    uh_rt *rt = r ? r->rt : NULL;
    size_t idx = (size_t)(m - uh_embedded_modules);
    uh_buf *bc;

    if (rt && !rt->bytecode) {
        size_t n = 0;
        while (uh_embedded_modules[n].name)
            n++;
        rt->bytecode = calloc(n, sizeof *rt->bytecode);
    }
    bc = rt && rt->bytecode ? &rt->bytecode[idx] : NULL;
    if (bc && bc->len)
        return luaL_loadbufferx(L, bc->data, bc->len, chunkname, "b");
    if (luaL_loadbufferx(L, m->src, m->len, chunkname, "t") != LUA_OK)
        return LUA_ERRSYNTAX;
    if (bc) {
        lua_dump(L, dump_writer, bc, 1);
        if (bc->oom)
            uh_buf_free(bc);
    }
    return LUA_OK;
}

/*
 * The runtime's own require: any embedded module.  Runtime modules are
 * called with (name, core) and run with an environment whose require is
 * this one.  upvalues: 1 loaded table, 2 core table, 3 runtime env.
 */
static int runtime_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const uh_embedded *m;
    char chunkname[128];

    lua_settop(L, 1);
    if (lua_getfield(L, lua_upvalueindex(1), name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    m = find_embedded(name);
    if (!m)
        return luaL_error(L, "module '%s' not found: require is limited to "
                          "the unhook modules", name);
    snprintf(chunkname, sizeof chunkname, "=[unhook] %s", name);
    if (load_embedded(L, m, chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_setupvalue(L, -2, 1);
    lua_pushstring(L, name);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, lua_upvalueindex(1), name);
    return 1;
}

/*
 * The require connector code sees: only the public modules.  The
 * runtime's internals (manifest loading, connection parsing) hold the
 * core table and must stay out of reach.  upvalue 1: runtime require.
 */
static int public_require(lua_State *L)
{
    static const char *const public_modules[] = {"unhook", NULL};
    const char *name = luaL_checkstring(L, 1);

    for (const char *const *p = public_modules; *p; p++)
        if (strcmp(name, *p) == 0) {
            lua_pushvalue(L, lua_upvalueindex(1));
            lua_pushstring(L, name);
            lua_call(L, 1, 1);
            return 1;
        }
    return luaL_error(L, "module '%s' not found: flows may require only "
                      "\"unhook\"", name);
}

static void drop_fields(lua_State *L, const char *lib, const char *const *names)
{
    if (lua_getglobal(L, lib) == LUA_TTABLE) {
        for (; *names; names++) {
            lua_pushnil(L);
            lua_setfield(L, -2, *names);
        }
    }
    lua_pop(L, 1);
}

int uh_require(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, UH_REQUIRE);
    lua_pushstring(L, name);
    return uh_pcall(L, 1, 1);
}

lua_State *uh_scratch_state(uh_rt *rt, uh_run *run)
{
    memset(run, 0, sizeof *run);
    run->rt = rt;
    run->diag = rt->diag;
    run->sched = rt->sched;
    run->limit.cap = rt->memory_cap;
    run->deadline = uh_now() + (double)rt->timeout_ms / 1000.0;
    return uh_sandbox_new(rt, &run->limit, run);
}

/* What escapes every protected call: never expected; not an abort. */
static int panic(lua_State *L)
{
    uh_run *r = uh_state_run(L);

    if (r && r->guard)
        longjmp(*r->guard, 1);
    return 0;                   /* Lua aborts: nothing could be saved */
}

/* set_ctx(ctx): the ctx of the running run, for unhook.cards (nil: none) */
static int core_set_ctx(lua_State *L)
{
    uh_run *r = uh_state_run(L);

    if (!r || !r->ps || !r->co)
        return 0;
    lua_settop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, r->ctxref);
    r->ctxref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ctx() -> the running run's ctx, or nil */
static int core_ctx(lua_State *L)
{
    uh_run *r = uh_state_run(L);

    if (!r || !r->ps || !r->co || r->ctxref == LUA_NOREF)
        lua_pushnil(L);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->ctxref);
    return 1;
}

/* The run's own fields of the core table on top of the stack. */
static void open_runctx(lua_State *L)
{
    lua_pushcfunction(L, core_set_ctx);
    lua_setfield(L, -2, "set_ctx");
    lua_pushcfunction(L, core_ctx);
    lua_setfield(L, -2, "ctx");
}

/* The libraries and the runtime's require, inside a protected call. */
static int setup(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},
        {LUA_OSLIBNAME, luaopen_os},     {NULL, NULL}};
    static const char *const base_drop[] = {"dofile", "loadfile", NULL};
    static const char *const string_drop[] = {"dump", NULL};
    static const char *const os_drop[] = {"execute", "exit", "getenv",
        "remove", "rename", "setlocale", "tmpname", NULL};
    const luaL_Reg *lib;

    for (lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    uh_open_patterns(L);
    drop_fields(L, LUA_GNAME, base_drop);
    drop_fields(L, LUA_STRLIBNAME, string_drop);
    drop_fields(L, LUA_OSLIBNAME, os_drop);
    lua_pushcfunction(L, safe_load);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, safe_setmetatable);
    lua_setglobal(L, "setmetatable");
    if (lua_getglobal(L, LUA_COLIBNAME) == LUA_TTABLE) {
        lua_pushcfunction(L, co_resume);
        lua_setfield(L, -2, "resume");
        lua_pushcfunction(L, co_wrap);
        lua_setfield(L, -2, "wrap");
        lua_getfield(L, -1, "close");
        lua_pushcclosure(L, co_close, 1);
        lua_setfield(L, -2, "close");
    }
    lua_pop(L, 1);

    /* stack: loaded core runtime-env */
    lua_newtable(L);
    uh_open_core(L);
    open_runctx(L);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);                   /* env is also upvalue 3 */
    lua_pushvalue(L, -4);
    lua_pushvalue(L, -4);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, runtime_require, 3); /* stack: loaded core env env rreq */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "require");         /* env.require = rreq */
    lua_setfield(L, LUA_REGISTRYINDEX, UH_REQUIRE);
    lua_pop(L, 4);
    lua_getfield(L, LUA_REGISTRYINDEX, UH_REQUIRE);
    lua_pushcclosure(L, public_require, 1);
    lua_setglobal(L, "require");
    return 0;
}

lua_State *uh_sandbox_new(uh_rt *rt, uh_limit *lim, uh_run *run)
{
    lua_State *L;

    (void)rt;
    lim->run = run;
    L = lua_newstate(lim->share ? shared_alloc : limited_alloc, lim);
    if (!L)
        return NULL;
    lua_atpanic(L, panic);
    *(const void **)lua_getextraspace(L) = NULL;   /* new threads copy it */
    lua_gc(L, LUA_GCGEN, 0, 0);
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        uh_sandbox_close(L, lim);
        return NULL;
    }
    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, HOOK_COUNT);
    return L;
}
