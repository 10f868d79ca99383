"""Which device grading runs on: cuda, then mps, then cpu, unless the user names one."""

from __future__ import annotations

import torch

from loopgrader.errors import UsageError

__all__ = ["DEVICE_CHOICES", "resolve_device", "synchronize"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(choice: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; a named device must be available."""
    if choice not in DEVICE_CHOICES:
        raise UsageError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if not available[choice]:
        raise UsageError(f"device {choice!r} is not available on this machine",
                         hint="use --device auto to pick the best available device")
    return torch.device(choice)


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
