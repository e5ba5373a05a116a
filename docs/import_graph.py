#!/usr/bin/env python
"""The import graph of ``enhance_lib``, from the code, as a Mermaid diagram for docs/architecture.md.

    python docs/import_graph.py            # print the diagram
    python docs/import_graph.py --check    # exit 1 if docs/architecture.md holds another one

Only imports between the package's own modules count (at module level or inside
functions: a lazy import is still a dependency); the compatibility modules that only
re-export names (``cli``, ``pipeline``, ``train_cli``, ``database``) are left out, and so are the arrows
to ``errors`` and ``config``, which every module may import (they import nothing else).
"""

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "enhance_lib"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- import graph: begin -->", "<!-- import graph: end -->"
SHIMS = {"cli", "pipeline", "train_cli", "database"}
FOUNDATION = {"errors", "config"}


def module_name(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "enhance_lib"


def imports(path):
    """The package modules ``path`` imports (dotted names relative to enhance_lib)."""
    name = module_name(path)
    package = name.rsplit(".", 1)[0] if "." in name else ""
    if path.name == "__init__.py":
        package = name if name != "enhance_lib" else ""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, node.module] if node.module else base)
            if node.module is None:  # from . import x
                found.update(".".join([*base, alias.name]) for alias in node.names)
            else:
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name[len("enhance_lib."):] for a in node.names if a.name.startswith("enhance_lib."))
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return sorted(t for t in found if t in modules and t != name)


def graph():
    """Mermaid ``flowchart`` text: an arrow from each module to what it imports."""
    lines = ["```mermaid", "flowchart LR"]
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name in SHIMS or name in ("enhance_lib", "scripts"):
            continue
        for target in imports(path):
            if target not in SHIMS | FOUNDATION and target not in ("enhance_lib", "scripts"):
                lines.append(f"    {name.replace('.', '_')}[{name}] --> {target.replace('.', '_')}[{target}]")
    lines.append("```")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="compare with docs/architecture.md")
    p.add_argument("--write", action="store_true", help="replace the diagram in docs/architecture.md")
    args = p.parse_args(argv)
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
