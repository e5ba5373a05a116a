"""Input and output: FITS files read and checked, written atomically, headers for the x2 grid, HDF5
attributes, figures."""
