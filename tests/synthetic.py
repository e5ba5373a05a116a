"""HMI-like headers and synthetic images shared by the tests (the fixtures of conftest.py
hand them out; module-level helpers import them from here)."""

import h5py
import numpy as np
from astropy.io import fits

# The synthetic full disk: off-centre, off-integer.
N, R, X0, Y0 = 512, 200.0, 255.3, 250.8
I0 = 5.0e4  # quiet-Sun intensity at disk centre, in counts
SCALE = 0.504 * 1900 / R  # arcsec/px, as a 4096^2 HMI image binned to 512^2


def hmi_header(*, cdelt=(0.504, 0.55), crpix=(10.0, 12.0), crval=(100.0, -50.0), cunit="arcsec", content=None,
               bunit=None, crota2=None, **cards):
    """A helioprojective header: WCS (unequal CDELT by default: swapped axes show), optional
    CONTENT, BUNIT and CROTA2, then ``cards`` as they are. None leaves a group out."""
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    if cunit is not None:
        header["CUNIT1"] = header["CUNIT2"] = cunit
    if cdelt is not None:
        header["CDELT1"], header["CDELT2"] = cdelt
    if crpix is not None:
        header["CRPIX1"], header["CRPIX2"] = crpix
    if crval is not None:
        header["CRVAL1"], header["CRVAL2"] = crval
    if crota2 is not None:
        header["CROTA2"] = crota2
    if content:
        header["CONTENT"] = content
    if bunit is not None:
        header["BUNIT"] = bunit
    for key, value in cards.items():
        header[key] = value
    return header


def law(mu):
    """The synthetic Sun's limb darkening, I_qs(mu) / I_qs(1)."""
    return 1.0 - 0.6 * (1.0 - mu)


def true_mu(shape, x0, y0, radius):
    """mu = cos(heliocentric angle) of every pixel of a disk, and the on-disk mask."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    rho2 = ((xx - x0) ** 2 + (yy - y0) ** 2) / radius**2
    return np.sqrt(np.clip(1.0 - rho2, 0.0, None)), rho2 <= 1.0


def disk_hmi_header(x0=X0, y0=Y0, radius=R):
    """The header of the synthetic full disk: centre and radius in its WCS and RSUN_OBS/R_SUN."""
    return hmi_header(cdelt=(SCALE, SCALE), crpix=(x0 + 1.0, y0 + 1.0),  # FITS pixels are 1-based
                      crval=(0.0, 0.0), crota2=0.0, TELESCOP="SDO/HMI", RSUN_OBS=radius * SCALE, R_SUN=radius)


def full_disk():
    """A limb-darkened disk with 3 % granulation noise, two spots, faculae and NaN off the limb."""
    rng = np.random.default_rng(42)
    mu, on_disk = true_mu((N, N), X0, Y0, R)
    quiet = I0 * law(mu) * (1.0 + 0.03 * rng.standard_normal((N, N)))
    image = quiet.copy()
    yy, xx = np.mgrid[0:N, 0:N]
    spots = np.zeros((N, N), bool)
    for cx, cy, size in ((280, 240, 18), (120, 300, 12)):  # near centre, and at mu ~ 0.4
        spot = np.hypot(xx - cx, yy - cy) < size
        image[spot] *= 0.25
        penumbra = (np.hypot(xx - cx, yy - cy) < 2 * size) & ~spot
        image[penumbra] *= 0.8
        spots |= spot | penumbra
    faculae = (np.hypot(xx - 400, yy - 330) < 20) & ~spots
    image[faculae] *= 1.15
    image[~on_disk] = np.nan
    return {"data": image.astype(np.float32), "mu": mu, "quiet": ~(spots | faculae) & on_disk}


def write_hmi_file(path, seed, shape=(30, 36), **keys):
    """A 1000 +- 40 image with square 0.504" pixels and OBSNUM = ``seed``, written to ``path``."""
    data = np.random.default_rng(seed).normal(1000.0, 40.0, shape).astype(np.float32)
    header = fits.Header(keys)
    for key, value in hmi_header(cdelt=(0.504, 0.504), crpix=(10.0 + seed, 12.0), crval=None, cunit=None).items():
        header[key] = value
    header["OBSNUM"] = seed
    fits.PrimaryHDU(data, header=header).writeto(path)


