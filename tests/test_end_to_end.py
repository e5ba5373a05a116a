"""The training guide's first commands (docs/guide/training.md), run as written at toy size."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

REPO = Path(__file__).resolve().parent.parent


def readme_commands():
    text = (REPO / "docs" / "guide" / "training.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def synthetic_pair(folder):
    """A co-aligned blos pair (HMI-like LOW, 28 cm-like HIGH at twice the sampling)."""
    from enhance_lib.instrument.forward_model import to_hmi, to_target
    from enhance_lib.training.synthetic_sun import synthetic_sun

    scene = synthetic_sun(shape=(1024, 1024), pixel_scale=0.063, seed=5, pores=2, plage=1)
    low = to_hmi(scene.blos, pixel_scale=0.063)
    high = to_target(scene.blos, pixel_scale=0.063)
    n = min(low.shape[0], high.shape[0] // 2)
    fits.PrimaryHDU(low[:n, :n].astype(np.float32)).writeto(folder / "LOW.fits")
    fits.PrimaryHDU(high[: 2 * n, : 2 * n].astype(np.float32)).writeto(folder / "HIGH.fits")


@pytest.mark.slow
def test_train_your_own_commands_run_as_written(tmp_path):
    commands = readme_commands()
    assert len(commands) == 5
    if any("LOW.fits" in line for line in commands):  # a block written for the user's own pair
        synthetic_pair(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3", ENHANCE_CACHE_DIR=str(tmp_path / "cache"))
    for line in commands:
        argv = shlex.split(line)
        assert argv[0] == "python"
        # Repository scripts and samples are addressed from the checkout; outputs land in tmp_path.
        argv = [sys.executable] + [
            str(REPO / a) if a in ("train.py", "enhance.py") or a.startswith("samples/") else a for a in argv[1:]
        ]
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{line}\n{proc.stderr[-2000:]}"
    loss = (tmp_path / "run" / "toy_1_loss.json").read_text()
    import json

    log = json.loads(loss)
    assert len(log) == 1 + 2  # header, one epoch from start, one from continue
    out = fits.getdata(tmp_path / "toy.fits")
    assert out.shape == tuple(2 * s for s in fits.getdata(REPO / "samples" / "hmi.fits").shape)
    assert np.isfinite(out).all()
    from enhance_lib.training.database_file import check_database

    assert check_database(tmp_path / "pairs.h5").n == 64
