"""The job side of a sweep: the trial handle a job reports to and is pruned by, its tagged log lines, and the
trials of a ``trials_per_job`` batch made into runs for the training core to train."""
