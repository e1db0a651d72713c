"""birsweep: Brain-Inspired Replay (BI-R + SI) and memory-exaggeration variants as a Hydra application."""

__version__ = "0.1.0"
