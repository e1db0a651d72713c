"""One module per data set, each registering itself with ``birsweep.data.sources`` (docs/data.md, Adding a
dataset); the registry imports every module here."""
