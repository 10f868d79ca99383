"""Graders for lesson 3.2 — learning-rate schedules, and a training loop that uses one.

The schedule functions are compared step by step with torch's own schedulers (``StepLR``,
``CosineAnnealingLR``, ``LinearLR`` for the warmup), run here on a dummy optimizer; a mismatch
is compared with the classic slips (one step early or late, a missing shift or floor). The
training function is traced at run time (loop order, one optimizer step per epoch, the learning
rate of every step, when the scheduler steps), its result compared with the reference's run on
the same model, and timed against the reference on the local device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, StepLR

from loopgrader.checks import GradingFailure, as_float, assert_close, require_tensor
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

RTOL, ATOL = 1e-9, 1e-12


def torch_rates(make: Callable[[torch.optim.Optimizer], LRScheduler], base_lr: float,
                n_steps: int) -> list[float]:
    """The rate torch's scheduler gives each of the first n_steps updates."""
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = make(optimizer)
    rates = []
    for _ in range(n_steps):
        rates.append(float(scheduler.get_last_lr()[0]))
        optimizer.step()
        scheduler.step()
    return rates


def student_rates(student: Any, name: str, steps: Sequence[int],
                  args: Sequence[Any]) -> list[float]:
    got = student.probe("schedule_values", name, list(steps), list(args))
    if not isinstance(got, list) or len(got) != len(steps):
        raise GradingFailure(f"{name}: expected one number per step, got {type(got).__name__}")
    return [as_float(value, f"{name}(step={step}, ...)") for step, value in zip(steps, got,
                                                                                  strict=True)]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)


def _matches(got: Sequence[float], expected: Sequence[float | None]) -> bool:
    """got follows expected wherever expected is not None (None: any value)."""
    return len(got) == len(expected) and all(b is None or _close(a, b)
                                             for a, b in zip(got, expected, strict=True))


def shift_bug(got: Sequence[float], expected_of: Callable[[int], float],
              steps: Sequence[int]) -> str | None:
    """'one step early/late' if got follows the expected schedule shifted by one step."""
    if all(_close(g, expected_of(s + 1)) for g, s in zip(got, steps, strict=True)):
        return ("off by one: every step got the rate of the following step (did you use "
                "step + 1 where the contract has step?)")
    if all(s == 0 or _close(g, expected_of(s - 1)) for g, s in zip(got, steps, strict=True)):
        return ("off by one: every step got the rate of the previous step (steps count from 0; "
                "step 0 uses the base rate)")
    return None


def check_rates(got: Sequence[float], expected: Sequence[float], steps: Sequence[int],
                what: str, *, hint: str, expected_of: Callable[[int], float] | None = None,
                bugs: dict[str, Sequence[float | None]] | None = None) -> None:
    """got[i] must equal expected[i]; a failure names the first step and the likely bug."""
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if _close(g, e):
            continue
        found = None
        for text, variant in (bugs or {}).items():
            if _matches(got, variant):
                found = text
                break
        if found is None and expected_of is not None:
            found = shift_bug(got, expected_of, steps)
        raise GradingFailure(f"{what}: at step {steps[i]} expected {e:.8g}, got {g:.8g} "
                             f"({sum(not _close(a, b) for a, b in zip(got, expected, strict=True))}"
                             f" of {len(steps)} steps differ)",
                             hint=f"likely bug: {found}" if found else hint)


# --- step decay -------------------------------------------------------------------------------
@pytest.mark.points(1)
@pytest.mark.parametrize("base_lr,step_size,gamma,n", [(0.1, 3, 0.5, 20), (1.0, 1, 0.9, 12),
                                                       (0.05, 7, 0.1, 30)],
                         ids=["size3", "size1", "size7"])
def test_step_decay_matches_steplr(student: Any, base_lr: float, step_size: int, gamma: float,
                                   n: int) -> None:
    """step_decay gives the same rate as StepLR at every step"""
    steps = list(range(n))
    expected = torch_rates(lambda opt: StepLR(opt, step_size=step_size, gamma=gamma), base_lr, n)
    got = student_rates(student, "step_decay", steps, [base_lr, step_size, gamma])
    check_rates(got, expected, steps,
                f"step_decay(step, base_lr={base_lr}, step_size={step_size}, gamma={gamma})",
                hint="base_lr * gamma ** (step // step_size)",
                expected_of=lambda s: base_lr * gamma ** (s // step_size),
                bugs={"the decay is continuous: step / step_size must be floored, "
                      "step // step_size": [base_lr * gamma ** (s / step_size) for s in steps]})


# --- cosine annealing --------------------------------------------------------------------------
def cosine(step: int, base_lr: float, total: int, min_lr: float) -> float:
    if step >= total:
        return min_lr
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total)) / 2


