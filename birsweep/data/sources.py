"""The data sets ``data.name`` can select, each registered by its own module (docs/data.md, Adding a dataset).

A source module in ``birsweep.data.datasets`` declares what the code needs of its data set (its name, its loader,
its image shape, and optionally a config dataclass for its own section ``data.<name>``) and calls
:func:`register_source` at import; its YAML ``conf/data/<name>.yaml`` sets the protocol (tasks, class order, the
model and trainer it selects). Every module of that package is imported once when the registry is first read, so a
new data set needs no other Python edit: the schema composes its section, ``config_check`` accepts its name and
:func:`load_source` loads it.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from omegaconf import DictConfig, OmegaConf

from birsweep.data.arrays import ArrayData

CONV_SHAPE = (3, 32, 32)  # the images the CIFAR conv encoder (C3-5x16-bn) is built for

# (root, download, the source's own section as its config dataclass or None) -> train and test splits
Loader = Callable[[str, bool, Any], ArrayData]


@dataclass(frozen=True)
class DataSource:
    name: str  # data.name, and its YAML conf/data/<name>.yaml
    load: Loader
    shape: Optional[Tuple[int, int, int]] = None  # C x H x W of its images; None: its own section sets it
    config: Optional[type] = None  # dataclass of its own section data.<name> (its options), or None

    def conv_problem(self) -> Optional[str]:
        """Why the conv encoder does not fit this data set's images (as part of one line), or None."""
        if self.shape is None or self.shape == CONV_SHAPE:
            return None
        c, h, w = self.shape
        return "grey-scale and small" if c == 1 and h < CONV_SHAPE[1] else f"{c}x{h}x{w}, not {CONV_SHAPE}"


_REGISTRY: Dict[str, DataSource] = {}
_discovered = False


def register_source(source: DataSource) -> DataSource:
    """Add a data source; a name may be registered once (or again by the same module, on a re-import)."""
    known = _REGISTRY.get(source.name)
    if known is not None and known.load.__module__ != source.load.__module__:
        raise ValueError(
            f"data source {source.name!r} is registered twice: {known.load.__module__}, {source.load.__module__}"
        )
    _REGISTRY[source.name] = source
    return source


def data_sources() -> List[DataSource]:
    """Every registered data source, in the order registered."""
    global _discovered
    if not _discovered:
        _discovered = True
        package = importlib.import_module("birsweep.data.datasets")
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)  # a source module registers itself
    return list(_REGISTRY.values())


def source_names() -> Tuple[str, ...]:
    return tuple(source.name for source in data_sources())


def data_source(name: str) -> DataSource:
    for source in data_sources():
        if source.name == name:
            return source
    raise ValueError(f"unknown data source {name!r}")  # config_check rejects this earlier


def load_source(data_cfg: DictConfig) -> ArrayData:
    """The splits of the data set ``data_cfg.name``, from ``data_cfg.root`` (downloaded if allowed and missing)."""
    source = data_source(str(data_cfg.name))
    options = None
    if source.config is not None:
        values = OmegaConf.to_container(data_cfg[source.name], resolve=True)
        assert isinstance(values, dict)
        options = source.config(**{str(k): v for k, v in values.items()})
    return source.load(os.path.expanduser(str(data_cfg.root)), bool(data_cfg.download), options)
