#!/usr/bin/env python
"""The import graph of ``enhance_lib``, from the code, as a Mermaid diagram for docs/architecture.md.

    python docs/import_graph.py            # print the diagram
    python docs/import_graph.py --check    # exit 1 if docs/architecture.md holds another one
    python docs/import_graph.py --write    # replace the diagram in docs/architecture.md

Every module of the package is drawn, grouped by subpackage (one Mermaid ``subgraph``
each), with an arrow to each package module it imports: ``import enhance_lib.x``,
``from enhance_lib.x import y``, relative imports at any depth (``from ..sun.kinds import
resolve_kind``) and ``from . import x`` (which imports the module ``x`` when it is one).
Imports inside functions count too: a lazy import is still a dependency. Nothing is
filtered out; a package's ``__init__`` is drawn as the package itself (``run``, ...).

    python docs/import_graph.py --layers   # exit 1 if a module imports from a higher layer

checks the direction of imports: scripts -> api -> training -> run -> io, sun, nets, instrument -> errors
(:data:`LAYERS`; the one exception, :data:`UPWARD`, is ``run.provenance`` reading ``__version__``).
"""

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "enhance_lib"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- import graph: begin -->", "<!-- import graph: end -->"
TOP = "enhance_lib"  # the package's own __init__
# The layers, lowest first: a module imports from its own layer or those below (docs/architecture.md).
# training may use run (to make the errors an error network learns from); run never uses training.
LAYERS = ({"errors"}, {"io", "sun", "nets", "instrument"}, {"run"}, {"training"}, {"api", TOP}, {"scripts"})
# Arrows that go up a layer on purpose: the version string, which enhance_lib/__init__.py sets
# before it imports anything.
UPWARD = {("run.provenance", TOP)}


def module_name(path):
    """``run.enhancer`` for enhance_lib/run/enhancer.py, ``run`` for its ``__init__``, ``enhance_lib`` for the top."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or TOP


def all_modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path, modules):
    """The package modules ``path`` imports (names relative to enhance_lib; ``enhance_lib`` for the top)."""
    name = module_name(path)
    # the package a relative import starts from: the module's own for an __init__, else its parent's
    parts = [] if name == TOP else name.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    found = set()

    def add(dotted):  # dotted: a list of parts relative to enhance_lib
        found.add(".".join(dotted) or TOP)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y, from .. import x
                if node.level - 1 > len(package):
                    raise SystemExit(f"{path}: relative import beyond the package (level {node.level})")
                target = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module == TOP or (node.module or "").startswith(TOP + "."):
                target = node.module.split(".")[1:]
            else:
                continue
            submodules = [".".join([*target, a.name]) for a in node.names]
            if all(s in modules for s in submodules):
                found.update(submodules)  # from . import x: the modules x only
            else:
                add(target)
                found.update(s for s in submodules if s in modules)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == TOP or alias.name.startswith(TOP + "."):
                    add(alias.name.split(".")[1:])
    # (importing a.b.c also runs a/__init__ and a/b/__init__; only the module named is drawn)
    unknown = sorted(t for t in found if t not in modules)
    if unknown:
        raise SystemExit(f"{path}: imports {', '.join(unknown)}, which are not modules of {TOP}")
    return sorted(t for t in found if t != name)


def group(name):
    """The subpackage a module is drawn in: the first part of its name (the top level: ``enhance_lib``)."""
    return name.split(".")[0] if "." in name or (PACKAGE / name).is_dir() else TOP


def node_id(name):
    return "m_" + name.replace(".", "_")


def graph():
    """Mermaid ``flowchart`` text: each subpackage a subgraph of its modules, an arrow from each
    module to each package module it imports."""
    modules = all_modules()
    groups = {}
    for name in modules:
        groups.setdefault(group(name), []).append(name)
    lines = ["```mermaid", "flowchart LR"]
    for key in sorted(groups, key=lambda g: (g != TOP, g)):
        label = f"{TOP} (top level)" if key == TOP else f"{TOP}.{key}"
        lines.append(f'    subgraph g_{key}["{label}"]')
        for name in sorted(groups[key]):
            lines.append(f"        {node_id(name)}[{name}]")
        lines.append("    end")
    for name, path in modules.items():
        for target in imports(path, modules):
            lines.append(f"    {node_id(name)} --> {node_id(target)}")
    lines.append("```")
    return "\n".join(lines)


def layer(name):
    first = name.split(".")[0]
    return next(k for k, names in enumerate(LAYERS) if first in names)


def upward_arrows():
    """``(module, target)`` for each import from a higher layer than the module's own, but :data:`UPWARD`."""
    modules = all_modules()
    return [(name, target) for name, path in modules.items() for target in imports(path, modules)
            if layer(target) > layer(name) and (name, target) not in UPWARD]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="compare with docs/architecture.md")
    p.add_argument("--write", action="store_true", help="replace the diagram in docs/architecture.md")
    p.add_argument("--layers", action="store_true", help="exit 1 if a module imports from a higher layer")
    args = p.parse_args(argv)
    if args.layers:
        wrong = upward_arrows()
        for name, target in wrong:
            print(f"{name} imports {target}, a higher layer", file=sys.stderr)
        return 1 if wrong else 0
    text = graph()
    if not (args.check or args.write):
        print(text)
        return 0
    doc = ARCHITECTURE.read_text()
    start, stop = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    if args.write:
        ARCHITECTURE.write_text(doc[:start] + "\n" + text + "\n" + doc[stop:])
        return 0
    if doc[start:stop].strip() != text.strip():
        print("docs/architecture.md: the import graph is out of date (python docs/import_graph.py --write)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
