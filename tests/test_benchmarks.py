"""The benchmark scripts stop with one line saying what is missing and where to get it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, args, names, hint",
    [
        ("fidelity.py", ["--data", "{nowhere}"], ["hmi_sample_left.fits"], "../shared/data.*--data DIR"),
        ("sun.py", ["--data", "{nowhere}"], ["hmi_sample_left.fits"], "--no-real-crop"),
        ("photometry.py", ["--intensity", "{nowhere}/i.weights.h5"], ["i.weights.h5"], "network/.*--intensity"),
        ("precision.py", ["--blos", "{nowhere}/b.weights.h5"], ["b.weights.h5"], "network/.*--blos"),
        ("limb.py", ["--intensity", "{nowhere}/i.weights.h5"], ["i.weights.h5"], "network/.*--intensity"),
    ],
)
def test_missing_data_stops_with_one_line(tmp_path, script, args, names, hint):
    import re

    nowhere = tmp_path / "nowhere"
    argv = [a.format(nowhere=nowhere) for a in args]
    env = dict(os.environ, PYTHONPATH=str(REPO), ENHANCE_TEST_DATA=str(nowhere), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith(f"benchmarks/{script}: error: not found: {nowhere}")
    assert all(name in line for name in names) and re.search(hint, line), line
    assert proc.stdout == ""  # stopped before any work


def test_require_files_passes_when_all_are_there(tmp_path):
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.report import require_files
    finally:
        sys.path.remove(str(REPO))
    present = tmp_path / "a.fits"
    present.write_bytes(b"")
    assert require_files("x.py", [present], hint="-") is None
    with pytest.raises(SystemExit, match=r"x.py: error: not found: .*b.fits and 2 more; get them"):
        require_files("x.py", [tmp_path / n for n in ("b.fits", "c.fits", "d.fits")] + [present], hint="get them")


def _truth_module():
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks import truth
    finally:
        sys.path.remove(str(REPO))
    return truth


@pytest.mark.slow
def test_truth_runs_in_a_tiny_mode_and_renders_its_json(tmp_path, capsys):
    truth = _truth_module()
    truth.main(["--seeds", "5", "--size", "512", "--kinds", "blos", "--out", str(tmp_path)])
    assert {p.name for p in tmp_path.iterdir()} == {"truth.json", "truth.md", "truth_spectra.png"}
    md = (tmp_path / "truth.md").read_text()
    assert md.startswith("CPU: ") and "### blos" in md
    results = __import__("json").loads((tmp_path / "truth.json").read_text())
    mean = results["kinds"]["blos"]["mean"]
    assert mean["bicubic"]["rms_vs_bicubic"] == 1.0
    assert set(truth.METHODS) <= set(mean) and all(mean[m]["rms"] > 0 for m in truth.METHODS)
    capsys.readouterr()
    truth.main(["--render", str(tmp_path / "truth.json")])
    assert capsys.readouterr().out.strip() == md.strip()
