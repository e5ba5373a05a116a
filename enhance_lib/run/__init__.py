"""Running the network: the Enhancer (one path for the programs, batches, Dask and the API), tiling,
batches, Dask, progress."""
