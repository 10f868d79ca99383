"""Loop tracing and judging, driven by small good and bad training loops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from loopgrader.checks.failures import GradingFailure
from loopgrader.checks.loop import analyse_loop, assert_loop_order
from loopgrader.probes.trace import record_loop

N_BATCHES = 6


def _setup() -> tuple[torch.nn.Module, torch.optim.Optimizer, list[tuple[torch.Tensor, ...]]]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g))
            for _ in range(N_BATCHES)]
    return model, opt, data


def good(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def zero_grad_at_end(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        opt.zero_grad()


def grad_none(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        for p in model.parameters():
            p.grad = None
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def model_zero_grad(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def missing_zero_grad(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def zero_grad_between(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.zero_grad()
        opt.step()


def step_before_backward(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.step()
        loss.backward()


def double_backward(model: Any, opt: Any, data: Any) -> None:
    for x, y in data:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward(retain_graph=True)
        loss.backward()
        opt.step()


def accumulate_two(model: Any, opt: Any, data: Any) -> None:
    for i, (x, y) in enumerate(data):
        (torch.nn.functional.mse_loss(model(x), y) / 2).backward()
        if i % 2 == 1:
            opt.step()
            opt.zero_grad()


def manual_sgd(clear: str) -> Callable[[Any, Any, Any], None]:
    def loop(model: Any, opt: Any, data: Any) -> None:
        for x, y in data:
            torch.nn.functional.mse_loss(model(x), y).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.05 * p.grad
                    if clear == "none":
                        p.grad = None
                    elif clear == "zero_":
                        p.grad.zero_()
                    elif clear == "mul_0":
                        p.grad.mul_(0)
    return loop


def _run(loop: Callable[[Any, Any, Any], None]) -> dict[str, Any]:
    model, opt, data = _setup()
    with record_loop() as recorder:
        loop(model, opt, data)
    return recorder.log()


@pytest.mark.parametrize("loop", [good, zero_grad_at_end, grad_none, model_zero_grad,
                                  manual_sgd("none"), manual_sgd("zero_"), manual_sgd("mul_0")],
                         ids=["zero_grad-first", "zero_grad-at-end", "grad-None",
                              "model.zero_grad", "manual-grad-None", "manual-zero_",
                              "manual-mul_0"])
def test_correct_loops_pass(loop: Callable[[Any, Any, Any], None]) -> None:
    summary = assert_loop_order(_run(loop), "train", expected_steps=N_BATCHES)
    assert summary.backwards == N_BATCHES
    assert summary.forwards == N_BATCHES


@pytest.mark.parametrize("loop,code,phrase", [
    (missing_zero_grad, "not_cleared", "not cleared"),
    (manual_sgd("keep"), "not_cleared", "not cleared"),
    (zero_grad_between, "cleared_between", "between backward() and the optimizer step"),
    (step_before_backward, "step_before_backward", "stepped before backward()"),
    (double_backward, "double_backward", "twice on the same loss"),
], ids=["missing-zero_grad", "manual-no-clear", "zero_grad-between", "step-before-backward",
        "double-backward"])
def test_broken_loops_are_named(loop: Callable[[Any, Any, Any], None], code: str,
                                phrase: str) -> None:
    log = _run(loop)
    summary = analyse_loop(log)
    assert [p.code for p in summary.problems][:1] == [code]
    with pytest.raises(GradingFailure, match="iteration") as info:
        assert_loop_order(log, "train")
    assert phrase in info.value.message


def test_missing_zero_grad_reports_first_iteration_and_count() -> None:
    summary = analyse_loop(_run(missing_zero_grad))
    (problem,) = summary.problems
    assert (problem.first_iteration, problem.count) == (2, N_BATCHES - 1)


def test_intended_accumulation_is_not_flagged() -> None:
    log = _run(accumulate_two)
    summary = assert_loop_order(log, "train", expected_steps=N_BATCHES // 2,
                                allow_accumulation=True)
    assert summary.optimizer_steps == N_BATCHES // 2


def test_accumulation_flagged_when_one_step_per_batch_is_required() -> None:
    with pytest.raises(GradingFailure, match="more than once between parameter updates"):
        assert_loop_order(_run(accumulate_two), "train", allow_accumulation=False)


def test_wrong_step_count_is_reported() -> None:
    with pytest.raises(GradingFailure, match=f"expected {N_BATCHES + 1} parameter updates"):
        assert_loop_order(_run(good), "train", expected_steps=N_BATCHES + 1)


def test_no_backward_at_all_is_reported() -> None:
    def no_backward(model: Any, opt: Any, data: Any) -> None:
        for x, _ in data:
            model(x)

    with pytest.raises(GradingFailure, match="never called"):
        assert_loop_order(_run(no_backward), "train")


def test_forward_modes_are_recorded() -> None:
    model, _, data = _setup()
    with record_loop() as recorder:
        model.eval()
        with torch.no_grad():
            model(data[0][0])
        model.train()
        model(data[0][0])
    modes = analyse_loop(recorder.log()).forward_modes
    assert modes == ((False, False), (True, True))


def test_scheduler_steps_are_counted_without_the_creation_step() -> None:
    model, opt, data = _setup()
    with record_loop() as recorder:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
        good(model, opt, data[:2])
        sched.step()
        sched.step()
    assert analyse_loop(recorder.log()).scheduler_steps == 2


def test_recording_is_bounded() -> None:
    model, opt, data = _setup()
    with record_loop(max_events=5) as recorder:
        good(model, opt, data)
    log = recorder.log()
    assert len(log["events"]) == 5
    assert sum(log["dropped"].values()) > 0
    summary = analyse_loop(log)  # counts stay exact past the limit
    assert (summary.backwards, summary.optimizer_steps, summary.forwards) == (N_BATCHES,) * 3


def test_engine_and_hooks_are_restored() -> None:
    from torch.autograd.variable import Variable

    engine = Variable._execution_engine
    _run(good)
    assert Variable._execution_engine is engine
