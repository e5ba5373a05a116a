"""FITS input and output: find the image, read it as float32, write it atomically.

The reader takes the first HDU that holds an image of two or more dimensions, so
that the Rice-compressed HMI files distributed by JSOC (an empty primary HDU and
a ``CompImageHDU`` in HDU 1) are read like plain ones. Before it reads any data it
checks what the header promises against the file and the memory
(:func:`check_promises`): a corrupt or truncated file is refused in one line
instead of being padded with zeros or ending in a ``MemoryError``. The writer
replaces its destination atomically: a crash never leaves a truncated file or
loses an older one.
"""

import dataclasses
import errno
import logging
import math
import os
import re
import shutil
import warnings
import zlib

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from ..errors import EnhanceError, warn_user
from .atomic import atomic_path
from .headers import strip_structural
from .memory import available_memory

log = logging.getLogger(__name__)

__all__ = [
    "COMPRESSION",
    "DEFLATE_MAX_RATIO",
    "MEMORY_FACTOR",
    "FitsImage",
    "check_promises",
    "image_data",
    "read_header",
    "read_image",
    "same_file",
    "write_image",
]


@dataclasses.dataclass
class FitsImage:
    """An image read from a FITS file.

    Attributes
    ----------
    data : numpy.ndarray
        float32 in native byte order, shape (ny, nx) or (nplanes, ny, nx);
        scaled by BSCALE/BZERO, NaN where the file has NaN or BLANK.
    header : astropy.io.fits.Header
        A copy of the image HDU's header (for a compressed HDU, the image header).
    hdu_index : int
        Index of the HDU the image came from.
    path : str
        The file read.
    """

    data: np.ndarray
    header: fits.Header
    hdu_index: int
    path: str


def _is_image_hdu(hdu):
    return isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)) and not isinstance(
        hdu, fits.GroupsHDU
    )


def read_image(path):
    """Read the first image of a FITS file.

    What the header promises is checked before any data is read
    (:func:`check_promises`).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    FitsImage

    Raises
    ------
    EnhanceError
        If the file is missing or not FITS, holds no image, the image is 1-D or
        has more than 3 dimensions, the file is too short for what its header
        promises (truncated or corrupt), the image would not fit in the memory
        available, or no pixel is finite.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise EnhanceError("file not found", path=path)
    if os.path.isdir(path):
        raise EnhanceError("is a folder, not a FITS file", path=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            found = _read_hdus(path)
        except EnhanceError:
            raise
        except PermissionError:
            raise EnhanceError("permission denied", path=path) from None
        except (OSError, EOFError, zlib.error, ValueError, TypeError, IndexError, KeyError) as exc:
            # EOFError and zlib.error: a damaged gzip stream.
            msg = f"not a readable FITS file ({_without_api_hints(exc)})"
            raise EnhanceError(msg, path=path) from None
    for w in caught:
        # Header repairs were asked for (silentfix). astropy's "File may have been
        # truncated" (as often as it looks) is moot: check_promises found the image's data
        # whole, only the padding after them or an HDU after the image can be missing.
        # Anything else is worth telling the user.
        if not issubclass(w.category, VerifyWarning) and "may have been truncated" not in str(w.message):
            warn_user(f"{path}: {w.message}")

    data, header, index = found
    if not np.isfinite(data).any():
        raise EnhanceError("all pixels are NaN or infinite", path=path)
    log.debug("%s: HDU %d, shape %s", path, index, data.shape)
    return FitsImage(data=data, header=header, hdu_index=index, path=path)


def read_header(path):
    """The header of the image :func:`read_image` would read, without reading its data.

    Only headers are read (cheap, whatever the header promises); :func:`read_image`
    checks the promises.

    Returns
    -------
    astropy.io.fits.Header or None
        None when the file cannot be read or holds no image of two or more axes
        (:func:`read_image` then says why).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(os.fspath(path), memmap=False, lazy_load_hdus=True) as hdul:
                for hdu in hdul:
                    if _is_image_hdu(hdu) and int(hdu.header.get("NAXIS", 0)) >= 2:
                        return hdu.header.copy()
    except (OSError, EOFError, zlib.error, ValueError, TypeError, IndexError, KeyError):
        return None
    return None


