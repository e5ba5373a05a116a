"""The Python examples of the README and of the "From Python" guide (docs/guide/python.md) run
and print what they say they print."""

import contextlib
import io
import os
import re
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _from_python_blocks(path="docs/guide/python.md"):
    section = (REPO / path).read_text()
    if path == "README.md":
        section = section[section.index("## From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = re.search(r"prints\n\n```\n(.*?)```", section, re.S).group(1)
    return code, printed


@pytest.mark.slow
@pytest.mark.parametrize("path", ["README.md", "docs/guide/python.md"])
def test_readme_from_python_example(monkeypatch, path):
    pytest.importorskip("sunpy.map", reason="sunpy not installed (pip install 'enhance-keras3[sunpy]')")
    from sunpy.util.exceptions import SunpyWarning

    code, printed = _from_python_blocks(path)
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", SunpyWarning)  # sunpy's notes on the metadata it completes
        exec(compile(code, path, "exec"), {"__name__": "readme"})
    assert out.getvalue() == printed
    assert os.getcwd() == str(REPO)


def test_install_guide_names_every_console_command():
    """The install guide lists the console commands pyproject.toml installs, all of them."""
    import tomllib

    commands = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    paragraph = (REPO / "docs/guide/install.md").read_text().split("`pip install` also provides", 1)[1]
    paragraph = paragraph.split("\n\n", 1)[0]
    assert sorted(re.findall(r"`(enhance(?:-[a-z-]+)?)`", paragraph)) == sorted(commands)
