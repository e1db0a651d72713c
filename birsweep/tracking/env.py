"""The environment a run used: versions, device and the project's git commit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib import metadata
from typing import Dict, Optional

import torch

PACKAGES = ("torch", "torchvision", "hydra-core", "omegaconf", "optuna", "kornia", "wandb", "pandas", "numpy")
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def git_commit() -> Optional[str]:
    """HEAD of the project checkout, suffixed '-dirty' when there are uncommitted changes; None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5)
        if head.returncode:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> Dict[str, object]:
    versions: Dict[str, Optional[str]] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["torch"] = torch.__version__  # with its build tag (e.g. +cu130)
    return {
        "python": platform.python_version(),
        "versions": versions,
        "device": str(device),
        "device_name": describe_device(device),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "hostname": socket.gethostname(),
        "git_commit": git_commit(),
    }
