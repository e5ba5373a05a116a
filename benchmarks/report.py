"""Shared by the benchmark scripts: where results go (``benchmarks/results/NAME.{json,md}``),
and the one-line stop when their input files are missing."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parent.parent

#: How to get the real HMI crops of ``../shared/data`` (hmi_sample_left.fits, ...).
SHARED_DATA_HELP = (
    "the real HMI crops and the published networks' outputs on them (hmi_sample_left.fits, "
    "hmi_enhanced_left.fits, blos_sample_left.fits, blos_enhanced_left.fits: the left 140 columns of "
    "the samples distributed with the original Enhance, https://github.com/cdiazbas/enhance) live in "
    "../shared/data beside the checkout; give --data DIR or set ENHANCE_TEST_DATA"
)
#: How to get back a shipped network.
WEIGHTS_HELP = "the shipped networks are network/*.weights.h5 of the repository (git checkout -- network/)"
#: How to get back the samples.
SAMPLES_HELP = "the samples are samples/*.fits of the repository (git checkout -- samples/)"


def write_results(name, data, text, *, folder=RESULTS):
    """Write ``data`` as ``NAME.json`` and the Markdown ``text`` as ``NAME.md`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(data, indent=1))
    (folder / f"{name}.md").write_text(text + "\n")


def require_files(script, paths, *, hint):
    """Stop the benchmark ``script`` with one line on stderr (exit code 1) unless every path is a file.

    Parameters
    ----------
    script : str
        Name for the message (``benchmarks/fidelity.py``).
    paths : iterable of str or os.PathLike
    hint : str
        What the files are and where to get them.
    """
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        files = ", ".join(missing) if len(missing) <= 2 else f"{missing[0]} and {len(missing) - 1} more"
        raise SystemExit(f"{script}: error: not found: {files}; {hint}")
