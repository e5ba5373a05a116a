"""The layout's limits: no module of the package over 600 lines, no function over 80 lines of code."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "enhance_lib"
MODULE_LINES = 600
FUNCTION_CODE_LINES = 80
MODULES = sorted(PACKAGE.rglob("*.py"))


def code_lines(source, node, docstrings):
    """Lines of ``node`` that hold code: not blank, not a comment, not in a docstring."""
    lines = source.splitlines()
    return sum(1 for number in range(node.lineno, node.end_lineno + 1)
               if (text := lines[number - 1].strip()) and not text.startswith("#")
               and not any(first <= number <= last for first, last in docstrings))


def docstring_lines(tree):
    """(first, last) line of every docstring in ``tree``."""
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return [(node.body[0].lineno, node.body[0].end_lineno) for node in ast.walk(tree)
            if isinstance(node, kinds) and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)]


def test_the_counter_counts_code_only():
    source = 'def f(x):\n    """Doc.\n\n    More.\n    """\n    # why\n\n    y = x\n    return y\n'
    tree = ast.parse(source)
    assert code_lines(source, tree.body[0], docstring_lines(tree)) == 3


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MODULE_LINES, f"{path.name}: split it along its seams"
    tree = ast.parse(source)
    docstrings = docstring_lines(tree)
    long = {node.name: n for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (n := code_lines(source, node, docstrings)) > FUNCTION_CODE_LINES}
    assert not long, f"functions over {FUNCTION_CODE_LINES} lines of code: {long}"


def test_every_subpackage_is_installed():
    """pyproject.toml lists the packages a regular install copies: every folder of the package."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python >= 3.11's")
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert listed == found
