"""The networks: architecture choices, layers, models, weight files, Keras backends, the fast inference function."""
