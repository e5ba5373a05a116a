"""Truth scenes: determinism, shapes, the noise, the region map, the target's provenance."""

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.instrument import forward_model
from enhance_lib.sun.kinds import kind_from_header
from enhance_lib.sun.normalization import make_normalizer
from enhance_lib.training import scenes

SIZE = 640  # 40.3": 80 HMI pixels, a spot of radius 2.5-4"


@pytest.fixture(scope="module")
def intensity():
    return scenes.truth_scene("intensity", seed=3, size=SIZE)


@pytest.fixture(scope="module")
def blos():
    return scenes.truth_scene("blos", seed=3, size=SIZE)


def test_shapes_and_types(intensity, blos):
    for scene in (intensity, blos):
        assert scene.data.shape == scene.clean.shape == (SIZE // 8, SIZE // 8)
        assert scene.target.shape == scene.regions.shape == (2 * SIZE // 8, 2 * SIZE // 8)
        assert scene.truth.shape == (SIZE, SIZE)
        assert scene.data.dtype == scene.target.dtype == np.float32
        assert scene.regions.dtype == np.int8
        assert not scene.data.flags.writeable  # cached arrays cannot be changed by a caller
    assert intensity.kind == "intensity" and blos.kind == "blos"
    assert intensity.sigma == scenes.DEFAULT_SIGMA["intensity"] and blos.sigma == scenes.DEFAULT_SIGMA["blos"]
    assert np.array_equal(intensity.regions, blos.regions)  # one truth for both kinds


def test_noise_deterministic_per_seed(intensity):
    again = scenes.truth_scene("intensity", seed=3, size=SIZE)  # the cached truth, the noise drawn again
    assert again is not intensity and np.array_equal(again.data, intensity.data)
    assert np.array_equal(again.header.tostring(), intensity.header.tostring())


@pytest.mark.slow
def test_deterministic_per_seed(intensity):
    scenes._truth.cache_clear()
    again = scenes.truth_scene("intensity", seed=3, size=SIZE)
    assert again is not intensity
    for name in ("data", "clean", "target", "regions", "truth"):
        assert np.array_equal(getattr(again, name), getattr(intensity, name)), name
    other = scenes.truth_scene("intensity", seed=4, size=SIZE)
    assert not np.allclose(other.target, intensity.target)


@pytest.mark.parametrize("kind", ["intensity", "blos"])
def test_noise_level(kind, intensity, blos):
    scene = {"intensity": intensity, "blos": blos}[kind]
    noise = scene.data.astype(np.float64) - scene.clean
    assert abs(noise.std() / scene.sigma - 1) < 0.05
    assert abs(noise.mean()) < 4 * scene.sigma / np.sqrt(noise.size)
    quiet = scenes.truth_scene(kind, seed=3, size=SIZE, sigma=0.0)
    assert np.array_equal(quiet.data, quiet.clean)


def test_target_is_the_truth_through_the_28cm_telescope(intensity, blos):
    for scene in (intensity, blos):
        target = forward_model.to_target(scene.truth, pixel_scale=scene.pixel_scale)
        assert np.allclose(scene.target, target[: scene.target.shape[0], : scene.target.shape[1]], atol=1e-4)
        clean = forward_model.to_hmi(scene.truth, pixel_scale=scene.pixel_scale)
        assert np.allclose(scene.clean, clean, atol=1e-4)


def test_regions_hold_all_four_labels(intensity, blos):
    counts = {name: int(intensity.mask(name).sum()) for name in scenes.REGIONS}
    assert all(counts.values()), counts
    assert counts["quiet"] > 0.5 * intensity.regions.size
    # the labels mean what they say on the target
    assert intensity.target[intensity.mask("umbra")].mean() < 0.5
    assert 0.5 < intensity.target[intensity.mask("penumbra")].mean() < 0.95
    assert abs(intensity.target[intensity.mask("quiet")].mean() - 1) < 0.02
    assert np.abs(blos.target[blos.mask("plage")]).mean() > 3 * np.abs(blos.target[blos.mask("quiet")]).mean()
    with pytest.raises(EnhanceError, match="`region`"):
        intensity.mask("pore")


def test_header_says_hmi_of_the_kind(intensity, blos):
    assert kind_from_header(intensity.header)[0] == "intensity"
    assert kind_from_header(blos.header)[0] == "blos"
    assert intensity.header["CDELT1"] == intensity.header["CDELT2"] == 0.504
    # no disk located: one quiet-Sun level, close to 1 for I/I_qs
    norm = make_normalizer(intensity.data, intensity.header, kind="intensity")
    assert norm.profile is None and abs(norm.constant - 1) < 0.02


@pytest.mark.parametrize("bad", [dict(size=500), dict(size=256), dict(sigma=-1.0), dict(size="big")])
def test_bad_arguments(bad):
    with pytest.raises(EnhanceError):
        scenes.truth_scene("intensity", seed=0, **bad)


def test_truth_scenes_lists_seeds():
    got = scenes.truth_scenes("blos", seeds=[3], size=SIZE)
    assert [s.seed for s in got] == [3]
