"""The choices the package offers, and the network's architecture: no Keras import here.

Command-line parsers and option checks take their choices from this module, so that
building a parser (``enhance -h``) does not import Keras or its backend.
"""

import dataclasses

from ..errors import EnhanceError

__all__ = [
    "ACTIVATIONS",
    "BN_EPSILON",
    "COMPRESSIONS",
    "DEFAULT_DEPTH",
    "DEFAULT_FILTERS",
    "DEFAULT_LR",
    "DEVICES",
    "HMI_SCALE",
    "LR_EPOCH",
    "MODELS",
    "PRECISIONS",
    "NetworkConfig",
    "minimum_size",
    "receptive_margin",
    "weighted_layer_kinds",
]

#: Network families: ``keepsize`` (published) and ``encdec``.
MODELS = ("keepsize", "encdec")
#: Non-linearities of the networks.
ACTIVATIONS = ("relu", "elu")
#: Arithmetic of the prediction.
PRECISIONS = ("float32", "bfloat16")
#: Where to compute.
DEVICES = ("auto", "cpu", "gpu")
#: The published network's residual blocks and filters per layer.
DEFAULT_DEPTH = 5
DEFAULT_FILTERS = 64
#: Adam's learning rate unless asked otherwise (the original's).
DEFAULT_LR = 1e-4
#: Epoch (0-based) from which the original multiplied the learning rate by ``lr_multiplier``.
LR_EPOCH = 20
#: HMI's pixel scale (arcsec per pixel), at which the networks were trained.
HMI_SCALE = 0.504
#: How outputs are stored (:func:`enhance_lib.io.fits.write_image`).
COMPRESSIONS = ("none", "gzip", "rice")


#: L2 regularisation of the kernels by default (the original's).
DEFAULT_L2 = 1e-7


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Architecture of an Enhance network.

    Attributes
    ----------
    model : {'keepsize', 'encdec'}
        Network family; ``keepsize`` is the published one.
    depth : int
        Number of residual blocks (5 published).
    filters : int
        Convolution kernels per layer (64 published).
    activation : {'relu', 'elu'}
        Non-linearity.
    noise : float
        Standard deviation of the Gaussian noise added to the input during training
        (``keepsize`` only; inactive at inference).
    l2 : float
        L2 regularisation of the convolution kernels (training only).

    Examples
    --------
    >>> NetworkConfig(depth=1, filters=8).to_dict()
    {'model': 'keepsize', 'depth': 1, 'filters': 8, 'activation': 'relu', 'noise': 0.0, 'l2': 1e-07}
    >>> NetworkConfig(model="unet")
    Traceback (most recent call last):
    ...
    enhance_lib.errors.EnhanceError: unknown model 'unet'; choose one of keepsize, encdec
    """

    model: str = "keepsize"
    depth: int = DEFAULT_DEPTH
    filters: int = DEFAULT_FILTERS
    activation: str = "relu"
    noise: float = 0.0
    l2: float = DEFAULT_L2

    def __post_init__(self):
        if self.model not in MODELS:
            raise EnhanceError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.activation not in ACTIVATIONS:
            raise EnhanceError(
                f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        if int(self.depth) < 0 or int(self.filters) < 1:
            raise EnhanceError(f"depth must be >= 0 and filters >= 1 (got {self.depth}, {self.filters})")

    def to_dict(self):
        """Return the configuration as a plain dictionary (JSON-serializable)."""
        return dataclasses.asdict(self)


#: BatchNormalization's epsilon (Keras' default, as the original's Keras 2 layers had it).
BN_EPSILON = 1e-3


def weighted_layer_kinds(config, *, batch_norm=True):
    """The network's weighted layers in order, ``'conv'`` or ``'bn'``, without building it
    (the order in which weight files list them; tested against
    :func:`enhance_lib.nets.models.build_model`).

    Examples
    --------
    >>> weighted_layer_kinds(NetworkConfig(depth=1, filters=4))
    ['conv', 'conv', 'bn', 'conv', 'bn', 'conv', 'bn', 'conv', 'conv']
    """
    bn = ["bn"] if batch_norm else []
    block = ["conv", *bn, "conv", *bn]
    if config.model == "keepsize":
        return ["conv", *block * config.depth, "conv", *bn, "conv", "conv"]
    return ["conv", *bn, "conv", *bn, *block * config.depth, *(["conv", *bn] * 2), "conv"]


def receptive_margin(config):
    """Input pixels on each side that influence an output pixel (tiling overlap).

    ``keepsize``: one pixel per padded 3x3 convolution before the upsampling
    (2 depth + 2) plus one for the convolution after it. ``encdec``: counted at
    each resolution and rounded up to an even number so tiles stay aligned with
    the stride-2 grid.
    """
    if config.model == "keepsize":
        return 2 * config.depth + 3
    # 1 (full res) + 2 (stride-2 conv, incl. grid phase) + 2 per conv at half
    # resolution (2 depth) + 1 (conv after first upsampling) + 1 (after second)
    margin = 1 + 2 + 4 * config.depth + 1 + 1
    return margin + margin % 2


def minimum_size(config):
    """Smallest image side the network accepts (reflection padding needs 2 pixels)."""
    return 2 if config.model == "keepsize" else 3
