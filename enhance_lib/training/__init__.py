"""Training: the HMI forward model, the synthetic Sun, databases, the training loop and its files, evaluation."""