def _without_api_hints(exc):
    """astropy's reason without the sentences that advise a Python caller of it, which a
    user of the programs cannot follow (``If this is really a FITS file, try with
    ignore_missing_simple=True``).

    Examples
    --------
    >>> _without_api_hints(OSError("No SIMPLE card found, this file does not appear to be a valid FITS file. "
    ...                            "If this is really a FITS file, try with ignore_missing_simple=True"))
    'No SIMPLE card found, this file does not appear to be a valid FITS file'
    """
    sentences = re.split(r"(?<=\.)\s+", str(exc).strip())
    kept = [s for s in sentences if not re.search(r"\b[a-z_]+=(True|False)\b", s)]
    return " ".join(kept).rstrip(".") or str(exc)


def _read_hdus(path):
    """Return (data, header, index) of the first image with ndim >= 2.

    HDUs are chosen from their headers; data is read only from the chosen one, once
    :func:`check_promises` has passed it.
    """
    one_d = False
    file_size = os.path.getsize(path)
    with fits.open(path, memmap=False) as hdul:
        # 'silentfix+ignore' is verify('silentfix') that does not stop at the
        # unfixable cards of an otherwise readable file (HMI headers have some).
        hdul.verify("silentfix+ignore")
        for index, hdu in enumerate(hdul):
            if not _is_image_hdu(hdu):
                continue
            axes = _axes(hdu.header)
            if not axes or 0 in axes:
                continue  # no data
            if len(axes) == 1:
                one_d = True
                continue
            if len(axes) > 3:
                msg = f"data has {len(axes)} dimensions, need a 2-D image or a 3-D cube"
                raise EnhanceError(msg, path=path)
            check_promises(path, hdu, file_size=file_size)
            raw = hdu.data
            if raw is None or raw.size == 0:
                continue
            return image_data(raw, hdu.header), hdu.header.copy(), index
    if one_d:
        raise EnhanceError("data is 1-D, need a 2-D image or a 3-D cube", path=path)
    raise EnhanceError("no image data in any HDU", path=path)


def _axes(header):
    """(NAXIS1, NAXIS2, ...) of a header, in FITS order."""
    return tuple(int(header.get(f"NAXIS{i}", 0)) for i in range(1, int(header.get("NAXIS", 0)) + 1))


#: Memory an ``enhance`` run takes per byte of its image as float32, beyond the program's own
#: (libraries, network): the file as read, its float32 copy, the normalised planes, the x2
#: output (4x) and what writing it takes. Measured by ``benchmarks/batch_memory.py`` as the
#: growth of the peak RSS of ``enhance.py`` from a 2048^2 to a 4096^2 image: 9.9 for float32
#: files, 11.1 for HMI's (int32 with BSCALE, Rice-compressed, read as float64); rounded up.
#: The tiles' work space (another ~0.5 GB with tiles of 512, whatever the image) is not
#: counted, so that the check refuses only what certainly would not fit.
MEMORY_FACTOR = 12

#: The most a deflate stream (gzip) can expand: 1032 bytes out for each byte in (RFC 1951:
#: a 258-byte match costs at least 2 bits). A ``.fits.gz`` file of n bytes cannot hold more
#: than 1032 n bytes of FITS.
DEFLATE_MAX_RATIO = 1032


