"""Figures: input and enhanced output side by side."""

import numpy as np

from .atomic import atomic_path
from .errors import EnhanceError

__all__ = ["rms_contrast", "plot_comparison"]


def rms_contrast(image, *, kind):
    """Contrast figure for a title.

    Intensity: sigma / mean (per cent). Magnetograms have a mean near zero, so
    their figure is the RMS field in the image's units.
    """
    values = np.asarray(image, dtype=np.float64)
    values = values[np.isfinite(values)]
    if kind == "intensity":
        return f"contrast {100 * values.std() / values.mean():.2f} %"
    return f"RMS {np.sqrt(np.mean(values**2)):.1f}"


def plot_comparison(path, original, enhanced, *, kind, title=None):
    """Write a PNG with the input and the output on the same colour scale.

    Parameters
    ----------
    path : str
        PNG file (written atomically).
    original, enhanced : numpy.ndarray
        2-D input and x2 output (first plane of a cube).
    kind : {'intensity', 'blos'}
    title : str, optional
        Figure title (e.g. the input file name).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = original[np.isfinite(original)]
    if kind == "blos":
        vmax = np.percentile(np.abs(finite), 99.5)
        vmin, cmap = -vmax, "gray"
    else:
        vmin, vmax = np.percentile(finite, [0.5, 99.5])
        cmap = "gray"
    ny, nx = original.shape
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5 * ny / max(nx, 1) + 0.8), constrained_layout=True)
    for ax, img, name in ((axes[0], original, "input"), (axes[1], enhanced, "Enhance x2")):
        im = ax.imshow(img, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{name}: {img.shape[1]} x {img.shape[0]} px, {rms_contrast(img, kind=kind)}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label="I / I_qs" if kind == "intensity" else "B_los")
    if title:
        fig.suptitle(title)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    except OSError as exc:
        raise EnhanceError(f"cannot write the figure ({exc.strerror or exc})", path=path) from None
    finally:
        plt.close(fig)
