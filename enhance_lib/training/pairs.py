"""Training databases from observed image pairs: co-aligned low- and high-resolution FITS files.

:func:`pairs_database` (``enhance-database pairs``) cuts random aligned patches of
co-aligned low/high-resolution images (high exactly twice the size of low) with
:func:`enhance_lib.training.patches.cut_patches`, with dihedral (and, for magnetograms,
sign-flip) augmentation, and writes them with
:func:`enhance_lib.training.database_file.write_database`.
"""

import logging
import os

from ..errors import EnhanceError, warn_user
from ..io.fits import read_image
from ..sun.kinds import check_kind, kind_from_header
from .database_file import check_database, write_database
from .patches import as_planes, check_patch_args, cut_patches, describe_normalization, parse_box, parse_normalization

log = logging.getLogger(__name__)

__all__ = ["pairs_database"]

def _check_pair_kinds(low, high, kind):
    """Warn when the headers of a low/high pair say different data types, or not ``kind``.

    Parameters
    ----------
    low, high : enhance_lib.io.fits.FitsImage
    kind : {'intensity', 'blos'}
        The data type the database is built for.
    """
    (lo_kind, lo_reason), (hi_kind, hi_reason) = kind_from_header(low.header), kind_from_header(high.header)
    if lo_kind is not None and hi_kind is not None and lo_kind != hi_kind:
        warn_user(
            f"{low.path} and {high.path} hold different data types: {lo_kind} ({lo_reason}) and "
            f"{hi_kind} ({hi_reason}); pairing them as {kind}"
        )
        return
    said = [(image.path, found, reason) for image, (found, reason) in
            ((low, (lo_kind, lo_reason)), (high, (hi_kind, hi_reason))) if found is not None and found != kind]
    if said:
        path, found, reason = said[0]
        warn_user(f"{path}: building a {kind} database as asked (`kind`), but the header says {found} ({reason})")


def pairs_database(
    output,
    *,
    kind,
    low,
    high,
    n_patches=1000,
    patch_size=50,
    region=None,
    exclude=(),
    augment=True,
    sign_flips=True,
    normalization="auto",
    loss_border=0,
    cut_edges=(),
    seed=0,
):
    """Build a database from co-aligned low/high-resolution FITS image pairs.

    Parameters
    ----------
    output : str
    kind : {'intensity', 'blos'}
    low, high : sequence of str
        FITS files, paired in order; each high image exactly twice the size of its
        low image (3-D cubes pair plane by plane).
    n_patches, patch_size : int
    region : str or tuple, optional
        ``'y0:y1,x0:x1'`` in low pixels: where patches may be cut.
    exclude : sequence of str or tuple
        Boxes (low pixels) no patch may overlap (e.g. a validation region).
    augment : bool
        Random dihedral transforms (and sign flips for blos).
    sign_flips : bool
        With ``augment``, random signs for blos (see :func:`cut_patches`).
    normalization : 'auto', 'quiet-sun', 'max', 'none' or a positive number
    loss_border : int
        Target pixels at patch edges (but not at image edges) left out of the
        training loss, stored as the ``lossMask`` dataset (see :func:`cut_patches`).
    cut_edges : sequence of str
        Image edges (:data:`EDGES`) that are cuts of the larger image the high
        images were made from: never counted as image edges.
    seed : int

    Returns
    -------
    DatabaseInfo

    Warns
    -----
    EnhanceUserWarning
        When the headers (``CONTENT``, ``BUNIT``; :func:`enhance_lib.sun.kinds.kind_from_header`)
        of a low and a high image say different data types, or one says another
        data type than ``kind``. The database is built as asked.
    """
    check_kind(kind)
    check_patch_args(n_patches, patch_size)
    parse_normalization(kind, normalization)
    if len(low) != len(high) or not low:
        msg = f"need as many `high` as `low` files (got {len(low)} low, {len(high)} high)"
        raise EnhanceError(msg)
    region = parse_box(region) if isinstance(region, str) else region
    exclude = [parse_box(b) if isinstance(b, str) else tuple(b) for b in exclude]
    lows, highs, names = [], [], []
    for lo_path, hi_path in zip(low, high, strict=True):
        lo_image, hi_image = read_image(lo_path), read_image(hi_path)
        _check_pair_kinds(lo_image, hi_image, kind)
        lo = as_planes(lo_image.data, lo_path)
        hi = as_planes(hi_image.data, hi_path)
        if len(lo) != len(hi):
            msg = f"{len(lo)} low planes but {len(hi)} high planes in {hi_path}"
            raise EnhanceError(msg, path=lo_path)
        for n, (a, b) in enumerate(zip(lo, hi, strict=True)):
            lows.append(a)
            highs.append(b)
            names.append(f"{lo_path} / {hi_path}" + (f" plane {n}" if len(lo) > 1 else ""))
    inputs, targets, meta = cut_patches(
        lows, highs, kind=kind, n_patches=n_patches, patch_size=patch_size, region=region,
        exclude=exclude, augment=augment, sign_flips=sign_flips, normalization=normalization,
        loss_border=loss_border, cut_edges=cut_edges, seed=seed, names=names,
    )
    attrs = {
        "mode": "pairs",
        "type": kind,
        "low": [os.fspath(p) for p in low],
        "high": [os.fspath(p) for p in high],
        "region": None if region is None else list(region),
        "exclude": [list(b) for b in exclude],
        "augment": bool(augment),
        "sign_flips": bool(augment and sign_flips and kind == "blos"),
        "normalization": describe_normalization(kind, normalization),
        "normalization_factors": [float(f) for f in meta["factors"]],
        "seed": int(seed),
        "patch_size": int(patch_size),
        "loss_border": int(loss_border),
        "cut_edges": list(cut_edges),
    }
    write_database(output, inputs, targets, mask=meta["mask"], attrs=attrs)
    return check_database(output)
