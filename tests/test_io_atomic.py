"""Atomic writes: temporaries of live writers are left alone."""

import os
from pathlib import Path

from enhance_lib.io.atomic import atomic_path, remove_stale_temporaries


def test_live_writers_temporaries_are_left_alone(tmp_path):
    """A temporary of a live process (this one), or of another host, is not removed."""
    with atomic_path(tmp_path / "o.fits") as tmp:
        Path(tmp).write_bytes(b"in progress")
        other_host = tmp_path / ".o.fits.~1@elsewhere.example~abcdefgh.tmp"
        other_host.write_bytes(b"another node's")
        assert remove_stale_temporaries(tmp_path) == []
        assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(tmp), other_host.name])
    assert sorted(os.listdir(tmp_path)) == sorted(["o.fits", other_host.name])
