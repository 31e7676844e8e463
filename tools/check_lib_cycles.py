#!/usr/bin/env python3
"""check_lib_cycles.py OBJECT... - fails when the library's files call each
other in a cycle. Reads the object files of lib/ (one per source file) with
`nm`: file A depends on file B when A uses a symbol B defines. Prints each
cycle (its files) and exits 1; with none, prints the dependency count and
exits 0. --graph prints every file's dependencies. Python 3 standard library
and binutils' nm only."""
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a != "--graph"]
defines, uses = {}, {}
for obj in args:
    name = os.path.basename(obj).replace(".c.o", ".c").replace(".o", ".c")
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    d, u = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRBC":
            d.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            u.add(parts[1])
    defines[name], uses[name] = d, u
owner = {sym: f for f, syms in defines.items() for sym in syms}
deps = {f: sorted({owner[s] for s in uses[f] if s in owner and owner[s] != f}) for f in defines}
if "--graph" in sys.argv:
    for f in sorted(deps):
        print(f, "->", " ".join(deps[f]))

# Tarjan's strongly connected components: any with two or more files is a cycle.
index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in deps[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            cycles.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(deps):
    if v not in index:
        visit(v)
for c in cycles:
    print("check_lib_cycles: these files call each other in a cycle:", " ".join(c))
if cycles:
    sys.exit(1)
print("check_lib_cycles: %d files, %d dependencies, no cycle" % (len(deps), sum(len(d) for d in deps.values())))
