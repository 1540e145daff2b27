#!/usr/bin/env python3
"""The dependency graph between the modules of core/ and bindings/, and its
cycles.  Called by tests/arch/check.sh; run from the repository root.

A module is a .c file and its same-name .h (core/sched.c + core/sched.h is
"core/sched"); a header without a .c is a module of its own; the generated
build/embed.c is "build/embed".  A -> B when A's files `#include "B.h"`, or
when A's object (under OBJ, default build/obj) has an undefined symbol that
B's object defines (nm: U in A, T/D/B/R in B).

Prints each tangle (strongly connected component), then every elementary
cycle in it (shortest first, up to a cap) with, for each edge, why: the
include lines or the symbols.  Then checks the layers of core/README.md's
map of parts: every core module is in it, and no include or call goes up a
layer.  Exits 1 when there is a cycle or a layer problem, 2 when there is
nothing to read.
usage: python3 tests/arch/graph.py [OBJ]
"""
import glob
import os
import re
import subprocess
import sys

OBJ = sys.argv[1] if len(sys.argv) > 1 else "build/obj"
MAX_CYCLES = 200
MAX_SYMBOLS = 6

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module_of(path):
    """core/x.c, core/x.h -> core/x; build/obj/core/x.o -> core/x."""
    if path.startswith(OBJ + "/"):
        path = path[len(OBJ) + 1:]
    if path in ("embed.o", "build/embed.c"):
        return "build/embed"
    return os.path.splitext(os.path.normpath(path))[0]


def sources():
    files = []
    for pat in ("core/*.c", "core/*.h", "bindings/*.c", "bindings/*.h",
                "bindings/**/*.c", "bindings/**/*.h"):
        files += glob.glob(pat, recursive=True)
    return sorted(set(files))


# edges[a][b] = list of reasons
edges = {}


def add(a, b, why):
    if a == b:
        return
    edges.setdefault(a, {}).setdefault(b, []).append(why)


def include_edges(files):
    known = {module_of(f) for f in files}
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                # resolved as the compiler does: beside the file, then -Icore
                target = None
                for cand in (os.path.join(os.path.dirname(f), m.group(1)),
                             os.path.join("core", m.group(1))):
                    if os.path.exists(cand):
                        target = module_of(cand)
                        break
                if target in known:
                    add(module_of(f), target,
                        '%s:%d: #include "%s"' % (f, n, m.group(1)))


def symbol_edges():
    objs = sorted(glob.glob(OBJ + "/**/*.o", recursive=True))
    # objects of tests, fuzz targets and the like are not modules
    objs = [o for o in objs
            if module_of(o).split("/")[0] in ("core", "bindings", "build")]
    if not objs:
        return 0
    defined, undefined = {}, {}
    for o in objs:
        out = subprocess.run(["nm", o], capture_output=True, text=True,
                             check=True).stdout
        mod = module_of(o)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                undefined.setdefault(mod, set()).add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBRC":
                defined.setdefault(parts[2], mod)
    for mod, syms in undefined.items():
        by = {}
        for s in syms:
            if s in defined:
                by.setdefault(defined[s], []).append(s)
        for target, ss in by.items():
            ss.sort()
            more = len(ss) - MAX_SYMBOLS
            add(mod, target, "uses " + ", ".join(ss[:MAX_SYMBOLS]) +
                (" (+%d more)" % more if more > 0 else ""))
    return len(objs)


def sccs(nodes):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            pushed = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    pushed = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if pushed:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def cycles_in(comp):
    """Elementary cycles of one component, each starting at its least node."""
    inside = set(comp)
    found = []
    for start in comp:
        # cycles whose least node is start
        path = [start]

        def walk(v):
            for w in sorted(edges.get(v, {})):
                if w not in inside or w < start:
                    continue
                if w == start:
                    found.append(list(path))
                    if len(found) >= MAX_CYCLES:
                        return True
                elif w not in path:
                    path.append(w)
                    if walk(w):
                        return True
                    path.pop()
            return False

        if walk(start):
            break
    return found


LAYER_ROW = re.compile(r"^\|\s*(\d+)\s+[^|]*\|([^|]*)\|")


def layers():
    """Module -> layer number, from the map of parts in core/README.md:
    every backticked file name in the row of a numbered layer."""
    out = {}
    try:
        text = open("core/README.md", encoding="utf-8").read()
    except OSError:
        return out
    for line in text.splitlines():
        m = LAYER_ROW.match(line)
        if not m:
            continue
        for name in re.findall(r"`([A-Za-z_./]+)`", m.group(2)):
            for stem in name.split("/"):
                stem = os.path.splitext(stem)[0]
                if stem == "embed":
                    out["build/embed"] = int(m.group(1))
                elif stem:
                    out["core/" + stem] = int(m.group(1))
    return out


def layer_problems(nodes):
    """Core modules the map does not place, and edges that go up a layer."""
    lay = layers()
    bad = []
    have = {module_of(f) for f in sources()}
    for n in nodes:
        if n.startswith("core/") and n in have and n not in lay:
            bad.append("%s: not in the map of parts (core/README.md)" % n)
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if a in lay and b in lay and lay[a] < lay[b]:
                bad.append("%s (layer %d) -> %s (layer %d): %s"
                           % (a, lay[a], b, lay[b], "; ".join(edges[a][b][:2])))
    return bad


def main():
    files = sources()
    if not files:
        print("arch: no sources under core/ or bindings/", file=sys.stderr)
        return 2
    include_edges(files)
    nobj = symbol_edges()
    if nobj == 0:
        print("arch: no objects under %s: build first (make all)" % OBJ,
              file=sys.stderr)
        return 2
    nodes = sorted({module_of(f) for f in files} | set(edges) |
                   {b for a in edges for b in edges[a]})
    nedges = sum(len(v) for v in edges.values())
    print("modules: %d, edges: %d (from %d sources, %d objects)"
          % (len(nodes), nedges, len(files), nobj))
    ncycles = 0
    for comp in sccs(nodes):
        if len(comp) < 2:
            continue
        print("tangle of %d modules: %s" % (len(comp), " ".join(comp)))
        for cyc in sorted(cycles_in(comp), key=lambda c: (len(c), c)):
            ncycles += 1
            print("cycle %d: %s" % (ncycles, " -> ".join(cyc + [cyc[0]])))
            for a, b in zip(cyc, cyc[1:] + cyc[:1]):
                print("  %s -> %s" % (a, b))
                for why in edges[a][b]:
                    print("      " + why)
    problems = layer_problems(nodes)
    for p in problems:
        print("layer: " + p)
    if ncycles:
        print("arch: %d cycle(s) between modules" % ncycles)
    else:
        print("arch: no cycles between modules")
    if problems:
        print("arch: %d module(s) or edge(s) against the map of parts" % len(problems))
    else:
        print("arch: every core module in the map, no call or include up a layer")
    return 1 if ncycles or problems else 0


if __name__ == "__main__":
    sys.exit(main())
