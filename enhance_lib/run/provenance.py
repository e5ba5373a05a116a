"""The provenance of an output: the header of the enhanced data and of each extension HDU.

Every number a user could quote about an output is in its header, with how it was made: the
input's header moved to the x2 grid (:func:`~enhance_lib.io.headers.upsample_header`), the
normalisation (``ENHNORM``), the forward check (``ENHFWD``) and the network's in-domain level
(``ENHFWDL``), the noise and calibration of the uncertainty maps (``ENHNOISE``, ``ENHNCORR``, ``UNCDRAWS``,
``UNCCALN``, ``UNCCALM``), and HISTORY lines that say which network, weights, backend,
normalisation and photometry made it. The :class:`~enhance_lib.run.enhancer.Enhancer` calls
:func:`output_header` and the extension headers once per output.
"""

import datetime
import os

import numpy as np
from astropy.io import fits

from .. import __version__
from ..io.headers import add_history, upsample_header
from .uncertainty import SMOOTH

__all__ = ["UNCERTAINTY_MAPS", "extension_header", "output_header", "residual_header"]

#: The uncertainty HDUs after the data, in order: (EXTNAME, the attribute of
#: :class:`~enhance_lib.run.uncertainty.PlaneUncertainty` it holds, what it is).
UNCERTAINTY_MAPS = (
    ("UNCERT", "total", "the calibrated 1-sigma uncertainty of the primary HDU's data (UNCNOISE and UNCMODEL "
                        "combined with the factors UNCCALN, UNCCALM)"),
    ("UNCNOISE", "noise", "the input's noise (ENHNOISE) propagated through the network, 1 sigma, not calibrated"),
    ("UNCMODEL", "model", "the network's structure-dependent error (what the data cannot determine), 1 sigma, "
                          "from the error network, not calibrated"),
)


def output_header(prepared, network, result, forward, *, precision, uncertainty=None, draws=None) -> fits.Header:
    """The header of ``result``: the input's, updated for the x2 grid
    (:func:`~enhance_lib.io.headers.upsample_header`), with ENHNORM, the forward check
    (ENHFWD; ``forward``: each plane's percent), the noise and calibration of the
    ``uncertainty`` maps (ENHNOISE, ENHNCORR, UNCDRAWS, UNCCALN, UNCCALM) and HISTORY.

    Parameters
    ----------
    prepared : enhance_lib.run.prepare.Prepared
        The input.
    network : enhance_lib.run.enhancer.Network
        What enhanced it.
    result : numpy.ndarray
        The enhanced data (its shape).
    forward : sequence of float
        Each plane's forward check, percent (NaN: none).
    precision : str
        The compute precision, for HISTORY.
    uncertainty : list of enhance_lib.run.uncertainty.PlaneUncertainty or None, optional
        Each plane's maps (None for an all-NaN plane), when made.
    draws : int, optional
        The Monte-Carlo draws of ``UNCNOISE`` (with ``uncertainty``).

    Returns
    -------
    astropy.io.fits.Header
        A new header; ``prepared.header`` is not modified.
    """
    header = upsample_header(prepared.header, shape=result.shape[-2:], factor=2)
    first = prepared.normalizers[prepared.first_plane]
    worst = _plane_keywords(header, first, prepared.normalizers, forward)
    domain = network.domain
    if domain is not None:
        header["ENHFWDL"] = (round(domain.percent, 4), "the network's in-domain forward check, %")
    described = _uncertainty_keywords(header, uncertainty, network, draws=draws) if uncertainty is not None else []
    header["DATE"] = (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                      "file written (UTC)")
    source = os.path.basename(prepared.source)
    if prepared.hdu_index is not None:
        source += f" HDU {prepared.hdu_index}"
    if len(prepared.normalizers) == 1:
        normalisation = [f"normalisation: {first.describe()}"]
    else:
        normalisation = [f"normalisation, plane {k}: " + (n.describe() if n is not None else
                                                          "none (no finite pixels: output all NaN)")
                         for k, n in enumerate(prepared.normalizers, 1)]
    photometry = (network.response.describe(prepared.kind, constant=first.constant)
                  if network.response is not None else "the network's output as it is (faithful)")
    config = network.config
    return add_history(header, [
        f"Enhanced x2 by enhance_lib {__version__} (Diaz Baso+Asensio Ramos 2018)",
        f"network: {prepared.kind} {config.model} depth={config.depth} filters={config.filters} "
        f"activation={config.activation}",
        f"weights: {os.path.basename(network.weights)}",
        f"backend: {network.backend} ({precision})",
        *normalisation,
        f"photometry: {photometry}",
        _forward_history(worst, domain),
        *described,
        f"input: {source}",
    ])


