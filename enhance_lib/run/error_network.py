"""The error network at run time: an error model's weights file loaded, tiled and read as a
standard deviation (``UNCMODEL``).

The network itself is learnt by :mod:`enhance_lib.training.error_model`: a small ``keepsize``
network whose output ``z`` is the log of the local variance of the shipped network's error
(network units, x2 grid), so that ``exp(z / 2)`` is its 1-sigma. Its weights are an ordinary
Enhance weights file with the root attribute ``enhance_product = "error"`` (:data:`PRODUCT`);
they run tiled, by a :class:`~enhance_lib.run.tiling.Predictor`, on the same normalised input as
the shipped network.
"""

import numpy as np

from ..errors import EnhanceError

__all__ = ["PRODUCT", "Z_RANGE", "ErrorPredictor", "sigma_from_log_variance"]

#: The root attribute ``enhance_product`` of an error model's weights file.
PRODUCT = "error"
#: ``z`` is clipped to this range (``exp(-z)`` in the training loss must not overflow early in
#: training, and a standard deviation read from it stays finite).
Z_RANGE = (-30.0, 30.0)


def sigma_from_log_variance(z):
    """``exp(0.5 z)``, float32, ``z`` clipped to :data:`Z_RANGE` first: the error network's
    output as a standard deviation."""
    return np.exp(0.5 * np.clip(z, *Z_RANGE)).astype(np.float32)


class ErrorPredictor:
    """The error network, tiled: its output ``z`` (the log of the local error variance, network
    units) turned into a standard deviation ``exp(z / 2)``, so that the pipeline that
    de-normalises the enhanced image (:func:`~enhance_lib.run.tiling.enhance_array`: levels,
    limb) puts it in the input's units.

    Parameters
    ----------
    predictor : enhance_lib.run.tiling.Predictor
        The error network's.
    attrs : dict, optional
        The decoded root attributes of its weights file (its calibration among them:
        :meth:`enhance_lib.run.uncertainty.Calibration.from_attrs`).

    Attributes
    ----------
    predictor, attrs
    margin : int
        The network's reach (input pixels), as :class:`~enhance_lib.run.tiling.Predictor`'s.
    """

    def __init__(self, predictor, attrs=None):
        self.predictor = predictor
        self.margin = predictor.margin
        self.attrs = dict(attrs or {})

    @classmethod
    def from_file(cls, path, *, kind=None, tile=None, device="auto"):
        """The error network of a weights file, built once (BatchNormalization folded).

        Parameters
        ----------
        path : str or os.PathLike
            A weights file written by ``python -m enhance_lib.scripts.error_model`` (root
            attribute ``enhance_product = "error"``).
        kind : {'intensity', 'blos'}, optional
            Checked against the file's data type.
        tile, device
            As for :class:`~enhance_lib.run.tiling.Predictor`.

        Raises
        ------
        EnhanceError
            When the file is not an error model, or is one of another kind.
        """
        from ..nets.weights import build_network, inspect_weights
        from .tiling import Predictor

        info = inspect_weights(path)
        if info.attrs.get("enhance_product") != PRODUCT:
            raise EnhanceError("not an error model (no enhance_product 'error'): give the file made by "
                               "python -m enhance_lib.scripts.error_model", path=str(path))
        net, config = build_network(info, kind=kind, fold=True)
        return cls(Predictor(net, config, tile=tile, device=device), info.attrs)

    def run(self, image, *, skip=None, progress=False):
        """The 1-sigma error of the enhanced ``image`` in network units, float32, on the x2 grid.

        Parameters
        ----------
        image : numpy.ndarray, (ny, nx)
            The input as the shipped network sees it (normalised, finite).
        skip, progress
            As for :meth:`enhance_lib.run.tiling.Predictor.run`.

        Returns
        -------
        numpy.ndarray, float32, (2ny, 2nx)
            ``exp(0.5 z)``, positive. Times the normaliser's level on the output grid
            (``normalizer.constant`` at disk centre) it is ``UNCMODEL`` in the input's units.
        """
        z = self.predictor.run(np.asarray(image, np.float32), skip=skip, progress=progress)
        return sigma_from_log_variance(z)