def check_promises(path, hdu, *, file_size=None, memory=None):
    """Refuse an image HDU whose header promises more than the file holds or the memory takes.

    Called by :func:`read_image` before any data is read, so that a corrupt download
    whose header says 200000 x 200000 is one line, not a ``MemoryError``, and a
    truncated file is refused rather than padded.

    * A plain image: its data, ``|BITPIX|/8 * NAXIS1 * NAXIS2 (* NAXIS3)`` bytes, must
      lie between the end of its header and the end of the file (the padding to 2880
      bytes after it is not required).
    * A tile-compressed image (``CompImageHDU``): its binary table, ``NAXIS1 * NAXIS2``
      bytes of rows and a heap of ``PCOUNT``, must lie in the file likewise, and the
      table must have one row per tile of the image its ZNAXISn and ZTILEn describe
      (FITS standard 4.0, section 10.1).
    * A gzipped file (``.fits.gz``): its decompressed size cannot be known without
      decompressing it (gzip's ISIZE trailer holds it modulo 2^32, for the last member
      only), so the limit is what deflate can expand the file to at most
      (:data:`DEFLATE_MAX_RATIO`), an upper bound that never refuses a good file; a
      gzipped file cut short is refused by the decompression. Files compressed
      otherwise (bzip2, zip, xz) get the memory check only.
    * Memory: :data:`MEMORY_FACTOR` times the image's float32 size must not exceed
      :func:`~enhance_lib.io.memory.available_memory` (not checked where it is unknown).

    Parameters
    ----------
    path : str
        The file, for messages and its size.
    hdu : astropy.io.fits.ImageHDU, PrimaryHDU or CompImageHDU
        An HDU of a file opened by astropy, its data not yet read.
    file_size : int, optional
        The size of the file in bytes (default: from the file system).
    memory : int, optional
        Bytes available (default :func:`~enhance_lib.io.memory.available_memory`).

    Raises
    ------
    EnhanceError
        One line naming the file: what the header promises and what the file (or the
        memory) holds.
    """
    info = hdu.fileinfo()
    file_size = os.path.getsize(path) if file_size is None else file_size
    axes = _axes(hdu.header)
    pixels = math.prod(axes)
    shape = " x ".join(str(n) for n in axes)
    compression = getattr(info["file"], "compression", None) if info else None
    if info is not None and compression in (None, "gzip"):
        if compression == "gzip":
            room = DEFLATE_MAX_RATIO * file_size - info["datLoc"]
            holds = (f"the gzipped file ({_size_text(file_size)}) can hold at most {_size_text(max(room, 0))} "
                     "after the header")
        else:
            room = file_size - info["datLoc"]
            holds = f"the file holds only {_size_text(max(room, 0))} after the header"
        if isinstance(hdu, fits.CompImageHDU):
            table = _stored_header(hdu, info)
            stored = int(table["NAXIS1"]) * int(table["NAXIS2"]) + int(table.get("PCOUNT", 0))
            promise = f"header promises a compressed image of {shape} pixels in a table of {_size_text(stored)}"
            _check_tiles(path, table, axes, shape)
        else:
            bits = abs(int(hdu.header["BITPIX"]))
            stored = bits // 8 * pixels
            promise = f"header promises {shape} pixels of {bits}-bit data ({_size_text(stored)})"
        if stored > room:
            raise EnhanceError(f"{promise} but {holds}: truncated or corrupt", path=path)
    memory = available_memory() if memory is None else memory
    need = MEMORY_FACTOR * 4 * pixels
    if memory is not None and need > memory:
        msg = (f"the image ({shape} pixels, {_size_text(4 * pixels)} as float32) needs about {_size_text(need)} "
               f"of memory to enhance, but {_size_text(memory)} is available")
        raise EnhanceError(msg, path=path)


def _stored_header(hdu, info):
    """The binary-table header of a tile-compressed HDU, as stored in the file (astropy's
    ``hdu.header`` is the image header)."""
    file = info["file"]
    here = file.tell()
    try:
        file.seek(info["hdrLoc"])
        raw = file.read(info["datLoc"] - info["hdrLoc"])
    finally:
        file.seek(here)
    return fits.Header.fromstring(raw.decode("ascii", errors="replace"))