def cosine_bugs(steps: Sequence[int], base_lr: float, total: int,
                min_lr: float) -> dict[str, list[float | None]]:
    return {
        "min_lr is ignored: the rate goes down to 0 instead of min_lr; the formula is "
        "min_lr + (base_lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2":
            [cosine(s, base_lr, total, 0.0) if s < total else None for s in steps],
        "the rate reaches min_lr one step early: divide by total_steps, not total_steps - 1":
            [cosine(s, base_lr, total - 1, min_lr) for s in steps],
        "a full cosine period: the angle is pi * step / total_steps, not 2 * pi * step / "
        "total_steps": [min_lr + (base_lr - min_lr) * (1 + math.cos(2 * math.pi * s / total)) / 2
                        for s in steps],
    }


@pytest.mark.points(1)
@pytest.mark.parametrize("base_lr,total,min_lr", [(0.1, 20, 0.0), (0.5, 13, 0.05)],
                         ids=["to-zero", "to-min-lr"])
def test_cosine_matches_cosineannealinglr(student: Any, base_lr: float, total: int,
                                          min_lr: float) -> None:
    """cosine_annealing gives the same rate as CosineAnnealingLR at steps 0 ... total_steps"""
    steps = list(range(total + 1))
    expected = torch_rates(lambda opt: CosineAnnealingLR(opt, T_max=total, eta_min=min_lr),
                           base_lr, total + 1)
    got = student_rates(student, "cosine_annealing", steps, [base_lr, total, min_lr])
    check_rates(got, expected, steps,
                f"cosine_annealing(step, base_lr={base_lr}, total_steps={total}, "
                f"min_lr={min_lr})",
                hint="min_lr + (base_lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2",
                expected_of=lambda s: cosine(s, base_lr, total, min_lr),
                bugs=cosine_bugs(steps, base_lr, total, min_lr))


@pytest.mark.points(1)
def test_cosine_stays_at_min_after_total(student: Any) -> None:
    """cosine_annealing stays at min_lr after total_steps (it does not rise again)"""
    base_lr, total, min_lr = 0.3, 10, 0.01
    steps = list(range(total + 1, total + 16))
    got = student_rates(student, "cosine_annealing", steps, [base_lr, total, min_lr])
    check_rates(got, [min_lr] * len(steps), steps,
                f"cosine_annealing(step > total_steps, base_lr={base_lr}, total_steps={total}, "
                f"min_lr={min_lr})",
                hint="return min_lr once step is past total_steps: the cosine formula would "
                     "rise again there")


# --- warmup ------------------------------------------------------------------------------------
def warmup_expected(base_lr: float, warmup: int) -> list[float]:
    """torch's LinearLR from base_lr / warmup up to base_lr at the last warmup step."""
    return torch_rates(lambda opt: LinearLR(opt, start_factor=1 / warmup, end_factor=1.0,
                                            total_iters=warmup - 1), base_lr, warmup)


@pytest.mark.points(1)
@pytest.mark.parametrize("base_lr,warmup,total", [(0.2, 5, 30), (1.0, 8, 12)],
                         ids=["w5", "w8"])
def test_warmup_rises_linearly_to_base(student: Any, base_lr: float, warmup: int,
                                       total: int) -> None:
    """warmup_cosine rises linearly during the warmup, from base_lr / warmup_steps to base_lr"""
    steps = list(range(warmup))
    got = student_rates(student, "warmup_cosine", steps, [base_lr, warmup, total])
    check_rates(got, warmup_expected(base_lr, warmup), steps,
                f"warmup_cosine(step < warmup_steps, base_lr={base_lr}, warmup_steps={warmup}, "
                f"total_steps={total})",
                hint="base_lr * (step + 1) / warmup_steps while step < warmup_steps",
                bugs={"the warmup starts at 0: the first update would not move the parameters; "
                      "use base_lr * (step + 1) / warmup_steps":
                      [base_lr * s / warmup for s in steps],
                      "the warmup starts at 0 and reaches base_lr only at the last warmup step "
                      "by dividing by warmup_steps - 1; use base_lr * (step + 1) / warmup_steps":
                      [base_lr * s / (warmup - 1) for s in steps]})


@pytest.mark.points(1)
@pytest.mark.parametrize("base_lr,warmup,total,min_lr", [(0.2, 5, 30, 0.0), (0.5, 4, 17, 0.02)],
                         ids=["w5", "w4-min-lr"])
