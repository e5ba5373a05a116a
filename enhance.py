#!/usr/bin/env python
"""Enhance an SDO/HMI FITS image (x2 deconvolution and super-resolution).

    python enhance.py -i samples/hmi.fits -t intensity -o output/hmi_enhanced.fits
    python enhance.py -i samples/blos.fits -t blos -o output/blos_enhanced.fits
"""

import sys

from enhance_lib.scripts.enhance import main

if __name__ == "__main__":
    sys.exit(main())