def wcs_header(variant):
    """An HMI-like header with a rotated WCS (``variant``: a PC matrix, CROTA2 or a CD matrix), HMI's
    pixel keywords, its image statistics and a comment and HISTORY card."""
    h = fits.Header()
    h["NAXIS"] = 2
    h["NAXIS1"] = 10
    h["NAXIS2"] = 12
    h["CTYPE1"] = "HPLN-TAN"
    h["CTYPE2"] = "HPLT-TAN"
    h["CUNIT1"] = "arcsec"
    h["CUNIT2"] = "arcsec"
    h["CRPIX1"] = (3.3, "reference pixel")
    h["CRPIX2"] = 8.7
    h["CRVAL1"] = -120.0
    h["CRVAL2"] = 45.0
    theta = np.deg2rad(25.0)
    c, s = np.cos(theta), np.sin(theta)
    if variant in ("pc", "crota"):
        h["CDELT1"] = (0.5, "arcsec/pixel")
        h["CDELT2"] = 0.6
    if variant == "pc":
        h["PC1_1"], h["PC1_2"], h["PC2_1"], h["PC2_2"] = c, -s * 0.6 / 0.5, s * 0.5 / 0.6, c
    elif variant == "crota":
        h["CROTA2"] = 25.0
    elif variant == "cd":
        h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = 0.5 * c, -0.6 * s, 0.5 * s, 0.6 * c
    h["RSUN_OBS"] = (960.0, "arcsec")
    h["R_SUN"] = (1905.0, "solar radius in pixels")
    h["X0_MP"] = 2047.3
    h["Y0_MP"] = 2049.1
    h["IMSCL_MP"] = 0.504
    h["DATAMIN"] = 0.1
    h["DATAMAX"] = 1.2
    for key, value in (("TOTVALS", 120), ("DATAVALS", 118), ("MISSVALS", 2), ("DATAMEAN", 0.9),
                       ("DATARMS", 0.1), ("DATAMED2", 0.95), ("DATAP99", 1.1)):
        h[key] = value  # HMI's statistics of the stored image
    h["DATASIGN"] = 1  # an HMI DATA keyword that is not a statistic: it stays
    h["TELESCOP"] = ("SDO/HMI", "telescope")
    h["COMMENT"] = "a comment card"
    h.add_history("first processing step")
    return h


def write_fits(path, data):
    """An image as a float32 primary HDU; the path as a string."""
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32)).writeto(path)
    return str(path)


def read_database(path):
    """A database's inputs and targets (imHMI, imSST)."""
    with h5py.File(path, "r") as f:
        return f["imHMI"][...], f["imSST"][...]


def nearest_up(x):
    """Nearest x2 upsampling."""
    return np.kron(x, np.ones((2, 2)))


def code_image(ny, nx):
    """Position-coded image: value = y * 100 + x (+1, so no pixel is 0)."""
    yy, xx = np.mgrid[:ny, :nx]
    return (yy * 100 + xx + 1).astype(float)


def with_header(path, **cards):
    """Cards added to a FITS file's primary header, in place; the path."""
    with fits.open(path, mode="update") as hdul:
        for key, value in cards.items():
            hdul[0].header[key] = value
    return path


def toy_pairs(n, *, size=8, channels=1, seed=0):
    """Inputs and their nearest-neighbour x2 upsampling: a problem the network can learn."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, size, size, channels)).astype(np.float32)
    return x, x.repeat(2, axis=1).repeat(2, axis=2)


def write_hmi_image(path, shape=(40, 48), *, cdelt=0.504, value=5e4, seed=0, extra=None):
    """An HMI-like continuum image (5e4 DN/s, 4 % granulation) with square ``cdelt`` pixels, written
    to ``path``; the data."""
    rng = np.random.default_rng(seed)
    data = (value * (1 + 0.04 * rng.standard_normal(shape))).astype(np.float32)
    header = hmi_header(cdelt=(cdelt, cdelt), bunit="DN/s", **(extra or {}))
    fits.PrimaryHDU(data, header).writeto(path)
    return data


def assert_one_line_error(code, err, output, *words):
    """Exit code 2, a single error line with ``words`` in it, no traceback, nothing written."""
    assert code == 2, err
    assert err.strip().splitlines() == [err.strip()], err
    assert err.startswith("enhance: error: ") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not output.exists()