def _plane_keywords(header, first, normalizers, forward):
    """ENHNORM (``first``'s constant) and ENHFWD in ``header`` (and ENHNnnnn, ENHFnnnn per plane
    of a cube); the worst plane's forward check (None when no pixel was compared)."""
    header["ENHNORM"] = (float(first.constant), "Enhance normalisation constant (input units)")
    if len(normalizers) > 1:  # a cube: every plane's constant (ENHNnnnn, 1-based as FITS axes)
        for k, normalizer in enumerate(normalizers, 1):
            if normalizer is not None:  # an all-NaN plane has none (its HISTORY line says so)
                header[f"ENHN{k:04d}"] = (float(normalizer.constant), f"Enhance normalisation of plane {k}")
    finite = [f for f in forward if np.isfinite(f)]
    worst = max(finite) if finite else None
    # a cube's ENHFWD is its worst plane's, so that one number bounds them all
    header["ENHFWD"] = (round(worst, 4) if worst is not None else None,
                        "forward check: RMS(HMI(out) - in)/RMS(in), %")
    if len(forward) > 1:
        for k, value in enumerate(forward, 1):
            if np.isfinite(value):
                header[f"ENHF{k:04d}"] = (round(value, 4), f"forward check of plane {k}, %")
    return worst


def _forward_history(worst, domain):
    """The HISTORY line of the forward check and its verdict against the in-domain level."""
    if domain is None:
        level = "no in-domain level recorded with the weights"
    else:
        verdict = "within" if worst is None or worst <= domain.limit else "BEYOND"
        level = (f"{verdict} {domain.factor:g}x the network's in-domain level {domain.percent:.2f} % "
                 f"(measured on {domain.measured_on})")
    return ("forward check (ENHFWD): the output through HMI's PSF (Wachter+2012 form, Enhance's "
            "parameters) and pixels differs from the input by "
            + (f"{worst:.2f} %" if worst is not None else "(no pixel compared)")
            + f" of the input's RMS; {level}")


def _uncertainty_keywords(header, maps, network, *, draws):
    """ENHNOISE (ENHSnnnn per plane of a cube), the draws and the calibration, in ``header``;
    the HISTORY lines that say how the maps were made."""
    planes = [m for m in maps if m is not None]
    first = planes[0]
    header["ENHNOISE"] = (float(f"{first.sigma:.6g}"), "input noise per pixel, input units (UNCNOISE)")
    header["ENHNCORR"] = (round(first.correlation, 3), "noise correlation: Gaussian width, px (0 white)")
    if len(maps) > 1:
        for k, m in enumerate(maps, 1):
            if m is not None:
                header[f"ENHS{k:04d}"] = (float(f"{m.sigma:.6g}"), f"input noise of plane {k}")
                header[f"ENHC{k:04d}"] = (round(m.correlation, 3), f"its correlation (ENHNCORR) of plane {k}")
    calibration = network.calibration
    header["UNCDRAWS"] = (draws, "Monte-Carlo draws of the noise (UNCNOISE)")
    header["UNCCALN"] = (calibration.noise, "UNCERT factor of UNCNOISE (HISTORY: how)")
    header["UNCCALM"] = (calibration.model, "UNCERT factor of UNCMODEL")
    return [
        f"uncertainty: ENHNOISE {first.method}",
        f"uncertainty: UNCNOISE = std of the output over {draws} Monte-Carlo draws of Gaussian "
        f"noise of ENHNOISE added to the input ({_correlation_text(planes)}; variance averaged over "
        f"{SMOOTH}x{SMOOTH} output px)",
        f"uncertainty: UNCMODEL = the error network {os.path.basename(network.error_weights)} (learnt on "
        "synthetic truth with a Gaussian likelihood: the error of the network on noise-free input)",
        f"uncertainty: UNCERT = hypot({calibration.noise:.4g} UNCNOISE, {calibration.model:.4g} UNCMODEL), "
        f"calibration: {calibration.measured_on}",
    ]


def _correlation_text(planes):
    """How the draws' noise was correlated: ``'white'``, or the Gaussian of the first plane (of
    every plane of a cube: ENHCnnnn)."""
    widths = [m.correlation for m in planes]
    if not any(widths):
        return "white"
    if len(planes) > 1:
        return "correlated as ENHCnnnn says: white noise convolved with a Gaussian, rescaled to ENHNOISE per pixel"
    return f"correlated (Gaussian {widths[0]:.2f} px): white noise convolved with it, rescaled to ENHNOISE per pixel"


def extension_header(header: fits.Header, name: str, text: str) -> fits.Header:
    """The header of an uncertainty image: the output's grid, units and keys, its own HISTORY."""
    own = fits.Header(header, copy=True)
    own.remove("HISTORY", ignore_missing=True, remove_all=True)
    own["EXTNAME"] = name
    return add_history(own, [f"{name}: {text}; see the primary HDU's HISTORY for how it was made"])


def residual_header(prepared) -> fits.Header:
    """The header of the ``RESIDUAL`` image: the input's grid and units."""
    header = fits.Header(prepared.header, copy=True)
    for key in ("SIMPLE", "EXTEND", "EXTNAME", "DATAMIN", "DATAMAX", "DATAMEAN", "DATARMS", "DATAMEDN"):
        header.remove(key, ignore_missing=True)
    header["EXTNAME"] = "RESIDUAL"
    return add_history(header, [
        "Forward check residual of the Enhance output in the primary HDU: the output convolved with "
        "HMI's PSF, averaged over each input pixel, minus the input; input grid and units; NaN where "
        "not compared (missing, or less than 90 % of the PSF on finite output)",
    ])
