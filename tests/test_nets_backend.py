"""The Keras backend: devices, the GPU asked for and absent."""

from pathlib import Path

import pytest

from enhance_lib.nets.backend import backend_name

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.backend
def test_gpu_without_a_gpu_is_one_line(tmp_path, capsys):
    from enhance_lib.nets.backend import gpu_names
    from enhance_lib.scripts.enhance import main as enhance_main

    if gpu_names():
        pytest.skip("this machine has a GPU")
    code = enhance_main(["-i", str(REPO / "samples/hmi.fits"), "-o", str(tmp_path / "o.fits"), "--device", "gpu"])
    err = capsys.readouterr().err
    assert code == 2
    if backend_name() == "tensorflow":
        advice = ("on a GPU machine use JAX or PyTorch with their CUDA builds, KERAS_BACKEND=jax or torch "
                  "(see docs/guide/backends.md)")
    else:
        advice = "is its CUDA build installed? (see docs/guide/backends.md)"
    expected = f"enhance: error: a GPU was asked for, but the {backend_name()} backend sees none; {advice}"
    assert err.strip().splitlines() == [expected]
    assert not (tmp_path / "o.fits").exists()
    assert "On a GPU, use JAX or PyTorch" in (REPO / "docs/guide/backends.md").read_text()  # the advice it points to


@pytest.mark.backend
def test_device_choice(monkeypatch):
    import enhance_lib.nets.backend as backend

    assert backend.resolve_device("cpu") == "cpu"
    monkeypatch.setattr(backend, "gpu_names", lambda: [])
    assert backend.resolve_device("auto") == "cpu"
    monkeypatch.setattr(backend, "gpu_names", lambda: ["NVIDIA H100"])
    assert backend.resolve_device("auto") == "gpu" and backend.resolve_device("gpu") == "gpu"
    assert backend.resolve_device("cpu") == "cpu"
    with pytest.raises(backend.EnhanceError, match="unknown device 'tpu'"):
        backend.resolve_device("tpu")
