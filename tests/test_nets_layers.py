"""The custom layers: what they compute and their Keras serialisation."""

import numpy as np
import pytest

from enhance_lib.nets.backend import to_numpy
from enhance_lib.nets.layers import ReflectionPadding2D

pytestmark = pytest.mark.backend


def test_reflection_padding_reflects_and_serialises():
    layer = ReflectionPadding2D((1, 2))
    x = np.arange(12, dtype="float32").reshape(1, 3, 4, 1)
    y = to_numpy(layer(x))[0, :, :, 0]
    assert y.shape == (5, 8)
    np.testing.assert_array_equal(y[1, :3], [2, 1, 0])  # reflection without repeating the edge
    clone = ReflectionPadding2D.from_config(layer.get_config())
    assert clone.padding == (1, 2)
