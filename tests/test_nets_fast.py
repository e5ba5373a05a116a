"""The fast keepsize function: the sub-pixel tail equals the network's upsampled convolution."""

import numpy as np
import pytest

from enhance_lib.nets.config import NetworkConfig
from enhance_lib.nets.models import build_model
from enhance_lib.run.tiling import Predictor

pytestmark = pytest.mark.backend


def _image(shape, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    return (1 + 0.2 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.05 * rng.standard_normal(shape)).astype("float32")


@pytest.mark.parametrize("activation", ["relu", "elu"])
@pytest.mark.parametrize("shape", [(9, 14), (2, 2), (31, 17)])
def test_subpixel_tail_equals_the_upsampled_convolution(activation, shape):
    from enhance_lib.nets.backend import set_random_seed

    set_random_seed(7)
    config = NetworkConfig(depth=1, filters=5, activation=activation)
    net = build_model(config)
    image = _image(shape, seed=4)
    ref = Predictor(net, config, tile=0, subpixel=False).run(image)
    fast = Predictor(net, config, tile=0, subpixel=True).run(image)
    # relative to the output's scale: a 2x2 image may give an almost flat output
    assert np.abs(fast - ref).max() <= 1e-5 * np.abs(ref).max()
