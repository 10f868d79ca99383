"""Loop judging, grader side: read a recorded loop log and name what is out of order.

The log comes from ``loopgrader.probes.trace`` in the worker (plain data). Problems are
reported by iteration (an iteration is one ``backward()``), first offence first, with how many
iterations did the same, in sentences a student can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopgrader.checks.failures import GradingFailure

__all__ = ["LoopProblem", "LoopSummary", "analyse_loop", "assert_loop_order"]

MESSAGES = {
    "not_cleared": ("gradients were not cleared before backward(): they still held the previous "
                    "iteration's gradients, so each step used the sum of all gradients so far",
                    "call optimizer.zero_grad() (or set p.grad = None) once per iteration, "
                    "before loss.backward()"),
    "stale_at_start": ("the parameters came in holding gradients from earlier work and were not "
                       "cleared before the first backward()",
                       "clear gradients at the start of each iteration, not only at its end"),
    "cleared_between": ("the gradients were cleared between backward() and the optimizer step, "
                        "so the step used zero gradients",
                        "zero_grad() goes before backward() (or after step()), never between them"),
    "step_before_backward": ("the optimizer stepped before backward() had produced this "
                             "iteration's gradients",
                             "the order is: zero_grad(), forward, loss, backward(), step()"),
    "double_backward": ("backward() ran twice on the same loss without a new forward pass",
                        "compute the loss once per batch and call backward() on it once"),
    "accumulated": ("backward() ran more than once between parameter updates (gradients were "
                    "accumulated over several batches)",
                    "step the optimizer once per batch"),
}


@dataclass(frozen=True)
class LoopProblem:
    """One kind of mistake: where it first happened and how often."""

    code: str
    first_iteration: int
    count: int

    def sentence(self, total: int) -> str:
        text, _ = MESSAGES[self.code]
        more = f" ({self.count} of {total} iterations)" if self.count > 1 else ""
        return f"iteration {self.first_iteration}: {text}{more}"


@dataclass(frozen=True)
class LoopSummary:
    """Counts seen in the log, and the problems found."""

    forwards: int
    backwards: int
    optimizer_steps: int
    updates: int
    scheduler_steps: int
    problems: tuple[LoopProblem, ...] = ()
    forward_modes: tuple[tuple[bool, bool], ...] = field(default=())  # (training, grad_enabled)
    events: tuple[dict[str, Any], ...] = ()


def _stale(event: Mapping[str, Any]) -> bool:
    return any(state.get("state") == "values" for state in event.get("grads_before", {}).values())


def _step_problem(event: Mapping[str, Any], backward_since_step: bool) -> str | None:
    grads = event.get("grads", {})
    after = event.get("after_backward", {})
    if not backward_since_step:
        return "step_before_backward"
    had_values = [key for key, norm in after.items() if norm > 0]
    if had_values and all(grads.get(key, {}).get("state") in ("none", "zero")
                          for key in had_values):
        return "cleared_between"
    return None


def analyse_loop(log: Mapping[str, Any], *, allow_accumulation: bool = True,
                 strict_start: bool = False) -> LoopSummary:
    """Count forwards, backwards, steps and updates; find order problems."""
    events = [e for e in log.get("events", []) if isinstance(e, dict)]
    found: dict[str, list[int]] = {}
    iteration, backward_since_step, updates, steps = 0, False, 0, 0
    for event in events:
        kind = event.get("kind")
        if kind == "backward":
            iteration += 1
            if event.get("updated_since_last"):
                updates += 1
            if event.get("same_graph_again"):
                found.setdefault("double_backward", []).append(iteration)
            elif _stale(event):
                stepped = not backward_since_step and iteration > 1
                code = _stale_code(event, iteration, allow_accumulation, strict_start, stepped)
                if code:
                    found.setdefault(code, []).append(iteration)
            backward_since_step = True
        elif kind == "step":
            steps += 1
            code = _step_problem(event, backward_since_step)
            if code:
                found.setdefault(code, []).append(max(iteration, 1))
            backward_since_step = False
        elif kind == "end" and event.get("updated_since_last"):
            updates += 1
    problems = tuple(LoopProblem(code, its[0], len(its)) for code, its in found.items())
    forwards = [e for e in events if e.get("kind") == "forward"]
    more = {str(k): int(v) for k, v in dict(log.get("dropped") or {}).items()}
    return LoopSummary(
        forwards=len(forwards) + more.get("forward", 0),
        backwards=iteration + more.get("backward", 0),
        optimizer_steps=steps + more.get("step", 0),
        updates=updates + more.get("backward", 0) if not steps else updates,
        scheduler_steps=sum(1 for e in events if e.get("kind") == "scheduler")
        + more.get("scheduler", 0),
        problems=tuple(sorted(problems, key=lambda p: p.first_iteration)),
        forward_modes=tuple((bool(e.get("training")), bool(e.get("grad_enabled")))
                            for e in forwards),
        events=tuple(events))


def _stale_code(event: Mapping[str, Any], iteration: int, allow_accumulation: bool,
                strict_start: bool, stepped: bool) -> str | None:
    if iteration == 1:
        return "stale_at_start" if strict_start else None
    if stepped or event.get("updated_since_last"):
        return "not_cleared"
    return None if allow_accumulation else "accumulated"


def assert_loop_order(log: Any, what: str, *, expected_steps: int | None = None,
                      allow_accumulation: bool = False,
                      strict_start: bool = False) -> LoopSummary:
    """The recorded loop must be in order (and take ``expected_steps`` steps, when given)."""
    if not isinstance(log, Mapping):
        raise GradingFailure(f"{what}: the training loop could not be traced")
    summary = analyse_loop(log, allow_accumulation=allow_accumulation, strict_start=strict_start)
    if summary.backwards == 0:
        raise GradingFailure(f"{what}: loss.backward() was never called",
                             hint="compute the loss and call loss.backward() in every iteration")
    if summary.problems:
        first = summary.problems[0]
        lines = [p.sentence(summary.backwards) for p in summary.problems]
        raise GradingFailure(f"{what}: " + "; ".join(lines), hint=MESSAGES[first.code][1])
    steps = summary.optimizer_steps or summary.updates
    if expected_steps is not None and steps != expected_steps:
        raise GradingFailure(
            f"{what}: expected {expected_steps} parameter updates (one per batch), saw {steps} "
            f"(and {summary.backwards} backward passes)",
            hint="call optimizer.step() exactly once per batch, after loss.backward()")
    return summary
