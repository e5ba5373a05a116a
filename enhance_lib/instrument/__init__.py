"""The instrument: HMI's PSF and the forward model (used at run time and by training)."""
