"""database.py: its usage errors are one line and exit code 2."""

import numpy as np
from astropy.io import fits

from enhance_lib.scripts.database import main


def _write_fits(path, data):
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32)).writeto(path)
    return str(path)


def test_simulate_errors(tmp_path, capsys):
    truth = _write_fits(tmp_path / "t.fits", np.ones((64, 64)))
    code = main(["simulate", "-o", str(tmp_path / "x.h5"), "--truth", truth])
    err = capsys.readouterr().err
    assert code == 2 and "--pixel-scale" in err and len(err.strip().splitlines()) == 1
    code = main(
        ["simulate", "-o", str(tmp_path / "x.h5"), "--truth", truth, "--pixel-scale", "0.06",
         "--target-scale", "0.3"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "half" in err and len(err.strip().splitlines()) == 1
