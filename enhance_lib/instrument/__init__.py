"""The instrument: HMI's PSF, the forward model and instrument states (used at run time and by training)."""
