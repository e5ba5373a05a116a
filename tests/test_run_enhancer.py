"""The Enhancer: the one object that runs the network for the program, batches, workers and the API."""

import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from enhance_lib import EnhanceUserWarning
from enhance_lib.run.batch import enhance_files, output_paths
from enhance_lib.run.enhancer import Enhancer


def test_enhancer_from_python(hmi_folder, tmp_path, tiny_weights):
    enhancer = Enhancer(kind="intensity", weights=tiny_weights)
    inputs = sorted(hmi_folder.glob("*.fits"))
    outcomes = enhance_files(enhancer, inputs, output_paths(inputs, tmp_path / "o"))
    assert [o.status for o in outcomes] == ["done"] * 3
    single = enhancer.enhance_file(inputs[0], tmp_path / "one.fits")
    np.testing.assert_array_equal(single, fits.getdata(tmp_path / "o" / "hmi_0.fits"))


@pytest.mark.parametrize(
    "flags, warned", [(set(), True), ({"avx512_bf16"}, True), ({"avx512_bf16", "amx_bf16"}, False)]
)
def test_bfloat16_on_a_cpu_without_amx_says_so(monkeypatch, tiny_weights, flags, warned):
    import enhance_lib.nets.backend as backend
    from enhance_lib.run.enhancer import Enhancer

    monkeypatch.setattr(backend, "cpu_flags", lambda: flags)
    if warned:
        with pytest.warns(EnhanceUserWarning, match="bfloat16 will not be faster on this CPU") as record:
            Enhancer(kind="intensity", weights=tiny_weights, precision="bfloat16", device="cpu")
        # the page the message points to has the measurement
        (page,) = re.findall(r"docs/guide/\w+\.md", str(record[0].message))
        text = (Path(__file__).resolve().parent.parent / page).read_text()
        assert "bfloat16" in text and "no AMX" in text and "0.61x" in text
    else:
        Enhancer(kind="intensity", weights=tiny_weights, precision="bfloat16", device="cpu")
    Enhancer(kind="intensity", weights=tiny_weights, precision="float32", device="cpu")  # float32: never
