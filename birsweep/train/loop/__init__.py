"""The run loop and its state: tasks, checkpoints and resume, signals, callbacks, the loss log."""
