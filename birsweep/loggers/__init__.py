"""Loggers that plug into the training loop through its hooks (birsweep.train.loop.callbacks): W&B."""
