"""The custom layers: what they compute and their Keras serialisation."""

import numpy as np
import pytest

from enhance_lib.nets.backend import import_keras, to_numpy
from enhance_lib.nets.layers import CropToScale, PadToEven, ReflectionPadding2D

pytestmark = pytest.mark.backend


def test_reflection_padding_reflects_and_serialises():
    layer = ReflectionPadding2D((1, 2))
    x = np.arange(12, dtype="float32").reshape(1, 3, 4, 1)
    y = to_numpy(layer(x))[0, :, :, 0]
    assert y.shape == (5, 8)
    np.testing.assert_array_equal(y[1, :3], [2, 1, 0])  # reflection without repeating the edge
    clone = ReflectionPadding2D.from_config(layer.get_config())
    assert clone.padding == (1, 2)


@pytest.mark.parametrize("layer", [ReflectionPadding2D((2, 3)), PadToEven(), CropToScale(scale=3)],
                         ids=["ReflectionPadding2D", "PadToEven", "CropToScale"])
def test_layers_survive_keras_serialisation(layer):
    """Each custom layer comes back from Keras' serialisation (as in a saved model) with its settings."""
    keras = import_keras()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()


def test_pad_to_even_and_crop_to_scale():
    """Odd sizes are padded to even by reflecting the last row and column; the crop keeps scale x the reference."""
    x = np.arange(15, dtype="float32").reshape(1, 3, 5, 1)
    even = to_numpy(PadToEven()(x))[0, :, :, 0]
    assert even.shape == (4, 6)
    np.testing.assert_array_equal(even[:3, :5], x[0, :, :, 0])
    np.testing.assert_array_equal(even[3, :5], x[0, 1, :, 0])  # row 2 reflected about the last row
    np.testing.assert_array_equal(even[:3, 5], x[0, :, 3, 0])
    assert to_numpy(PadToEven()(np.zeros((1, 4, 6, 1), "float32"))).shape == (1, 4, 6, 1)  # even stays as it is
    big, reference = np.arange(2 * 9 * 11).astype("float32").reshape(2, 9, 11, 1), np.zeros((2, 3, 4, 1), "float32")
    cropped = to_numpy(CropToScale(scale=2)([big, reference]))
    np.testing.assert_array_equal(cropped, big[:, :6, :8])
