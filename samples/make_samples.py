"""Make the sample HMI-like images ``samples/hmi.fits`` and ``samples/blos.fits``.

    python samples/make_samples.py [--out-dir samples]

The images are *synthetic*: a scene of :func:`enhance_lib.sun.synthetic_sun` (a
sunspot, pores, plage, network and granulation at 0.063"/px) degraded by the forward
model of Díaz Baso & Asensio Ramos (2018, A&A 614, A5) -- the HMI PSF (Enhance
variant) and resampling to 0.504"/px -- with HMI-like noise added. The headers carry
an HMI-like helioprojective WCS. Running the script again reproduces the files
(float32, to rounding of the FFTs on another machine).
"""

import argparse
import os
import sys

import numpy as np
from astropy.io import fits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from enhance_lib import psf, sun  # noqa: E402

SEED = 2018
HMI_PIXELS = 256
TRUTH_SCALE = psf.HMI_SCALE / 8  # 0.063"/px, an exact 8x8 binning to HMI
NOISE_INTENSITY = 0.004  # I/I_qs, HMI continuum ~0.3-0.5 %
NOISE_BLOS = 9.0  # G, HMI 45 s magnetograms ~8-10 G
CENTER = (-250.0, 180.0)  # arcsec (HPLN, HPLT) of the image centre
DATE_OBS = "2014-06-01T12:00:00.000"
MJD_OBS = 56809.5  # DATE-OBS as MJD (keeps astropy.wcs from "fixing" it)
T_OBS = "2014.06.01_12:00:00_TAI"
RSUN_OBS = 945.8  # arcsec, early June
DSUN_OBS = 1.5168e11  # m
HGLT_OBS = -0.09  # deg (B0 in early June)
FILES = {"intensity": "hmi.fits", "blos": "blos.fits"}


def make_scene():
    """The high-resolution synthetic scene the samples are made from."""
    size = HMI_PIXELS * 8
    arcsec = size * TRUTH_SCALE  # 129"
    return sun.synthetic_sun(
        shape=(size, size),
        pixel_scale=TRUTH_SCALE,
        seed=SEED,
        spots=[sun.Spot(0.55 * arcsec, 0.45 * arcsec, radius=11.0, field=2700.0)],
        pores=[
            sun.Pore(0.25 * arcsec, 0.7 * arcsec, radius=1.6, field=-1500.0, intensity=0.45),
            sun.Pore(0.22 * arcsec, 0.76 * arcsec, radius=1.1, field=-1300.0, intensity=0.55),
            sun.Pore(0.8 * arcsec, 0.2 * arcsec, radius=1.3, field=1400.0, intensity=0.5),
        ],
        plage=[
            sun.PlageRegion(0.25 * arcsec, 0.75 * arcsec, radius=12.0, polarity=-1),
            sun.PlageRegion(0.75 * arcsec, 0.25 * arcsec, radius=9.0, polarity=1),
        ],
    )


def make_images():
    """Return ``{'intensity': array, 'blos': array}``: float32 HMI-like images."""
    scene = make_scene()
    rng = np.random.default_rng([SEED, 99])
    intensity = psf.to_hmi(scene.intensity, pixel_scale=TRUTH_SCALE)
    blos = psf.to_hmi(scene.blos, pixel_scale=TRUTH_SCALE)
    intensity = intensity + NOISE_INTENSITY * rng.standard_normal(intensity.shape)
    blos = blos + NOISE_BLOS * rng.standard_normal(blos.shape)
    return {"intensity": intensity.astype(np.float32), "blos": blos.astype(np.float32)}


def make_header(kind, shape):
    """An HMI-like header for a sample image of ``kind`` ('intensity' or 'blos')."""
    ny, nx = shape
    h = fits.Header()
    h["WCSNAME"] = "Helioprojective-cartesian"
    h["CTYPE1"] = "HPLN-TAN"
    h["CTYPE2"] = "HPLT-TAN"
    h["CUNIT1"] = "arcsec"
    h["CUNIT2"] = "arcsec"
    h["CDELT1"] = psf.HMI_SCALE
    h["CDELT2"] = psf.HMI_SCALE
    h["CRPIX1"] = (nx + 1) / 2.0
    h["CRPIX2"] = (ny + 1) / 2.0
    h["CRVAL1"] = CENTER[0]
    h["CRVAL2"] = CENTER[1]
    h["CROTA2"] = 0.0
    h["DATE-OBS"] = DATE_OBS
    h["MJD-OBS"] = MJD_OBS
    h["T_OBS"] = T_OBS
    h["TELESCOP"] = "SDO/HMI"
    h["INSTRUME"] = "HMI_SIDE1"
    h["WAVELNTH"] = (6173.0, "[Angstrom]")
    if kind == "intensity":
        h["CONTENT"] = "CONTINUUM INTENSITY"
        h["BUNIT"] = ("I/I_qs", "intensity over the quiet-Sun mean")
    else:
        h["CONTENT"] = "MAGNETOGRAM"
        h["BUNIT"] = "Gauss"
    h["RSUN_OBS"] = (RSUN_OBS, "[arcsec]")
    h["DSUN_OBS"] = (DSUN_OBS, "[m]")
    h["HGLN_OBS"] = (0.0, "[deg]")
    h["HGLT_OBS"] = (HGLT_OBS, "[deg]")
    h["ORIGIN"] = "Enhance (Keras 3) samples"
    h["COMMENT"] = "SYNTHETIC data, not an SDO/HMI observation."
    h["COMMENT"] = "Made by samples/make_samples.py from enhance_lib.sun.synthetic_sun"
    h["COMMENT"] = f"(seed {SEED}, {TRUTH_SCALE:g} arcsec/px, sunspot, pores, plage),"
    h["COMMENT"] = "HMI PSF (Diaz Baso & Asensio Ramos 2018 variant), 0.504 arcsec/px,"
    noise = f"{NOISE_INTENSITY:g} I/I_qs" if kind == "intensity" else f"{NOISE_BLOS:g} G"
    h["COMMENT"] = f"Gaussian noise {noise}; no limb darkening, disk-centre physics."
    h["HISTORY"] = "samples/make_samples.py: synthetic Sun -> enhance_lib.psf.to_hmi + noise"
    return h


def write_samples(out_dir):
    """Write the two sample files into ``out_dir``; return their paths."""
    images = make_images()
    paths = []
    for kind, name in FILES.items():
        data = images[kind]
        hdu = fits.PrimaryHDU(data=data, header=make_header(kind, data.shape))
        path = os.path.join(out_dir, name)
        hdu.writeto(path, overwrite=True)
        paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args(argv)
    for path in write_samples(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
