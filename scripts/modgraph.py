#!/usr/bin/python3
"""modgraph.py - gwd's modules and who depends on whom; fails on a circle.

    scripts/modgraph.py [--objects DIR] [--layers]

A module is a gwd/X.c with its gwd/X.h; the files that include a private
header (gwd/Y_priv.h, gwd/Y_int.h) belong to module Y with it (the
session's, the scheduler's and the delivery client's files).  A header
with no source of its own (gwd.h, schedule.h) is a module too: an
interface.

Module A depends on module B when a file of A includes a header of B
(#include "b.h"), and, with --objects (the directory of gwd's .o
files), when an object of A uses a function or variable that an object
of B defines (nm).  The include graph shows what a module may reach;
the link graph what it does reach, including calls through a header
that declares another module's functions.

Any circle is an error, listed with the files that make each step,
except the edges in ALLOWED, each with the reason it is there.  Exit 0
when there is none, 1 when there is, 2 on a usage error.

--layers prints the modules by layer, each above everything it uses
(the bottom layer first), for the README's "How it works".
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys

# (from, to): an edge that may close a circle, and why.
ALLOWED = {
    ("mta", "queue"): "the delivery client reports back to dest.c "
    "through schedule.h; its calls never free anything, and a "
    "finished job is applied from the loop (README, How it works)",
}

PRIVATE = re.compile(r"^(.*)_(priv|int)\.h$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path, includes):
    """The module of gwd/<path>: its private header's, else its stem."""
    name = os.path.basename(path)
    m = PRIVATE.match(name)
    if m:
        return m.group(1)
    for h in includes:
        m = PRIVATE.match(h)
        if m:
            return m.group(1)
    return os.path.splitext(name)[0]


def read_sources(src):
    """{file name: [gwd headers it includes]} for gwd/*.c and gwd/*.h."""
    files = {}
    for path in sorted(glob.glob(os.path.join(src, "*.[ch]"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        files[os.path.basename(path)] = [
            h for h in INCLUDE.findall(text)
            if os.path.exists(os.path.join(src, h))]
    return files


def include_edges(files, mod):
    edges = collections.defaultdict(dict)
    for name, incs in files.items():
        for h in incs:
            a, b = mod[name], mod[h]
            if a != b:
                edges[a].setdefault(b, "%s includes %s" % (name, h))
    return edges


def nm(path):
    out = subprocess.run(["nm", path], capture_output=True, text=True,
                         check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRCGSV":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
    return defined, used


def link_edges(objdir, mod):
    owner, uses = {}, {}
    for path in sorted(glob.glob(os.path.join(objdir, "*.o"))):
        src = os.path.basename(path)[:-2] + ".c"
        if src not in mod:
            continue
        defined, used = nm(path)
        for s in defined:
            owner[s] = src
        uses[src] = used
    edges = collections.defaultdict(dict)
    for src, used in uses.items():
        for s in sorted(used):
            if s in owner and mod[owner[s]] != mod[src]:
                edges[mod[src]].setdefault(
                    mod[owner[s]], "%s uses %s of %s" % (src, s, owner[s]))
    return edges


def merge(*graphs):
    g = collections.defaultdict(dict)
    for graph in graphs:
        for a, bs in graph.items():
            for b, why in bs.items():
                g[a].setdefault(b, why)
    return g


def circles(g, nodes):
    """One circle (a list of modules, first repeated last) per strongly
    connected set of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, {})):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(one_circle(g, set(scc)))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            connect(v)
    return out


def one_circle(g, scc):
    start = min(scc)
    prev, todo = {start: None}, [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(g.get(v, {})):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in scc and w not in prev:
                prev[w] = v
                todo.append(w)
    return [start, start]


def layers(g, nodes):
    """Each module's layer: 0 when it uses nothing, else one above the
    highest module it uses (ALLOWED edges left out)."""
    memo = {}

    def level(v, seen=()):
        if v not in memo:
            memo[v] = 1 + max([level(w, seen + (v,)) for w in g.get(v, {})
                               if w not in seen] or [-1])
        return memo[v]

    by = collections.defaultdict(list)
    for v in nodes:
        by[level(v)].append(v)
    return by


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "gwd"))
    ap.add_argument("--objects", help="gwd's object files (build/obj/gwd)")
    ap.add_argument("--layers", action="store_true")
    a = ap.parse_args()

    files = read_sources(a.src)
    if not files:
        print("modgraph: no sources in %s" % a.src, file=sys.stderr)
        return 2
    mod = {name: module_of(name, incs) for name, incs in files.items()}
    g = include_edges(files, mod)
    if a.objects:
        if not glob.glob(os.path.join(a.objects, "*.o")):
            print("modgraph: no objects in %s" % a.objects, file=sys.stderr)
            return 2
        g = merge(g, link_edges(a.objects, mod))
    for (x, y) in ALLOWED:
        g.get(x, {}).pop(y, None)
    nodes = set(mod.values())

    if a.layers:
        by = layers(g, nodes)
        for lv in sorted(by):
            print("%2d  %s" % (lv, " ".join(sorted(by[lv]))))
    found = circles(g, nodes)
    for c in found:
        print("modgraph: circle %s" % " -> ".join(c), file=sys.stderr)
        for x, y in zip(c, c[1:]):
            print("    %s -> %s: %s" % (x, y, g[x][y]), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
