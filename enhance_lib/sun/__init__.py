"""The Sun on the pixel grid: data types, the disk, the limb, limb darkening, normalisation, photometry,
the noise level."""
