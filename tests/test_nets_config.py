"""The architecture without Keras: layer order, receptive margin, minimum size."""

import numpy as np
import pytest

from enhance_lib.nets.backend import to_numpy
from enhance_lib.nets.config import NetworkConfig, receptive_margin, weighted_layer_kinds
from enhance_lib.nets.models import build_model

pytestmark = pytest.mark.backend


@pytest.mark.parametrize("model", ["keepsize", "encdec"])
def test_receptive_margin_bounds_the_influence_of_a_pixel(model):
    config = NetworkConfig(model=model, depth=1, filters=4)
    net = build_model(config)
    n = 40
    x = np.random.default_rng(2).random((1, n, n, 1)).astype("float32")
    y0 = to_numpy(net(x, training=False))[0, :, :, 0]
    x[0, n // 2, n // 2, 0] += 1.0
    y1 = to_numpy(net(x, training=False))[0, :, :, 0]
    rows, cols = np.nonzero(np.abs(y1 - y0) > 0)
    # output pixel j covers input (j - 0.5)/2: distance in input pixels
    dist = np.maximum(np.abs((rows - 0.5) / 2 - n // 2), np.abs((cols - 0.5) / 2 - n // 2))
    assert rows.size > 0
    assert dist.max() <= receptive_margin(config)


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("model", ["keepsize", "encdec"])
def test_weighted_layer_kinds_is_the_order_of_the_built_network(model, depth, batch_norm):
    """The layer order computed without Keras is the order of the weighted layers of the network built."""
    config = NetworkConfig(model=model, depth=depth, filters=2)
    net = build_model(config, batch_norm=batch_norm)
    names = {"Conv2D": "conv", "BatchNormalization": "bn"}
    built = [names[type(layer).__name__] for layer in net.layers if layer.weights]
    assert weighted_layer_kinds(config, batch_norm=batch_norm) == built
