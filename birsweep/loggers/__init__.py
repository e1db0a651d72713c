"""Loggers that plug into the training loop through its hooks (birsweep.train.callbacks): W&B."""
