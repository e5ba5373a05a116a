"""Enhance: deconvolution and x2 super-resolution of SDO/HMI data (Keras 3).

A reimplementation of Díaz Baso & Asensio Ramos (2018, A&A 614, A5) on Keras 3.
The Python face is :func:`enhance` (numpy arrays), :func:`enhance_hdu` (astropy
HDUs), :func:`enhance_map` (sunpy maps) and :class:`Enhancer` (the network built
once, for many inputs). The modules are independent concerns; importing this
package does not import Keras or its backend (TensorFlow, JAX or PyTorch:
:mod:`enhance_lib.nets.backend`).
"""

__version__ = "0.1.0"

from .api import enhance, enhance_hdu, enhance_map
from .errors import (
    EnhanceDeprecationWarning,
    EnhanceDomainWarning,
    EnhanceError,
    EnhanceMetadataWarning,
    EnhanceUserWarning,
    EnhanceWarning,
)
from .run.enhancer import Enhancer
from .run.options import EnhanceOptions

__all__ = [
    "EnhanceDeprecationWarning",
    "EnhanceDomainWarning",
    "EnhanceError",
    "EnhanceMetadataWarning",
    "EnhanceOptions",
    "EnhanceUserWarning",
    "EnhanceWarning",
    "Enhancer",
    "__version__",
    "enhance",
    "enhance_hdu",
    "enhance_map",
]
