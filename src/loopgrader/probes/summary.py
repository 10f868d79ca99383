"""Worker side: a small, plain summary of what a timed training run produced.

Timing probes return it so that the grader can check the timed run did the reference's work
(``loopgrader.checks.timing.assert_timed_result``). A fixed sample of each parameter's entries
is enough to tell trained from untrained, and keeps each timed reply small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["last_loss", "trained_summary"]

SAMPLES = 64


def last_loss(reported: Any) -> float | None:
    """The last loss a training function reported (a list of losses, a tensor or a number)."""
    if isinstance(reported, (list, tuple)) and reported:
        reported = reported[-1]
    if isinstance(reported, Tensor) and reported.numel() == 1:
        return float(reported.detach().cpu())
    if isinstance(reported, (int, float)) and not isinstance(reported, bool):
        return float(reported)
    return None


def trained_summary(params: nn.Module | Mapping[str, Any], loss: Any = None,
                    measured: float | None = None) -> dict[str, Any]:
    """``{"loss": the last reported loss, "params": {name: sampled entries}}`` (float64, CPU),
    plus ``measured_loss`` when the probe measured the trained model's loss itself."""
    named = dict(params.state_dict()) if isinstance(params, nn.Module) else dict(params)
    sampled: dict[str, Any] = {}
    for name, value in named.items():
        if isinstance(value, Tensor) and value.is_floating_point():
            flat = value.detach().to("cpu", torch.float64).flatten()
            sampled[str(name)] = flat[:: max(1, flat.numel() // SAMPLES)].clone()
        else:
            sampled[str(name)] = None if not isinstance(value, Tensor) else value.tolist()
    summary: dict[str, Any] = {"loss": last_loss(loss), "params": sampled}
    if measured is not None:
        summary["measured_loss"] = measured
    return summary