def _check_tiles(path, table, axes, shape):
    """A compressed table must have one row per tile (ZTILE1 defaults to the row, the others to 1)."""
    tiles = [int(table.get(f"ZTILE{i}", n if i == 1 else 1)) for i, n in enumerate(axes, 1)]
    if min(tiles) < 1:
        raise EnhanceError(f"compressed image with tiles of {' x '.join(map(str, tiles))} pixels: corrupt", path=path)
    expected = math.prod(-(-n // t) for n, t in zip(axes, tiles, strict=True))
    rows = int(table["NAXIS2"])
    if rows != expected:
        msg = (f"header promises a compressed image of {shape} pixels in {expected} tiles of "
               f"{' x '.join(map(str, tiles))} but its table has {rows} rows: truncated or corrupt")
        raise EnhanceError(msg, path=path)


def _size_text(nbytes):
    """A byte count for people: '5.8 kB', '160 GB' (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def image_data(raw, header):
    """An HDU's data as a new float32 array, NaN where an integer image has its BLANK value.

    astropy has applied BSCALE/BZERO already when they are set (a float result); an
    integer array was stored unscaled, with BLANK as its missing value.
    """
    data = np.array(raw, dtype=np.float32)
    blank = header.get("BLANK")
    if raw.dtype.kind in "iu" and isinstance(blank, int) and not isinstance(blank, bool):
        data[raw == blank] = np.nan
    return data


#: Output compression: name -> (astropy compression type, quantize_level). GZIP_2 (byte
#: shuffling, then gzip) with no quantisation is lossless for float32; RICE_1 needs integers,
#: so floats are quantised to 1/16 of each tile's noise estimate (with subtractive dither):
#: lossy, an error RMS of about noise / 55, and about 4x smaller than gzip.
COMPRESSION = {"gzip": ("GZIP_2", 0.0), "rice": ("RICE_1", 16.0)}


def write_image(path, data, header, *, input_path=None, compress=None, extensions=()):
    """Write ``data`` as a float32 primary HDU (or tile-compressed), replacing ``path`` atomically.

    The file is written to a temporary file in the destination's folder (created if
    needed) and moved onto ``path`` only when complete, so an existing file is
    never lost to a failed write.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    data : numpy.ndarray
        Image or cube; written as float32.
    header : astropy.io.fits.Header
        Header to write (storage keywords such as BSCALE or XTENSION are dropped
        from a copy); not modified.
    input_path : str or os.PathLike, optional
        The file the data came from; writing onto it is refused.
    compress : {None, 'none', 'gzip', 'rice'}
        None or 'none': an uncompressed primary HDU. Otherwise an empty primary HDU and
        the image as a tile-compressed ``CompImageHDU`` in HDU 1 (as JSOC distributes
        HMI data): 'gzip' lossless, 'rice' quantised (see :data:`COMPRESSION`).
    extensions : sequence of (str, numpy.ndarray, astropy.io.fits.Header)
        More images after the data, each an image HDU named by its ``EXTNAME`` (the
        forward check's residual, uncertainty maps), float32, compressed as the data.

    Returns
    -------
    bool
        True when a file was there (and is now replaced).

    Raises
    ------
    EnhanceError
        If ``path`` is the input file or a folder, or cannot be written (the file that was
        there, if any, is left as it was).
    """
    path = os.fspath(path)
    if input_path is not None and same_file(path, os.fspath(input_path)):
        raise EnhanceError("output would overwrite the input file", path=path)
    if os.path.isdir(path):
        raise EnhanceError("output is a folder, not a file", path=path)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim not in (2, 3):
        raise ValueError(f"data must be 2-D or 3-D, got shape {data.shape}")
    clean = strip_structural(fits.Header(header, copy=True))
    if compress in (None, "none"):
        hdus = fits.PrimaryHDU(data=data, header=clean)
    elif compress in COMPRESSION:
        kind, level = COMPRESSION[compress]
        for key in ("SIMPLE", "EXTEND"):
            clean.remove(key, ignore_missing=True)
        hdus = fits.HDUList([fits.PrimaryHDU(),
                             fits.CompImageHDU(data=data, header=clean, compression_type=kind, quantize_level=level)])
    else:
        raise ValueError(f"compress must be None, 'none', 'gzip' or 'rice', got {compress!r}")
    if extensions:
        hdus = fits.HDUList(hdus) if isinstance(hdus, fits.PrimaryHDU) else hdus
        for name, image, image_header in extensions:
            image_header = strip_structural(fits.Header(image_header, copy=True))
            for key in ("SIMPLE", "EXTEND"):
                image_header.remove(key, ignore_missing=True)
            image = np.asarray(image, dtype=np.float32)
            if compress in (None, "none"):
                hdus.append(fits.ImageHDU(data=image, header=image_header, name=name))
            else:
                kind, level = COMPRESSION[compress]
                hdus.append(fits.CompImageHDU(data=image, header=image_header, name=name, compression_type=kind,
                                              quantize_level=level))

    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the output folder ({exc.strerror or exc})"
        raise EnhanceError(msg, path=path) from None
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            hdus.writeto(f, output_verify="silentfix")
            f.flush()
            os.fsync(f.fileno())
            replaced = os.path.exists(path)
    except OSError as exc:
        nbytes = data.nbytes + sum(np.asarray(image).size * 4 for _, image, _ in extensions)
        msg = f"cannot write the output file ({_write_failure(exc, path, nbytes)})"
        raise EnhanceError(msg, path=path) from None
    log.debug("wrote %s, shape %s", path, data.shape)
    return replaced


def _write_failure(exc, path, nbytes):
    """Why a write failed, in the system's words: astropy and numpy drop the errno of a full
    disk (and repeat their own text), so a failure without one where the free space is less
    than the data is said as ENOSPC."""
    if exc.errno:
        return os.strerror(exc.errno)
    try:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    except OSError:
        free = None
    if free is not None and free < nbytes:
        return f"{os.strerror(errno.ENOSPC)}: {nbytes / 1e6:.3g} MB to write, {free / 1e6:.3g} MB free"
    return exc.strerror or str(exc)


def same_file(a, b):
    """True when two paths name the same file (False when either does not exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        # One of them does not exist: they cannot be the same file.
        return False
