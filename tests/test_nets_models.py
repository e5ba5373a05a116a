"""The Keras 3 networks: architecture, sizes, serialisation, receptive field."""

import json

import numpy as np
import pytest

from enhance_lib.errors import EnhanceError
from enhance_lib.nets.backend import import_keras, to_numpy
from enhance_lib.nets.config import NetworkConfig
from enhance_lib.nets.models import build_model, encdec, keepsize

keras = import_keras()

# Backend-sensitive: .ci/run runs these on the JAX backend too.
pytestmark = pytest.mark.backend


def test_published_keepsize_has_446657_parameters():
    assert keepsize(depth=5, filters=64).count_params() == 446657


def test_layer_order_matches_original():
    # Keras 2 order of the published files: conv, (conv, BN, conv, BN) x depth, conv, BN, conv, conv
    net = keepsize(depth=2, filters=4)
    kinds = [type(layer).__name__ for layer in net.layers if layer.weights]
    assert kinds == ["Conv2D"] + ["Conv2D", "BatchNormalization"] * 5 + ["Conv2D", "Conv2D"]


@pytest.mark.parametrize("builder", [keepsize, encdec])
@pytest.mark.parametrize("shape", [(7, 9), (12, 5), (16, 16)])
def test_output_is_twice_the_input_for_any_size(builder, shape):
    net = builder(depth=1, filters=4)
    x = np.random.default_rng(0).random((1, *shape, 1)).astype("float32")
    assert net(x).shape == (1, 2 * shape[0], 2 * shape[1], 1)


def test_depth_filters_and_activation_are_honoured():
    net = build_model(NetworkConfig(depth=3, filters=6, activation="elu"))
    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 2 * 3 + 4  # first, 2 per block, before and after upsampling, 1x1
    assert all(c.filters == 6 for c in convs[:-1]) and convs[-1].filters == 1
    acts = [layer.get_config()["activation"] for layer in net.layers if isinstance(layer, keras.layers.Activation)]
    assert acts and set(acts) == {"elu"}


def test_encdec_uses_doubled_filters_in_the_residual_part():
    net = encdec(depth=1, filters=4)
    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [4, 8, 8, 8, 4, 4, 1]
    assert convs[1].strides == (2, 2)


def test_bad_config_is_an_enhance_error():
    with pytest.raises(EnhanceError, match="unknown model"):
        NetworkConfig(model="unet")
    with pytest.raises(EnhanceError, match="activation"):
        NetworkConfig(activation="tanh")


@pytest.mark.parametrize("builder", [keepsize, encdec])
def test_model_json_round_trip(builder):
    net = builder(depth=1, filters=4)
    clone = keras.models.model_from_json(net.to_json())
    clone.set_weights(net.get_weights())
    x = np.random.default_rng(1).random((1, 9, 11, 1)).astype("float32")
    np.testing.assert_allclose(to_numpy(clone(x)), to_numpy(net(x)), rtol=1e-6, atol=1e-6)
    assert "ReflectionPadding2D" in json.dumps(json.loads(net.to_json()))


def test_upsampling_init_starts_as_nearest_upsampling():
    from enhance_lib.nets.models import upsampling_init

    config = NetworkConfig(depth=2, filters=6, noise=0.0)
    net = upsampling_init(build_model(config), config)
    x = np.random.default_rng(3).normal(size=(1, 9, 13, 1)).astype("float32")  # signed, like B
    y = to_numpy(net(x, training=False))[0, :, :, 0]
    np.testing.assert_allclose(y, np.kron(x[0, :, :, 0], np.ones((2, 2))), atol=1e-6)
    config = NetworkConfig(depth=1, filters=4, activation="elu")
    with pytest.raises(EnhanceError, match="ReLU"):
        upsampling_init(build_model(config), config)
