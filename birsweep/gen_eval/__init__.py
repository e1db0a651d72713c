"""Generator evaluation after the last task (docs/method.md, Generator evaluation): test log-likelihood by importance
sampling, reconstruction error and, for conv models, IS, FID and precision-recall with an evaluation classifier."""
