"""Reads the item graph `cargo modules dependencies` wrote (DOT) and prints the module cycles.

Each item is put in its module (a method in its type's module); an edge joins two modules when
an item of one uses an item of the other, unless one module contains the other. The cycles are
the strongly connected components of more than one module.
"""

import collections
import re
import sys

crate, path = sys.argv[1], sys.argv[2]
dot = open(path).read()
kinds = {m[1]: m[2].split()[-1] for m in re.finditer(r'^\s*"([^"]+)" \[label="([^|]*)\|', dot, re.M)}
modules = {name for name, kind in kinds.items() if kind in ("mod", "crate")}


def module_of(item):
    if item in modules:
        return item
    parent = item.rsplit("::", 1)[0]
    while parent in kinds and parent not in modules and "::" in parent:
        parent = parent.rsplit("::", 1)[0]
    return parent


edges = collections.defaultdict(set)
example = {}
for m in re.finditer(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"', dot, re.M):
    a, b = module_of(m[1]), module_of(m[2])
    if a == b or a.startswith(b + "::") or b.startswith(a + "::"):
        continue
    edges[a].add(b)
    example.setdefault((a, b), (m[1], m[2]))

# Tarjan's strongly connected components, iteratively.
index, low, on_stack, stack, cycles = {}, {}, set(), [], []
for root in list(edges):
    if root in index:
        continue
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = len(index)
    stack.append(root)
    on_stack.add(root)
    while work:
        node, children = work[-1]
        child = next(children, None)
        if child is not None:
            if child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[node])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

for component in cycles:
    print(f"{crate}: cycle among {', '.join(component)}")
    for a in component:
        for b in sorted(edges[a] & set(component)):
            print(f"    {a} -> {b}, e.g. {example[(a, b)][0]} uses {example[(a, b)][1]}")
print(f"{crate}: {len(cycles)} module cycles among {len(modules)} modules")
sys.exit(1 if cycles else 0)