def test_warmup_cosine_follows_cosine_after_warmup(student: Any, base_lr: float, warmup: int,
                                                   total: int, min_lr: float) -> None:
    """After the warmup, warmup_cosine is CosineAnnealingLR over the remaining steps"""
    span = total - warmup
    steps = list(range(warmup, total + 6))
    rates = torch_rates(lambda opt: CosineAnnealingLR(opt, T_max=span, eta_min=min_lr), base_lr,
                        span + 1)
    expected = [rates[s - warmup] if s - warmup <= span else min_lr for s in steps]
    got = student_rates(student, "warmup_cosine", steps, [base_lr, warmup, total, min_lr])
    check_rates(got, expected, steps,
                f"warmup_cosine(step >= warmup_steps, base_lr={base_lr}, warmup_steps={warmup}, "
                f"total_steps={total}, min_lr={min_lr})",
                hint="cosine_annealing(step - warmup_steps, base_lr, total_steps - "
                     "warmup_steps, min_lr)",
                bugs={"the cosine part does not start at the end of the warmup: pass "
                      "step - warmup_steps to cosine_annealing":
                      [cosine(s, base_lr, total, min_lr) for s in steps],
                      "the cosine part runs over total_steps instead of the steps left after "
                      "the warmup: pass total_steps - warmup_steps":
                      [cosine(s - warmup, base_lr, total, min_lr) for s in steps],
                      "min_lr is not passed on to cosine_annealing":
                      [cosine(s - warmup, base_lr, span, 0.0) for s in steps],
                      "min_lr is ignored: the rate goes down to 0 instead of min_lr":
                      [cosine(s - warmup, base_lr, span, 0.0) if s - warmup < span else None
                       for s in steps]})


@pytest.mark.points(1)
def test_warmup_cosine_without_warmup(student: Any) -> None:
    """warmup_cosine with warmup_steps = 0 is plain cosine annealing"""
    base_lr, total = 0.1, 12
    steps = list(range(total + 1))
    expected = torch_rates(lambda opt: CosineAnnealingLR(opt, T_max=total), base_lr, total + 1)
    got = student_rates(student, "warmup_cosine", steps, [base_lr, 0, total])
    check_rates(got, expected, steps,
                f"warmup_cosine(step, base_lr={base_lr}, warmup_steps=0, total_steps={total})",
                hint="with no warmup step, every step takes the cosine branch")


# --- training with the schedule ------------------------------------------------------------------
N_EPOCHS, BASE_LR, WARMUP = 40, 0.2, 6


def make_problem(seed: int) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 3, generator=g, dtype=torch.float64)
    y = torch.sin(X @ torch.randn(3, 1, generator=g, dtype=torch.float64))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, X, y


def traced_run(student: Any, seed: int = 0) -> tuple[dict[str, Any], list[float]]:
    state, X, y = make_problem(seed)
    result = student.probe("train_traced", state, X, y, N_EPOCHS, BASE_LR, WARMUP)
    if not isinstance(result, dict):
        raise GradingFailure("train_with_schedule: the run could not be recorded")
    expected = [warmup_rate(e) for e in range(N_EPOCHS)]
    return result, expected


def warmup_rate(epoch: int) -> float:
    if epoch < WARMUP:
        return BASE_LR * (epoch + 1) / WARMUP
    return cosine(epoch - WARMUP, BASE_LR, N_EPOCHS - WARMUP, 0.0)


def what_train() -> str:
    return (f"train_with_schedule(n_epochs={N_EPOCHS}, base_lr={BASE_LR}, "
            f"warmup_epochs={WARMUP})")


@pytest.mark.points(2)
def test_train_loop_order(student: Any) -> None:
    """train_with_schedule: one zero_grad → backward → step per epoch, in that order"""
    result, _ = traced_run(student)
    assert_loop_order(result.get("log"), what_train(), expected_steps=N_EPOCHS)


