"""Tiled inference equals whole-image inference; NaN handling; size limits."""

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.nets.backend import to_numpy
from enhance_lib.nets.config import NetworkConfig
from enhance_lib.nets.models import build_model
from enhance_lib.nets.weights import load_network
from enhance_lib.run.tiling import Predictor, enhance_array, tile_grid

# Backend-sensitive: .ci/run runs these on the JAX backend too.
pytestmark = pytest.mark.backend


class Scale:
    """Normaliser test double: divide by a constant, multiply back."""

    constant = 2.0

    def normalize(self, image):
        return image / self.constant

    def denormalize(self, image):
        return image * self.constant


def _image(shape, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    return (1 + 0.2 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.05 * rng.standard_normal(shape)).astype("float32")


@pytest.mark.parametrize("length, tile, align", [(100, 30, 1), (7, 3, 1), (64, 0, 1), (63, 16, 2), (10, 10, 1)])
def test_tile_grid_covers_everything_once(length, tile, align):
    grid = tile_grid(length, tile, align=align)
    covered = np.concatenate([np.arange(a, b) for a, b in grid])
    np.testing.assert_array_equal(covered, np.arange(length))
    assert all(a % align == 0 for a, _ in grid)
    if tile:
        assert all(b - a <= max(tile, align) for a, b in grid)


@pytest.fixture(scope="module")
def tiny_encdec():
    config = NetworkConfig(model="encdec", depth=1, filters=4)
    return build_model(config), config


@pytest.mark.parametrize("shape", [(37, 53), (64, 41), (5, 90)])
@pytest.mark.parametrize("tile", [4, 11, 24, 40])
def test_tiled_equals_whole_keepsize(tiny_weights, shape, tile):
    net, config = load_network(tiny_weights)
    image = _image(shape)
    whole = Predictor(net, config, tile=0).run(image)
    tiled = Predictor(net, config, tile=tile).run(image)
    assert whole.shape == (2 * shape[0], 2 * shape[1])
    assert np.abs(tiled - whole).max() <= 1e-5 * np.ptp(whole)


@pytest.mark.parametrize("shape", [(37, 53), (30, 31)])
@pytest.mark.parametrize("tile", [6, 13, 32])
def test_tiled_equals_whole_encdec(tiny_encdec, shape, tile):
    net, config = tiny_encdec
    image = _image(shape, seed=1)
    whole = Predictor(net, config, tile=0).run(image)
    tiled = Predictor(net, config, tile=tile).run(image)
    assert np.abs(tiled - whole).max() <= 1e-5 * np.ptp(whole)


def test_default_predictor_matches_plain_model_call(tiny_weights):
    # Folded BN, sub-pixel tail, padding-free interior tiles and border tiles together
    # against the plain Keras network: relative RMS < 1e-5.
    net, config = load_network(tiny_weights)
    image = _image((40, 44))
    pred = Predictor(net, config, tile=8)
    m = pred.margin
    interior = [
        ((y0, y1), (x0, x1)) for (y0, y1), (x0, x1) in pred._tiles(40, 44, None)
        if y0 >= m and y1 <= 40 - m and x0 >= m and x1 <= 44 - m
    ]
    assert interior  # the padding-free path is exercised
    ref = to_numpy(net(image[None, :, :, None], training=False))[0, :, :, 0]
    out = pred.run(image)
    assert np.sqrt(np.mean((out - ref) ** 2)) / np.sqrt(np.mean(ref**2)) < 1e-5


def test_nan_pixels_are_restored_and_neighbours_stay_finite(tiny_weights):
    net, config = load_network(tiny_weights)
    image = _image((30, 30))
    image[10:14, 5:9] = np.nan
    image[0, 0] = np.nan
    out = enhance_array(image, Predictor(net, config, tile=12), Scale())
    expected_nan = np.kron(~np.isfinite(image), np.ones((2, 2), bool))
    np.testing.assert_array_equal(np.isnan(out), expected_nan)
    assert np.isfinite(out[~expected_nan]).all()
    # input untouched
    assert np.isnan(image[10, 5])


def test_normalisation_is_applied_and_undone(tiny_weights):
    net, config = load_network(tiny_weights)
    image = _image((16, 16))
    pred = Predictor(net, config, tile=0)
    out = enhance_array(image, pred, Scale())
    np.testing.assert_allclose(out, 2.0 * pred.run(image / 2.0), rtol=1e-6)


def test_fully_masked_tiles_are_skipped(tiny_weights):
    net, config = load_network(tiny_weights)
    image = _image((40, 40))
    skip = np.zeros(image.shape, bool)
    skip[:20, :20] = True
    pred = Predictor(net, config, tile=20)
    out = pred.run(image, skip=skip)
    whole = pred.run(image)
    assert np.isnan(out[:40, :40]).all()
    np.testing.assert_allclose(out[40:, :], whole[40:, :], rtol=1e-6)


def test_all_nan_image_is_an_error(tiny_weights):
    net, config = load_network(tiny_weights)
    with pytest.raises(EnhanceError, match="no finite pixels"):
        enhance_array(np.full((8, 8), np.nan, "float32"), Predictor(net, config), Scale())


def test_tiny_images(tiny_weights, tiny_encdec):
    net, config = load_network(tiny_weights)
    assert Predictor(net, config).run(_image((2, 3))).shape == (4, 6)
    with pytest.raises(EnhanceError, match="at least 2 x 2"):
        Predictor(net, config).run(_image((1, 5)))
    enet, econfig = tiny_encdec
    assert Predictor(enet, econfig).run(_image((3, 3))).shape == (6, 6)
    with pytest.raises(EnhanceError, match="at least 3 x 3"):
        Predictor(enet, econfig).run(_image((2, 8)))
    with pytest.raises(EnhanceError, match="too small"):
        Predictor(net, config, tile=1)


def test_bfloat16_is_close_to_float32(tiny_weights):
    net, config = load_network(tiny_weights)
    image = _image((24, 24))
    ref = Predictor(net, config, tile=0).run(image)
    low = Predictor(net, config, tile=0, precision="bfloat16").run(image)
    assert low.dtype == np.float32
    rel = np.sqrt(np.mean((low - ref) ** 2)) / np.sqrt(np.mean(ref**2))
    assert 0 < rel < 0.05


def test_unknown_precision(tiny_weights):
    net, config = load_network(tiny_weights)
    with pytest.raises(EnhanceError, match="unknown precision"):
        Predictor(net, config, precision="float16")


@pytest.mark.parametrize("tile", [7, 16])
def test_disk_mask_tiling_matches_whole_image_on_the_disk(tiny_weights, tile):
    net, config = load_network(tiny_weights)
    n = 60
    image = _image((n, n), seed=3)
    y, x = np.mgrid[:n, :n]
    skip = np.hypot(x - 29.5, y - 29.5) > 24
    pred = Predictor(net, config, tile=tile)
    out = pred.run(image, skip=skip)
    whole = Predictor(net, config, tile=0).run(image)
    keep = np.kron(~skip, np.ones((2, 2), bool))
    assert np.isfinite(out[keep]).all()
    assert np.abs(out[keep] - whole[keep]).max() <= 1e-5 * np.ptp(whole)
    assert np.isnan(out[:2, :2]).all()  # the corners are never computed
    computed = sum((y1 - y0) * (x1 - x0) for (y0, y1), (x0, x1) in pred._tiles(n, n, skip))
    assert computed < 0.95 * n * n


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_interior_tiles_without_padding_match_the_padded_network(precision):
    from enhance_lib.nets.backend import set_random_seed

    set_random_seed(11)
    config = NetworkConfig(depth=2, filters=5)
    net = build_model(config)
    image = _image((70, 83), seed=6)
    pred = Predictor(net, config, tile=12, precision=precision)
    assert pred._interior is not None
    tiled = pred.run(image)  # most tiles are interior (margin 7 < distance to the border)
    whole = Predictor(net, config, tile=0, subpixel=False, precision=precision).run(image)
    tol = 1e-5 if precision == "float32" else 5e-2
    assert np.abs(tiled - whole).max() <= tol * np.abs(whole).max()
