"""The "From Python" guide's example (docs/guide/python.md) runs and prints what the page says it prints."""

import contextlib
import io
import os
import re
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _from_python_blocks():
    section = (REPO / "docs" / "guide" / "python.md").read_text()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = re.search(r"prints\n\n```\n(.*?)```", section, re.S).group(1)
    return code, printed


def test_readme_from_python_example(monkeypatch):
    pytest.importorskip("sunpy.map", reason="sunpy not installed (pip install 'enhance-keras3[sunpy]')")
    from sunpy.util.exceptions import SunpyWarning

    code, printed = _from_python_blocks()
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", SunpyWarning)  # sunpy's notes on the metadata it completes
        exec(compile(code, "docs/guide/python.md", "exec"), {"__name__": "readme"})
    assert out.getvalue() == printed
    assert os.getcwd() == str(REPO)
