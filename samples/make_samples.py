"""Make the samples: real HMI crops (``hmi.fits``, ``blos.fits``, ``*_published.fits``)
and synthetic HMI-like images with a WCS (``synthetic_hmi.fits``, ``synthetic_blos.fits``).

    python samples/make_samples.py [--out-dir samples] [--data ../shared/data]

The real samples are the public SDO/HMI crops that the original Enhance shipped
(continuum intensity and line-of-sight magnetogram of an active region, 200 x 140
pixels: the left 140 of 200 columns) and the published Enhance networks' outputs
for them, read from ``--data`` (``$ENHANCE_TEST_DATA`` or ``../shared/data``) and
written with headers saying what they are. Their date and pointing are not known,
so their headers hold HMI's pixel scale (which sunpy needs to open them) and no
reference coordinate.

The synthetic images are a scene of :func:`enhance_lib.training.synthetic_sun.synthetic_sun` (a
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

from enhance_lib.instrument import forward_model
from enhance_lib.nets.config import HMI_SCALE
from enhance_lib.training import synthetic_sun as sun

SEED = 2018
HMI_PIXELS = 256
TRUTH_SCALE = HMI_SCALE / 8  # 0.063"/px, an exact 8x8 binning to HMI
NOISE_INTENSITY = 0.004  # I/I_qs, HMI continuum ~0.3-0.5 %
NOISE_BLOS = 9.0  # G, HMI 45 s magnetograms ~8-10 G
CENTER = (-250.0, 180.0)  # arcsec (HPLN, HPLT) of the image centre
DATE_OBS = "2014-06-01T12:00:00.000"
MJD_OBS = 56809.5  # DATE-OBS as MJD (keeps astropy.wcs from "fixing" it)
T_OBS = "2014.06.01_12:00:00_TAI"
RSUN_OBS = 945.8  # arcsec, early June
DSUN_OBS = 1.5168e11  # m
HGLT_OBS = -0.09  # deg (B0 in early June)
FILES = {"intensity": "synthetic_hmi.fits", "blos": "synthetic_blos.fits"}
# Real crops: kind -> (input file in the data folder, published output there, sample names).
REAL = {
    "intensity": ("hmi_sample_left.fits", "hmi_enhanced_left.fits", "hmi.fits", "hmi_published.fits"),
    "blos": ("blos_sample_left.fits", "blos_enhanced_left.fits", "blos.fits", "blos_published.fits"),
}


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
    intensity = forward_model.to_hmi(scene.intensity, pixel_scale=TRUTH_SCALE)
    blos = forward_model.to_hmi(scene.blos, pixel_scale=TRUTH_SCALE)
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
    h["CDELT1"] = HMI_SCALE
    h["CDELT2"] = HMI_SCALE
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
        h["BUNIT"] = ("", "dimensionless: intensity over the quiet-Sun mean")
    else:
        h["CONTENT"] = "MAGNETOGRAM"
        h["BUNIT"] = "Gauss"
    h["RSUN_OBS"] = (RSUN_OBS, "[arcsec]")
    h["DSUN_OBS"] = (DSUN_OBS, "[m]")
    h["HGLN_OBS"] = (0.0, "[deg]")
    h["HGLT_OBS"] = (HGLT_OBS, "[deg]")
    h["ORIGIN"] = "Enhance (Keras 3) samples"
    h["COMMENT"] = "SYNTHETIC data, not an SDO/HMI observation."
    h["COMMENT"] = "Made by samples/make_samples.py from enhance_lib.training.synthetic_sun.synthetic_sun"
    h["COMMENT"] = f"(seed {SEED}, {TRUTH_SCALE:g} arcsec/px, sunspot, pores, plage),"
    h["COMMENT"] = "HMI PSF (Diaz Baso & Asensio Ramos 2018 variant), 0.504 arcsec/px,"
    noise = f"{NOISE_INTENSITY:g} I/I_qs" if kind == "intensity" else f"{NOISE_BLOS:g} G"
    h["COMMENT"] = f"Gaussian noise {noise}; no limb darkening, disk-centre physics."
    h["HISTORY"] = "samples/make_samples.py: synthetic Sun -> enhance_lib.instrument.forward_model.to_hmi + noise"
    return h


def real_header(kind, *, published=False):
    """The header of a real sample: what it is, its units and HMI's pixel scale, no pointing."""
    scale = HMI_SCALE / (2 if published else 1)
    h = fits.Header()
    # Pixel scale only: sunpy needs angular axis units to open a map; CRVAL, CRPIX,
    # CTYPE and the date are left out because they are not known for these crops.
    h["CUNIT1"] = "arcsec"
    h["CUNIT2"] = "arcsec"
    h["CDELT1"] = (scale, "[arcsec/px] " + ("x2 of HMI's pixel scale" if published else "HMI's pixel scale"))
    h["CDELT2"] = (scale, "[arcsec/px]")
    h["TELESCOP"] = "SDO/HMI"
    h["INSTRUME"] = "HMI"
    h["WAVELNTH"] = (6173.0, "[Angstrom] Fe I line")
    if kind == "intensity":
        h["CONTENT"] = "CONTINUUM INTENSITY"
        h["BUNIT"] = ("", "dimensionless: intensity over the quiet-Sun level")
    else:
        h["CONTENT"] = "MAGNETOGRAM"
        h["BUNIT"] = ("G", "line-of-sight magnetic field")
    h["ORIGIN"] = "Enhance (Keras 3) samples"
    what = "continuum intensity" if kind == "intensity" else "line-of-sight magnetogram"
    if published:
        h["COMMENT"] = f"Output of the published Enhance {kind} network (Diaz Baso & Asensio"
        h["COMMENT"] = "Ramos 2018, A&A 614, A5) for the real SDO/HMI sample, as distributed"
        h["COMMENT"] = "with the original Enhance: the left 280 of 400 columns, all 400 rows."
        h["COMMENT"] = "It was computed from all 200 input columns, so its last ~26 columns"
        h["COMMENT"] = "depend on input pixels the 140-column sample does not hold."
    else:
        h["COMMENT"] = f"Real SDO/HMI {what} of an active region (public NASA data),"
        h["COMMENT"] = "the sample the original Enhance shipped: a 200 x 140 crop (all 200"
        h["COMMENT"] = "rows, the left 140 of 200 columns)."
    if kind == "blos":
        h["COMMENT"] = "The published blos output was made with division by 1000 (kG) and back."
    h["COMMENT"] = "Observation date and pointing unknown: no reference coordinate is given;"
    h["COMMENT"] = "coordinates a reader assumes for it (sunpy: 0, 0) are not the true ones."
    h["HISTORY"] = "samples/make_samples.py: copied from the original Enhance's sample data"
    return h


def write_real_samples(data_dir, out_dir):
    """Write the real samples and the published outputs into ``out_dir``; return their paths."""
    paths = []
    for kind, (sample, output, name, published_name) in REAL.items():
        for source, target, published in ((sample, name, False), (output, published_name, True)):
            data = fits.getdata(os.path.join(data_dir, source))
            data = data.astype(data.dtype.newbyteorder("="))  # values as they are, native order
            hdu = fits.PrimaryHDU(data=data, header=real_header(kind, published=published))
            path = os.path.join(out_dir, target)
            hdu.writeto(path, overwrite=True)
            paths.append(path)
    return paths


def write_samples(out_dir):
    """Write the two synthetic sample files into ``out_dir``; return their paths."""
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
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.environ.get("ENHANCE_TEST_DATA") or os.path.join(here, os.pardir, os.pardir, "shared", "data")
    parser.add_argument("--out-dir", default=here)
    parser.add_argument("--data", default=default_data, help="folder of the real HMI crops (../shared/data)")
    args = parser.parse_args(argv)
    paths = write_samples(args.out_dir)
    if os.path.isdir(args.data):
        paths += write_real_samples(args.data, args.out_dir)
    else:
        print(f"{args.data}: not found; the real samples were not remade", file=sys.stderr)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
