"""Graders for lesson 3.9 — freezing, replacing the head, counting and fine-tuning.

Fine-tuning is judged on what it leaves behind: frozen parameters bit-for-bit unchanged, a head
that learned, and losses equal to Adam over the trainable parameters (the reference, run here on
the very same network). What the optimizer was given is read from the traced optimizer steps.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import GradingFailure, as_float, assert_close
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
BODY = [["linear", 6, 12], ["relu"], ["linear", 12, 8], ["tanh"], ["linear", 8, 3]]


def build(spec: list[list[Any]], seed: int) -> nn.Sequential:
    """The network of ``spec`` (the same builder as the probes'), seeded."""
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Linear(int(item[1]), int(item[2])) if item[0] == "linear"
                           else LAYERS[str(item[0])]() for item in spec])


def state_of(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def as_dict(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise GradingFailure(f"{what} did not complete")
    return result


# --- freeze ------------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_freeze_stops_every_parameter(student: Any) -> None:
    """freeze(model): no parameter requires grad afterwards (biases and nested layers too)"""
    spec = [["linear", 4, 6], ["relu"], ["linear", 6, 5], ["tanh"], ["linear", 5, 2]]
    model = build(spec, 0)
    result = as_dict(student.probe("freeze_flags", spec, state_of(model), None), "freeze(model)")
    still = [name for name, flag in result["flags"].items() if flag]
    if still:
        hint = "loop over module.parameters() and set p.requires_grad = False on each"
        if len(still) == len(result["flags"]):
            hint = ("setting module.requires_grad = False only adds an attribute to the module; "
                    "the flag lives on each parameter: p.requires_grad_(False) for p in "
                    "module.parameters() (or module.requires_grad_(False))")
        raise GradingFailure(f"after freeze(model), {len(still)} of {len(result['flags'])} "
                             f"parameters still require grad: {', '.join(still)}", hint=hint)
    for name, value in state_of(model).items():
        assert_close(result["state"].get(name), value, f"{name} after freeze",
                     rtol=0.0, atol=0.0, hint="freeze changes requires_grad only, not values")


@pytest.mark.points(1)
def test_freeze_one_layer_only(student: Any) -> None:
    """freeze(model[0]) freezes that layer and leaves the others trainable"""
    spec = [["linear", 4, 6], ["relu"], ["linear", 6, 2]]
    result = as_dict(student.probe("freeze_flags", spec, state_of(build(spec, 1)), 0),
                     "freeze(model[0])")
    flags = result["flags"]
    wrong = [n for n, f in flags.items() if f != (not n.startswith("0."))]
    if wrong:
        raise GradingFailure(f"after freeze(model[0]): requires_grad is wrong for "
                             f"{', '.join(wrong)} (expected False for layer 0 only)",
                             hint="freeze only the parameters of the module you are given")


# --- replace_head -----------------------------------------------------------------------------

def head_result(student: Any, spec: list[list[Any]], num_outputs: int,
                frozen: bool = False, seed: int = 2) -> tuple[list[dict[str, Any]], nn.Module]:
    model = build(spec, seed)
    result = as_dict(student.probe("replace_head_result", spec, state_of(model), num_outputs,
                                   frozen), "replace_head")
    if "returned" in result:
        raise GradingFailure(f"replace_head must return the model (an nn.Sequential), got "
                             f"{result['returned']}", hint="end with `return model`")
    return result["layers"], model


def check_layers(layers: list[dict[str, Any]], model: nn.Module, head_index: int,
                 num_outputs: int, what: str) -> dict[str, Any]:
    """Same layers as before except the head at ``head_index``; returns the head's description."""
    types = [layer["type"] for layer in layers]
    expected_types = [type(m).__name__ for m in model]
    if types != expected_types:
        hint = None
        if len(types) == len(expected_types) and types[-1] == "Linear":
            hint = ("only the last nn.Linear is replaced; the layers after it (here "
                    f"{expected_types[-1]}) stay in place")
        raise GradingFailure(f"{what}: expected the layers {expected_types}, got {types}",
                             hint=hint)
    for index, (layer, original) in enumerate(zip(layers, model, strict=True)):
        if index == head_index:
            continue
        for name, value in original.state_dict().items():
            assert_close(layer["state"].get(name), value, f"{what}: layer {index}'s {name}",
                         rtol=0.0, atol=0.0, hint="leave every layer but the head unchanged")
    head = layers[head_index]
    old = model[head_index]
    if head["in"] != old.in_features or head["out"] != num_outputs:
        hint = None
        if head["in"] == old.out_features:
            hint = (f"the new head's in_features must be the old head's in_features "
                    f"({old.in_features}: the size of what the layer before it produces), not "
                    f"its out_features")
        raise GradingFailure(f"{what}: expected the new head to be Linear({old.in_features}, "
                             f"{num_outputs}), got Linear({head['in']}, {head['out']})",
                             hint=hint)
    return head


@pytest.mark.points(2)
def test_replace_head_keeps_in_features(student: Any) -> None:
    """replace_head puts Linear(in_features, num_outputs) at the end and keeps the other layers"""
    layers, model = head_result(student, BODY, 4)
    check_layers(layers, model, len(BODY) - 1, 4, "replace_head(model, 4)")


@pytest.mark.points(1)
def test_replace_head_replaces_last_linear_not_last_module(student: Any) -> None:
    """replace_head replaces the last nn.Linear even when an activation follows it"""
    spec = [["linear", 4, 8], ["tanh"], ["linear", 8, 5], ["sigmoid"]]
    layers, model = head_result(student, spec, 2)
    check_layers(layers, model, 2, 2, "replace_head on Linear, Tanh, Linear, Sigmoid")


@pytest.mark.points(1)
def test_replace_head_is_trainable_on_a_frozen_model(student: Any) -> None:
    """replace_head on a frozen model: the new head is trainable, the body stays frozen"""
    layers, model = head_result(student, BODY, 2, frozen=True)
    head = check_layers(layers, model, len(BODY) - 1, 2, "replace_head on a frozen model")
    if not head["trainable"] or not all(head["trainable"]):
        raise GradingFailure("replace_head on a frozen model: the new head does not require "
                             "grad, so fine-tuning could not train it",
                             hint="a new nn.Linear is trainable: do not freeze it or copy the "
                                  "old head's requires_grad")
    body = [i for i, layer in enumerate(layers[:-1]) if any(layer["trainable"])]
    if body:
        raise GradingFailure(f"replace_head on a frozen model unfroze layer(s) {body}",
                             hint="leave the other layers exactly as they were")


# --- count_trainable ---------------------------------------------------------------------------

def count(student: Any, spec: list[list[Any]], frozen: list[int], shared: bool = False) -> int:
    result = as_dict(student.probe("count_result", spec, frozen, shared), "count_trainable")
    value = result["value"]
    if result["type"] != "int":
        raise GradingFailure(f"count_trainable must return a Python int, got {result['type']}",
                             hint="sum(p.numel() for p in ...) is an int; int(...) converts a "
                                  "tensor")
    return int(as_float(value, "count_trainable(model)"))


@pytest.mark.points(2)
def test_count_trainable_counts_scalars(student: Any) -> None:
    """count_trainable returns the number of trainable scalars (frozen layers excluded)"""
    spec = [["linear", 7, 5], ["relu"], ["linear", 5, 4], ["relu"], ["linear", 4, 3]]
    got = count(student, spec, frozen=[0])
    expected = (5 * 4 + 4) + (4 * 3 + 3)
    if got != expected:
        hints = {4: "it counts parameter tensors; count their scalars with p.numel()",
                 6: "it counts all parameter tensors; count the scalars (p.numel()) of the "
                    "trainable ones",
                 (7 * 5 + 5) + expected: "frozen parameters were counted too: keep only those "
                                         "with p.requires_grad"}
        raise GradingFailure(f"count_trainable with the first Linear(7, 5) frozen: expected "
                             f"{expected}, got {got}", hint=hints.get(got))


@pytest.mark.points(1)
def test_count_trainable_counts_shared_layer_once(student: Any) -> None:
    """count_trainable counts a layer used twice in the model once"""
    spec = [["linear", 6, 6], ["relu"], ["linear", 6, 2]]
    got = count(student, spec, frozen=[2], shared=True)
    expected = 6 * 6 + 6
    if got != expected:
        raise GradingFailure(f"count_trainable on a model that uses one Linear(6, 6) twice "
                             f"(the other layer frozen): expected {expected}, got {got}",
                             hint="model.parameters() lists a shared parameter once; iterating "
                                  "layer by layer counts it twice" if got == 2 * expected
                             else None)


# --- finetune ----------------------------------------------------------------------------------

N_SAMPLES, EPOCHS, LR = 40, 25, 0.01


def finetune_inputs(seed: int) -> dict[str, Any]:
    body = build(BODY, seed)
    torch.manual_seed(seed + 100)
    head = nn.Linear(8, 2)
    g = torch.Generator().manual_seed(seed + 200)
    X = torch.randn(N_SAMPLES, 6, generator=g)
    y = torch.randn(N_SAMPLES, 2, generator=g)
    return {"state": state_of(body), "head_state": state_of(head), "X": X, "y": y}


def frozen_model(inp: dict[str, Any]) -> nn.Sequential:
    """The grader's copy of the probe's network: frozen body, new head."""
    model = build(BODY, 0)
    model.load_state_dict(inp["state"])
    model.requires_grad_(False)
    head = nn.Linear(8, 2)
    head.load_state_dict(inp["head_state"])
    model[len(model) - 1] = head
    return model


def run_finetune(student: Any, inp: dict[str, Any]) -> dict[str, Any]:
    return as_dict(student.probe("finetune_run", BODY, inp["state"], inp["head_state"],
                                 inp["X"], inp["y"], EPOCHS, LR), "finetune")


def head_name() -> str:
    return str(len(BODY) - 1)


@pytest.mark.points(3)
def test_finetune_leaves_frozen_parameters_bit_identical(student: Any) -> None:
    """finetune leaves every frozen parameter bit-for-bit unchanged"""
    result = run_finetune(student, finetune_inputs(3))
    changed = [name for name, value in result["before"].items()
               if not name.startswith(head_name() + ".")
               and not torch.equal(result["after"].get(name, value + 1), value)]
    if changed:
        unfrozen = [n for n, flag in result["requires_grad_after"].items()
                    if flag and not n.startswith(head_name() + ".")]
        raise GradingFailure(f"finetune changed frozen parameters: {', '.join(changed)}",
                             hint="finetune switched requires_grad back on for frozen "
                                  "parameters; leave the flags as they are"
                             if unfrozen else
                             "only the parameters that require grad may change")


@pytest.mark.points(1)
def test_finetune_trains_the_head(student: Any) -> None:
    """finetune changes the new head's parameters"""
    result = run_finetune(student, finetune_inputs(4))
    for suffix in ("weight", "bias"):
        name = f"{head_name()}.{suffix}"
        if torch.equal(result["after"][name], result["before"][name]):
            raise GradingFailure(f"finetune left the head's {suffix} unchanged",
                                 hint="give the head's parameters to the optimizer and call "
                                      "optimizer.step() every epoch")


@pytest.mark.points(2)
def test_finetune_optimizer_holds_only_trainable_parameters(student: Any) -> None:
    """finetune's optimizer is Adam over the trainable parameters only"""
    result = run_finetune(student, finetune_inputs(5))
    steps = [e for e in result["log"].get("events", []) if e.get("kind") == "step"]
    if not steps:
        raise GradingFailure("finetune never called optimizer.step() on a torch.optim optimizer")
    names, trainable = result["names"], set(result["trainable"])
    held = {names.get(key, "?") for key in steps[0]["grads"]}
    frozen_held = sorted(held - trainable)
    if frozen_held:
        raise GradingFailure(f"finetune's optimizer holds {len(frozen_held)} frozen "
                             f"parameter(s): {', '.join(frozen_held)}",
                             hint="pass only the parameters that require grad: "
                                  "Adam([p for p in model.parameters() if p.requires_grad], lr)")
    missing = sorted(trainable - held)
    if missing:
        raise GradingFailure(f"finetune's optimizer does not hold the trainable parameter(s) "
                             f"{', '.join(missing)}")
    if steps[0].get("optimizer") != "Adam":
        raise GradingFailure(f"finetune used {steps[0].get('optimizer')}; the exercise asks "
                             "for torch.optim.Adam")


def losses_of(result: dict[str, Any]) -> list[float]:
    losses = result["losses"]
    if not isinstance(losses, list):
        raise GradingFailure(f"finetune must return a list of floats, got "
                             f"{type(losses).__name__}")
    if len(losses) != EPOCHS:
        raise GradingFailure(f"finetune(n_epochs={EPOCHS}) returned {len(losses)} losses; "
                             f"expected one per epoch")
    if not all(isinstance(v, float) for v in losses):
        raise GradingFailure("finetune: the losses must be Python floats",
                             hint="append loss.item()")
    return [as_float(v, f"losses[{i}]") for i, v in enumerate(losses)]


@pytest.mark.points(2)
def test_finetune_losses_match_adam(student: Any, reference: Any) -> None:
    """finetune's losses equal full-batch MSE trained by Adam on the trainable parameters"""
    inp = finetune_inputs(6)
    got = losses_of(run_finetune(student, inp))
    model = frozen_model(inp)
    expected = reference.finetune(model, inp["X"], inp["y"], EPOCHS, LR)
    hint = None
    if all(abs(a - b) <= 1e-4 * abs(b) for a, b in zip(got[:-1], expected[1:], strict=False)):
        hint = "each loss was recorded after the step; record it before optimizer.step()"
    elif abs(got[0] - N_SAMPLES * 2 * expected[0]) <= 1e-3 * got[0]:
        hint = "the loss is summed over the samples; nn.MSELoss() takes the mean"
    assert_close(torch.tensor(got, dtype=torch.float64),
                 torch.tensor(expected, dtype=torch.float64), "finetune's losses per epoch",
                 rtol=1e-4, atol=1e-6,
                 hint=hint or "full batch, nn.MSELoss(), torch.optim.Adam(trainable, lr=lr), "
                              "one step per epoch")


@pytest.mark.points(1)
def test_finetune_loop_order(student: Any) -> None:
    """finetune clears gradients, then backward, then one optimizer step per epoch"""
    result = run_finetune(student, finetune_inputs(7))
    assert_loop_order(result["log"], f"finetune(n_epochs={EPOCHS})", expected_steps=EPOCHS)


@pytest.mark.points(1)
def test_finetune_speed(student: Any, reference_worker: Any, device: torch.device,
                        record: dict[str, Any]) -> None:
    """finetune runs about as fast as the reference on the local device"""
    spec = [["linear", 64, 256], ["relu"], ["linear", 256, 256], ["relu"], ["linear", 256, 10]]
    body = build(spec, 8)
    torch.manual_seed(9)
    head = nn.Linear(256, 10)
    g = torch.Generator().manual_seed(10)
    X, y = torch.randn(384, 64, generator=g), torch.randn(384, 10, generator=g)
    verdict = time_against_reference(student, reference_worker, "finetune_for_timing", spec,
                                     state_of(body), state_of(head), X, y, 50, 1e-3,
                                     str(device), device=str(device), allowed=3.0)
    assert_timing(verdict, "finetune", record, key="finetune")
    assert_timed_result(verdict, "after 50 epochs", record=record, key="finetune")
