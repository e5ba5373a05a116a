"""Where the benchmark scripts put their results: ``benchmarks/results/NAME.{json,md}``."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name, data, text, *, folder=RESULTS):
    """Write ``data`` as ``NAME.json`` and the Markdown ``text`` as ``NAME.md`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(data, indent=1))
    (folder / f"{name}.md").write_text(text + "\n")
