#!/usr/bin/env python
"""Numbers the README quotes about the synthetic Sun and the quiet-Sun estimate.

    python benchmarks/sun.py [--data ../shared/data]

* synthetic-Sun quiet granulation: rms contrast at 0.063"/px, after the HMI forward
  model (0.504"/px) and after the 28 cm target model (0.252"/px); the peak of its
  azimuthally averaged power spectrum (granule scale);
* the quiet-Sun level that ``normalize.quiet_sun_level`` finds on the real HMI crop,
  and the mean of that crop's field-free pixels (|B| < 50 G) for comparison.

Results go to stdout and ``benchmarks/results/sun.{json,md}``.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import SHARED_DATA_HELP, require_files, write_results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("ENHANCE_TEST_DATA") or str(REPO.parent / "shared" / "data"))
    p.add_argument("--no-real-crop", action="store_true", help="only the synthetic-Sun numbers (no --data needed)")
    args = p.parse_args(argv)
    data = Path(args.data)
    if not args.no_real_crop:
        require_files("benchmarks/sun.py", [data / "hmi_sample_left.fits", data / "blos_sample_left.fits"],
                      hint=SHARED_DATA_HELP + " (or --no-real-crop for the synthetic-Sun numbers alone)")

    from enhance_lib.instrument.forward_model import to_hmi, to_target
    from enhance_lib.training.evaluation import contrast, radial_power_spectrum
    from enhance_lib.training.synthetic_sun import synthetic_sun

    scale = 0.063
    result = {}
    for seed in (0, 1):
        scene = synthetic_sun(shape=(1024, 1024), pixel_scale=scale, seed=seed)
        k, power = radial_power_spectrum(scene.intensity, pixel_scale=scale)
        result[f"seed{seed}"] = {
            "contrast_truth": contrast(scene.intensity),
            "contrast_hmi": contrast(to_hmi(scene.intensity, pixel_scale=scale)),
            "contrast_target": contrast(to_target(scene.intensity, pixel_scale=scale)),
            "granule_scale_arcsec": float(1 / k[1:][np.argmax(power[1:])]),
        }
    if not args.no_real_crop:
        from astropy.io import fits

        from enhance_lib.sun.limb_darkening import quiet_sun_level

        intensity = fits.getdata(data / "hmi_sample_left.fits").astype(np.float64)
        blos = fits.getdata(data / "blos_sample_left.fits").astype(np.float64)
        result["real_crop"] = {
            "quiet_sun_level": quiet_sun_level(intensity),
            "field_free_mean": float(intensity[np.abs(blos) < 50].mean()),
        }
    print(json.dumps(result, indent=1))
    lines = []
    for seed in (0, 1):
        r = result[f"seed{seed}"]
        lines.append(
            f"synthetic Sun seed {seed}: quiet-Sun contrast {100 * r['contrast_truth']:.2f} % at 0.063\"/px, "
            f"{100 * r['contrast_hmi']:.2f} % after the HMI model, {100 * r['contrast_target']:.2f} % after the "
            f"28 cm target model; power-spectrum peak at {r['granule_scale_arcsec']:.2f}\""
        )
    if "real_crop" in result:
        r = result["real_crop"]
        lines.append(
            f"hmi_sample_left.fits: quiet_sun_level {r['quiet_sun_level']:.4f}; "
            f"mean of |B| < 50 G pixels {r['field_free_mean']:.4f}"
        )
    text = "\n".join(lines)
    print(text)
    write_results("sun", result, text)


if __name__ == "__main__":
    main()