@pytest.mark.points(2)
def test_train_scheduler_steps_after_optimizer(student: Any) -> None:
    """Each epoch trains with warmup_cosine(epoch, ...); the scheduler steps after the optimizer"""
    result, expected = traced_run(student)
    log = result.get("log")
    events = [e for e in (log.get("events", []) if isinstance(log, dict) else [])
              if isinstance(e, dict) and e.get("kind") in ("step", "scheduler")]
    check_scheduler_order(events)
    steps = [e for e in events if e["kind"] == "step"]
    dropped = log.get("dropped", {}) if isinstance(log, dict) else {}
    seen = len(steps) + int(dropped.get("step", 0) if isinstance(dropped, dict) else 0)
    if seen != N_EPOCHS:
        raise GradingFailure(f"{what_train()}: expected {N_EPOCHS} optimizer steps (one per "
                             f"epoch), saw {seen}")
    used = []
    for k, event in enumerate(steps):  # a very long log keeps only its beginning
        lrs = event.get("lr") or [math.nan]
        used.append(as_float(lrs[0], f"the learning rate of the step of epoch {k}"))
    expected = expected[:len(used)]
    check_rates(used, expected, list(range(len(used))),
                f"{what_train()}: the learning rate the optimizer used",
                hint="epoch e must train with warmup_cosine(e, base_lr, warmup_epochs, "
                     "n_epochs): create the optimizer with lr=base_lr and step a LambdaLR "
                     "once per epoch, after optimizer.step()",
                expected_of=warmup_rate,
                bugs={"the learning rate never changed: the scheduler was not stepped "
                      "(call scheduler.step() once per epoch)": [used[0]] * len(used)})


def check_scheduler_order(events: list[dict[str, Any]]) -> None:
    """If a scheduler is used, the first optimizer step comes before the first scheduler step.

    The rate of every step is checked separately, so a scheduler stepped twice per epoch, or
    stepped before the optimizer in later epochs, shows there; a scheduler made of others
    (``SequentialLR``) may record several scheduler steps per epoch, or none at a milestone.
    """
    kinds = [e["kind"] for e in events]
    if "scheduler" in kinds and kinds[0] == "scheduler":
        raise GradingFailure(f"{what_train()}: scheduler.step() ran before the first "
                             "optimizer.step(): the scheduler stepped before the optimizer, so "
                             "the first epoch did not use the first rate of the schedule",
                             hint="call scheduler.step() after optimizer.step(), once per epoch")


@pytest.mark.points(2)
def test_train_returns_lr_of_each_epoch(student: Any) -> None:
    """train_with_schedule returns the learning rate used in each epoch (n_epochs floats)"""
    result, expected = traced_run(student)
    lrs = result.get("lrs")
    if not isinstance(lrs, list) or len(lrs) != N_EPOCHS:
        raise GradingFailure(f"{what_train()}: expected a list of {N_EPOCHS} learning rates, "
                             f"got {type(lrs).__name__} of length "
                             f"{len(lrs) if isinstance(lrs, list) else '?'}")
    if not all(isinstance(v, float) for v in lrs):
        raise GradingFailure(f"{what_train()}: the learning rates must be Python floats",
                             hint="append optimizer.param_groups[0]['lr'] (a float)")
    check_rates(lrs, expected, list(range(N_EPOCHS)), f"{what_train()}: returned rates",
                hint="record the rate of each epoch before that epoch's scheduler.step()",
                expected_of=warmup_rate,
                bugs={"the list holds the rate after scheduler.step(), i.e. the next epoch's: "
                      "record the rate used by that epoch's update, before stepping the "
                      "scheduler": [warmup_rate(e + 1) for e in range(N_EPOCHS)]})


@pytest.mark.points(2)
def test_train_matches_reference(reference: Any, student: Any) -> None:
    """train_with_schedule trains the model exactly as the reference does (float64)"""
    result, _ = traced_run(student, seed=1)
    state, X, y = make_problem(1)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    model.load_state_dict(state)
    reference.train_with_schedule(model, X, y, N_EPOCHS, BASE_LR, WARMUP)
    trained = result.get("state")
    if not isinstance(trained, dict):
        raise GradingFailure(f"{what_train()}: the trained model could not be read")
    for key, value in model.state_dict().items():
        got = require_tensor(trained.get(key), f"trained parameter {key}",
                             shape=tuple(value.shape))
        assert_close(got, value, f"{what_train()}: parameter {key} after training", rtol=1e-7,
                     atol=1e-9,
                     hint="full-batch SGD on the MSE loss (mean over all entries), one update "
                          "per epoch with that epoch's rate")


@pytest.mark.points(2)
def test_train_speed(student: Any, reference_worker: Any, device: torch.device,
                     record: dict[str, Any]) -> None:
    """train_with_schedule runs within 3× the reference's time on the local device"""
    g = torch.Generator().manual_seed(2)
    X = torch.randn(1024, 16, generator=g)
    y = torch.randn(1024, 1, generator=g)
    # the probe takes the device positionally: the keyword is the verdict's label
    verdict = time_against_reference(student, reference_worker, "train_for_timing", X, y, 300,
                                     0.05, 20, str(device), device=str(device), allowed=3.0)
    assert_timing(verdict, "train_with_schedule (300 epochs)", record, key="train")
    assert_timed_result(verdict, "after 300 epochs", record=record, key="train")
