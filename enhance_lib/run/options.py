"""The options of a run, written once: what the programs fill from their flags, the Python
functions from their keywords, and Dask ships to its workers.
"""

import dataclasses
import numbers
import os

from ..errors import EnhanceError
from ..nets.config import ACTIVATIONS, COMPRESSIONS, DEVICES, MODELS, PRECISIONS
from ..sun.kinds import check_kind
from ..sun.normalization import parse_method

__all__ = ["EnhanceOptions"]


@dataclasses.dataclass(frozen=True)
class EnhanceOptions:
    """How to enhance: the network, the normalisation, the computation and the output.

    Frozen, hashable and checked when made (before any file is read or network built), so
    that one object carries the choices from a program's flags or a function's keywords to
    the :class:`~enhance_lib.run.enhancer.Enhancer`, a batch and the Dask workers.

    Attributes
    ----------
    kind : {'intensity', 'blos'} or None
        The data type. None: from each input's header (HMI's ``CONTENT``, then ``BUNIT``),
        else the type the weights record, else intensity (:func:`enhance_lib.sun.kinds.resolve_kind`).
        A given kind that contradicts a header is obeyed, with a warning.
    weights : str or None
        Weights file: a Keras 3 ``.weights.h5`` (from ``enhance-train``) or the original
        Enhance's Keras 2 HDF5. None: the shipped network of each data type
        (:func:`enhance_lib.nets.weights.default_weights`).
    model, depth, filters, activation : optional
        The architecture (``keepsize``/``encdec``, residual blocks, filters per layer,
        ``relu``/``elu``): read from the weights; when given, they must agree with them.
    normalization : None, 'quiet-sun', 'max', 'none' or a positive number
        How the input reaches the network's units. None: the quiet-Sun level (with a
        limb-darkening fit on a full disk) for intensity, 1000 (G -> kG) for blos
        (:func:`enhance_lib.sun.normalization.parse_method`).
    tile : int or None
        Tile size in input pixels (0: the whole image at once). None: the default of the
        device and backend (:func:`enhance_lib.run.tiling.default_tile`). Tiles never
        change the result.
    precision : {'float32', 'bfloat16'}
        Arithmetic of the prediction; bfloat16 is faster only where the hardware computes
        it natively (~1 % relative error).
    device : {'auto', 'cpu', 'gpu'}
        Where to compute; ``auto`` takes a GPU when the Keras backend sees one.
    conserve_flux : bool
        Invert the network's response to uniform inputs and keep the input's flux on large
        scales (:mod:`enhance_lib.sun.photometry`); False (default): the network's output as
        it is, as the published method.
    compress : {'none', 'gzip', 'rice'}
        How output files are stored (:func:`enhance_lib.io.fits.write_image`).
    residual : bool
        Also give the forward check's residual image (:mod:`enhance_lib.run.forward_check`:
        the output through HMI's PSF and pixels, minus the input, on the input's grid), as
        the ``RESIDUAL`` image HDU of an output file. Every output records the check's value
        (``ENHFWD``) either way.
    uncertainty : bool
        Also the 1-sigma maps ``UNCNOISE``, ``UNCMODEL`` and their calibrated total ``UNCERT``
        (:mod:`enhance_lib.run.uncertainty`): image HDUs of an output file, ``Enhanced``'s
        attributes from Python. Outputs without it do not change.
    noise : float or None
        The input's noise per pixel (its units) for ``UNCNOISE``; None: measured from the data
        (:func:`enhance_lib.sun.noise.estimate_noise`), recorded as ``ENHNOISE``.
    draws : int
        Monte-Carlo draws of the noise for ``UNCNOISE`` (each costs one prediction).
    error_weights : str or None
        The error network of ``UNCMODEL`` (:mod:`enhance_lib.training.error_model`). None: the
        shipped one of the data type, for the shipped networks.

    Raises
    ------
    EnhanceError
        An unknown choice or a value out of range; the message names the option in backticks.

    Examples
    --------
    >>> EnhanceOptions(kind="blos").normalization_method
    ('constant', 1000.0)
    >>> EnhanceOptions(tile=-1)
    Traceback (most recent call last):
    ...
    enhance_lib.errors.EnhanceError: `tile` must be >= 0 (got -1)
    """

    kind: str | None = None
    weights: str | None = None
    model: str | None = None
    depth: int | None = None
    filters: int | None = None
    activation: str | None = None
    normalization: str | float | None = None
    tile: int | None = None
    precision: str = "float32"
    device: str = "auto"
    conserve_flux: bool = False
    compress: str = "none"
    residual: bool = False
    uncertainty: bool = False
    noise: float | None = None
    draws: int = 8
    error_weights: str | None = None

    def __post_init__(self):
        if self.kind is not None:
            check_kind(self.kind)
        if self.weights is not None:
            object.__setattr__(self, "weights", os.fspath(self.weights))
        if self.compress is None:
            object.__setattr__(self, "compress", "none")
        for name, choices in (("model", MODELS), ("activation", ACTIVATIONS), ("precision", PRECISIONS),
                              ("device", DEVICES), ("compress", COMPRESSIONS)):
            value = getattr(self, name)
            if value is not None and value not in choices:
                raise EnhanceError(f"unknown `{name}` {value!r}; choose {', '.join(choices)}")
        for name, least in (("depth", 0), ("filters", 1), ("tile", 0), ("draws", 2)):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise EnhanceError(f"`{name}` must be a whole number (got {value!r})")
            if value < least:
                raise EnhanceError(f"`{name}` must be >= {least} (got {value})")
        for name in ("residual", "conserve_flux", "uncertainty"):
            if not isinstance(getattr(self, name), bool):
                raise EnhanceError(f"`{name}` must be True or False (got {getattr(self, name)!r})")
        if self.error_weights is not None:
            object.__setattr__(self, "error_weights", os.fspath(self.error_weights))
        if self.noise is not None:
            if not isinstance(self.noise, numbers.Real) or isinstance(self.noise, bool) or not self.noise > 0:
                raise EnhanceError(f"`noise` must be a positive number, in the input's units (got {self.noise!r})")
            object.__setattr__(self, "noise", float(self.noise))
        self.normalization_method  # noqa: B018  (checked now, not at the first image)

    @property
    def normalization_method(self):
        """``(name, constant or None)`` of the normalisation for this kind (intensity when
        the kind is read from each input)."""
        return parse_method(self.kind or "intensity", self.normalization)

    def replace(self, **changes):
        """A copy with some options changed (checked again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_keywords(cls, keywords, *, where="enhance"):
        """The options of keyword arguments, or an :class:`EnhanceError` naming an unknown one."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise EnhanceError(f"{where} got unknown option(s) {', '.join(unknown)}; the options are "
                               f"{', '.join(sorted(names))} (see EnhanceOptions)")
        return cls(**keywords)
