"""The C3-5x16-bn convolutional encoder (docs/method.md, Convolutional encoder), loading of its weights (original
format included), and the frozen encoder a run uses. Pre-training the weights is a training job: see
:mod:`birsweep.train.pretrain`."""

from __future__ import annotations

import os
from typing import Dict

import torch
from omegaconf import DictConfig
from torch import nn

from birsweep.errors import ConfigError

ARCH_NAME = "C3-5x16-bn"


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, last: bool):
        super().__init__()
        # the conv keeps its bias even where batch-norm follows, as upstream
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=True)
        self.bn = None if last else nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.1)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x if self.bn is None else torch.relu(self.bn(x))  # the last block has no batch-norm


class ConvEncoder(nn.Module):
    """depth 5, 16 start channels, the last 4 layers halve the resolution; last layer linear, no BN.

    32x32x3 images -> 256x2x2 = 1024 unbounded features. Module names follow the original state dict
    (``convLayer{i}.conv``, ``convLayer{i}.bn``) so its weight files load as they are.
    """

    def __init__(self, in_channels: int = 3, depth: int = 5, channels: int = 16):
        super().__init__()
        c_in = in_channels
        for i in range(1, depth + 1):
            c_out = channels * 2 ** (i - 1)
            stride = 1 if i == 1 else 2
            self.add_module(f"convLayer{i}", ConvBlock(c_in, c_out, stride, last=(i == depth)))
            c_in = c_out
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, self.depth + 1):
            x = getattr(self, f"convLayer{i}")(x)
        return x.flatten(1)

    def freeze(self) -> ConvEncoder:
        """Frozen as BI-R does: no gradients and batch-norm always on its running statistics."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> ConvEncoder:
        # once frozen, the encoder stays in eval mode whatever a caller asks (in the fork a train() call let its
        # batch-norm statistics drift)
        frozen = not any(p.requires_grad for p in self.parameters())
        return super().train(False if frozen else mode)


def load_encoder_state(path: str) -> Dict[str, torch.Tensor]:
    """Read a weights file: the original ``{'state': state_dict}`` (maybe CUDA tensors), ours, or a bare state dict."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"model.encoder.weights={path!r} cannot be read as torch weights ({err})") from None
    state = obj.get("state", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"model.encoder.weights={path!r} holds no state dict of tensors")
    return state


def load_encoder_weights(encoder: ConvEncoder, path: str) -> None:
    state = load_encoder_state(os.path.expanduser(path))
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"model.encoder.weights={path!r} does not fit {ARCH_NAME}: "
            f"missing {list(missing)[:4]}, unexpected {list(unexpected)[:4]}"
        )


def build_encoder(encoder_cfg: DictConfig, weights: str, device: torch.device, in_channels: int = 3) -> ConvEncoder:
    """The frozen encoder of ``model.encoder``'s shape with ``weights``: a weights file, or ``random``.

    ``model.encoder.weights=pretrain`` names the cached pre-trained file, which the caller resolves first
    (:func:`birsweep.train.pretrain.encoder_weights`) so that this layer holds no training loop.
    """
    if weights == "pretrain":
        raise ValueError(
            "build_encoder needs the pre-trained weights file, not 'pretrain': "
            "resolve it with birsweep.train.pretrain.encoder_weights"
        )
    encoder = ConvEncoder(in_channels, encoder_cfg.depth, encoder_cfg.channels)
    if weights != "random":
        load_encoder_weights(encoder, weights)
    return encoder.to(device).freeze()
