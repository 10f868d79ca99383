"""Graders for lesson 3.1 — SGD with momentum, RMSProp and Adam, written by hand.

Every test builds the student's optimizer in the worker on parameters made from plain-data
initial values, applies a scripted sequence of gradients (generated here from a seed) and gets
the parameter trajectory back; torch's own optimizer runs the same script here, and the two
trajectories must agree step by step (float64, so that only real differences show). When they
do not, the trajectory is compared with simulations of the classic bugs to name the likely one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import GradingFailure, as_float, require_tensor
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.source import assert_no_forbidden
from loopgrader.checks.tensors import fmt_shape, value_mismatch

TORCH_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "SGDMomentum": torch.optim.SGD, "RMSProp": torch.optim.RMSprop, "Adam": torch.optim.Adam}
NAMES = tuple(TORCH_CLASSES)
SHAPES: tuple[tuple[int, ...], ...] = ((4,), (3, 5), (2, 1, 3), ())
RTOL, ATOL = 1e-8, 1e-10

Spec = list[dict[str, Any]]
Script = list[list[Tensor | None]]
Trajectory = list[list[Tensor]]

BUGS = {
    "momentum_after_update": (
        "momentum applied after the update: the step used the velocity from before this "
        "step's gradient was added; update the momentum buffer first (v = momentum·v + g), "
        "then p -= lr·v"),
    "dampening": ("the gradient was scaled by (1 - momentum), an exponential average "
                  "(dampening): torch's SGD with dampening=0 adds the full gradient, "
                  "v = momentum·v + g"),
    "no_momentum": ("the velocity is not used: this is plain SGD (p -= lr·g); keep a velocity "
                    "buffer per parameter in self.state[p]"),
    "nesterov": ("this is Nesterov momentum (p -= lr·(g + momentum·v)); the exercise asks for "
                 "classical momentum, p -= lr·v"),
    "ascent": "the parameters move uphill: subtract the update (p -= ...), do not add it",
    "eps_inside_sqrt": ("eps is added inside the square root, sqrt(s + eps); torch adds it "
                        "after the square root: sqrt(s) + eps"),
    "alpha_swapped": ("alpha and 1 - alpha are swapped: the running average keeps alpha of "
                      "its old value, s = alpha·s + (1 - alpha)·g²"),
    "no_sqrt": "the gradient is divided by the running average itself, not by its square root",
    "starts_at_grad_sq": "the running average starts at g² instead of 0",
    "no_bias_correction": ("the bias correction is missing: divide m by (1 - beta1^t) and v by "
                           "(1 - beta2^t), where t counts this parameter's steps from 1"),
    "betas_swapped": "beta1 and beta2 are swapped: m averages with beta1, v with beta2",
    "decoupled_weight_decay": (
        "weight decay is decoupled (AdamW-style, p -= lr·wd·p); torch's Adam adds it to the "
        "gradient, g = g + wd·p, before the moments are updated"),
    "no_weight_decay": ("weight_decay is ignored: add weight_decay·p to the gradient before "
                        "updating the moments"),
    "global_step": ("one step count is shared by all parameters: count steps per parameter "
                    "(in self.state[p]), since a parameter without a gradient skips a step"),
    "none_as_zero": ("a parameter whose .grad is None was updated as if its gradient were zero: "
                     "skip such parameters entirely (no update, no change to their state)"),
    "group_ignored": ("every group got the same hyperparameters: read lr (and momentum, alpha, "
                      "betas, weight_decay) from each group dict, not from self.defaults or the "
                      "constructor's arguments"),
}
COMMON = ("ascent", "group_ignored", "none_as_zero")
BUGS_OF = {
    "SGDMomentum": ("momentum_after_update", "dampening", "no_momentum", "nesterov", *COMMON),
    "RMSProp": ("eps_inside_sqrt", "alpha_swapped", "no_sqrt", "starts_at_grad_sq", *COMMON),
    "Adam": ("no_bias_correction", "eps_inside_sqrt", "betas_swapped", "decoupled_weight_decay",
             "no_weight_decay", "global_step", *COMMON),
}


# --- scripts: initial values and gradients, generated here -------------------------------------
def make_params(seed: int, shapes: Sequence[tuple[int, ...]],
                dtype: torch.dtype = torch.float64) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype) for shape in shapes]


def make_grads(seed: int, inits: Sequence[Tensor], n_steps: int, scales: Sequence[float],
               missing: Callable[[int, int], bool] = lambda i, k: False) -> Script:
    """Step k, parameter i: randn · scale_i (plus a drift, so moments build up), or None."""
    g = torch.Generator().manual_seed(seed)
    drift = [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in inits]
    script: Script = []
    for k in range(n_steps):
        row: list[Tensor | None] = []
        for i, t in enumerate(inits):
            noise = torch.randn(t.shape, generator=g, dtype=t.dtype)
            row.append(None if missing(i, k) else scales[i] * (0.6 * drift[i] + noise))
        script.append(row)
    return script


def one_group(inits: list[Tensor]) -> Spec:
    return [{"params": inits}]


# --- expected: torch's optimizer on the same script --------------------------------------------
def _torch_groups(spec: Spec) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
    groups, flat = [], []
    for group in spec:
        params = [nn.Parameter(t.detach().clone()) for t in group["params"]]
        flat.extend(params)
        groups.append({**group, "params": params})
    return groups, flat


def torch_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    if name == "SGDMomentum":
        return {"lr": options["lr"], "momentum": options.get("momentum", 0.9)}
    return dict(options)


def torch_trajectory(name: str, spec: Spec, options: dict[str, Any],
                     script: Script) -> Trajectory:
    groups, flat = _torch_groups(spec)
    optimizer = TORCH_CLASSES[name](groups, **torch_options(name, options))
    out: Trajectory = []
    for row in script:
        for p, grad in zip(flat, row, strict=True):
            p.grad = None if grad is None else grad.clone()
        optimizer.step()
        out.append([p.detach().clone() for p in flat])
    return out


# --- known bugs, simulated here to name what went wrong ----------------------------------------
DEFAULTS = {"SGDMomentum": {"momentum": 0.9},
            "RMSProp": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
            "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}}


def _hyper(name: str, spec: Spec, options: dict[str, Any], bug: str | None) -> list[dict]:
    out = []
    for group in spec:
        own = {} if bug == "group_ignored" else {k: v for k, v in group.items() if k != "params"}
        out.extend({**DEFAULTS[name], **options, **own} for _ in group["params"])
    return out


def simulate(name: str, spec: Spec, options: dict[str, Any], script: Script,
             bug: str | None) -> Trajectory:
    """The trajectory of ``name`` with one known bug (None: the correct rule)."""
    hyper = _hyper(name, spec, options, bug)
    params = [t.detach().clone() for group in spec for t in group["params"]]
    state: list[dict[str, Any]] = [{} for _ in params]
    out: Trajectory = []
    for k, row in enumerate(script, start=1):
        for i, grad in enumerate(row):
            if grad is None:
                if bug != "none_as_zero":
                    continue
                grad = torch.zeros_like(params[i])
            params[i] = _update(name, params[i], grad, state[i], hyper[i], bug, k)
        out.append([p.clone() for p in params])
    return out


def _update(name: str, p: Tensor, g: Tensor, st: dict[str, Any], hp: dict[str, Any],
            bug: str | None, k: int) -> Tensor:
    sign = 1.0 if bug == "ascent" else -1.0
    if name == "SGDMomentum":
        return p + sign * hp["lr"] * _velocity(g, st, hp["momentum"], bug)
    if name == "RMSProp":
        a, eps = hp["alpha"], hp["eps"]
        if "s" not in st and bug == "starts_at_grad_sq":
            st["s"] = g * g
        else:
            old = st.get("s", torch.zeros_like(p))
            st["s"] = (1 - a) * old + a * g * g if bug == "alpha_swapped" else \
                a * old + (1 - a) * g * g
        s = st["s"]
        denom = (s + eps).sqrt() if bug == "eps_inside_sqrt" else (
            s + eps if bug == "no_sqrt" else s.sqrt() + eps)
        return p + sign * hp["lr"] * g / denom
    return _adam(p, g, st, hp, bug, k, sign)


def _velocity(g: Tensor, st: dict[str, Any], momentum: float, bug: str | None) -> Tensor:
    if bug == "no_momentum":
        return g
    if bug == "momentum_after_update":
        old = st.get("v", torch.zeros_like(g))
        st["v"] = momentum * old + g
        return old
    if bug == "dampening":
        st["v"] = momentum * st.get("v", torch.zeros_like(g)) + (1 - momentum) * g
        return st["v"]
    st["v"] = g.clone() if "v" not in st else momentum * st["v"] + g
    return g + momentum * st["v"] if bug == "nesterov" else st["v"]


def _adam(p: Tensor, g: Tensor, st: dict[str, Any], hp: dict[str, Any], bug: str | None,
          k: int, sign: float) -> Tensor:
    b1, b2 = hp["betas"]
    if bug == "betas_swapped":
        b1, b2 = b2, b1
    wd, lr, eps = hp["weight_decay"], hp["lr"], hp["eps"]
    if wd and bug == "decoupled_weight_decay":
        p = p * (1 - lr * wd)
    elif wd and bug != "no_weight_decay":
        g = g + wd * p
    st["t"] = k if bug == "global_step" else st.get("t", 0) + 1
    st["m"] = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
    st["v"] = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
    m, v = st["m"], st["v"]
    if bug != "no_bias_correction":
        m, v = m / (1 - b1 ** st["t"]), v / (1 - b2 ** st["t"])
    denom = (v + eps).sqrt() if bug == "eps_inside_sqrt" else v.sqrt() + eps
    return p + sign * lr * m / denom


# --- running the student's optimizer and judging its trajectory ---------------------------------
def run_student(student: Any, name: str, spec: Spec, options: dict[str, Any], script: Script,
                resume_at: int | None = None) -> dict[str, Any]:
    result = student.probe("run_optimizer", name, spec, options, script, resume_at=resume_at)
    if not isinstance(result, dict) or not isinstance(result.get("trajectory"), list):
        raise GradingFailure(f"{name}: the run could not be recorded")
    check_not_torch_optimizer(name, result.get("mro", []))
    return result


def check_not_torch_optimizer(name: str, mro: Any) -> None:
    borrowed = [c for c in mro if isinstance(c, str) and c.startswith("torch.optim.")
                and c != "torch.optim.optimizer.Optimizer"]
    if borrowed:
        raise GradingFailure(f"{name} inherits from {borrowed[0]}: the exercise is to write the "
                             "update rule yourself",
                             hint="subclass torch.optim.Optimizer only, and implement step()")


def first_mismatch(got: Any, expected: Trajectory, what: str, *, rtol: float = RTOL,
                   atol: float = ATOL) -> str | None:
    """None if ``got`` follows ``expected``; else a sentence naming the first difference."""
    if not isinstance(got, list) or len(got) != len(expected):
        return f"{what}: expected {len(expected)} recorded steps, got {len(got)}"
    for k, (row, want) in enumerate(zip(got, expected, strict=True), start=1):
        if not isinstance(row, list) or len(row) != len(want):
            return f"{what}: step {k} did not record every parameter"
        for i, (p, e) in enumerate(zip(row, want, strict=True)):
            p = require_tensor(p, f"{what}: parameter {i} after step {k}", shape=tuple(e.shape),
                               dtype=e.dtype)
            if not bool(torch.isfinite(p).all()):
                return (f"{what}: parameter {i} (shape {fmt_shape(e)}) holds nan or inf after "
                        f"step {k}")
            bad = ~torch.isclose(p, e, rtol=rtol, atol=atol)
            if bool(bad.any()):
                gap = float((p - e).abs().max())
                return value_mismatch(p, e, bad, f"{what}: parameter {i} (shape {fmt_shape(e)}) "
                                                 f"after step {k} of {len(expected)}") + \
                    f" (largest difference {gap:.3g})"
    return None


def _follows(got: Any, expected: Trajectory) -> bool:
    try:
        return first_mismatch(got, expected, "", rtol=1e-6, atol=1e-9) is None
    except GradingFailure:
        return False


def diagnose(got: list[Any], name: str, spec: Spec, options: dict[str, Any], script: Script,
             state: Any, bugs: Sequence[str]) -> str | None:
    expected = torch_trajectory(name, spec, options, script)
    for bug in bugs:
        variant = simulate(name, spec, options, script, bug)
        if _follows(got, variant) and not _follows(variant, expected):
            return f"likely bug: {BUGS[bug]}"
    if isinstance(state, dict):
        for i, key, dtype in state.get("wrong_dtype", []):
            return (f"the state '{key}' of parameter {i} is {dtype}, not the parameter's dtype: "
                    "create buffers with torch.zeros_like(p)")
        for i, key_i, j, key_j in state.get("shared", []):
            return (f"parameter {i}'s '{key_i}' and parameter {j}'s '{key_j}' are the same "
                    "tensor: each parameter needs its own buffers")
    return None


def check_trajectory(result: dict[str, Any], name: str, spec: Spec, options: dict[str, Any],
                     script: Script, what: str, *, hint: str, bugs: Sequence[str] = ()) -> None:
    """The recorded trajectory must follow torch's; a failure names the likely bug."""
    expected = torch_trajectory(name, spec, options, script)
    problem = first_mismatch(result.get("trajectory"), expected, what)
    if problem is not None:
        found = diagnose(result["trajectory"], name, spec, options, script, result.get("state"),
                         bugs or BUGS_OF[name])
        raise GradingFailure(problem, hint=found or hint)


def assert_follows_torch(student: Any, name: str, spec: Spec, options: dict[str, Any],
                         script: Script, what: str, *, hint: str, bugs: Sequence[str] = (),
                         resume_at: int | None = None) -> dict[str, Any]:
    result = run_student(student, name, spec, options, script, resume_at=resume_at)
    check_trajectory(result, name, spec, options, script, what, hint=hint, bugs=bugs)
    return result


# --- the three update rules ---------------------------------------------------------------------
@pytest.mark.points(3)
def test_sgd_momentum_matches_torch(student: Any) -> None:
    """SGDMomentum follows torch.optim.SGD(momentum=...) step for step over 40 steps"""
    inits = make_params(0, SHAPES)
    script = make_grads(1, inits, 40, [1.0, 0.1, 3.0, 0.5])
    assert_follows_torch(student, "SGDMomentum", one_group(inits), {"lr": 0.05, "momentum": 0.9},
                         script, "SGDMomentum(lr=0.05, momentum=0.9)",
                         hint="v = g at the first step, then v = momentum·v + g; p -= lr·v")
    script = make_grads(2, inits, 25, [0.3, 2.0, 1.0, 1.0])
    assert_follows_torch(student, "SGDMomentum", one_group(inits), {"lr": 0.01, "momentum": 0.5},
                         script, "SGDMomentum(lr=0.01, momentum=0.5)",
                         hint="v = g at the first step, then v = momentum·v + g; p -= lr·v")


@pytest.mark.points(3)
def test_rmsprop_matches_torch(student: Any) -> None:
    """RMSProp follows torch.optim.RMSprop step for step (default and large eps)"""
    inits = make_params(3, SHAPES)
    hint = "s = alpha·s + (1 - alpha)·g² starting from 0; p -= lr·g / (sqrt(s) + eps)"
    script = make_grads(4, inits, 40, [1.0, 0.2, 5.0, 0.05])
    assert_follows_torch(student, "RMSProp", one_group(inits), {"lr": 0.01}, script,
                         "RMSProp(lr=0.01) with the default alpha and eps", hint=hint)
    script = make_grads(5, inits, 30, [1e-3, 3e-3, 1e-2, 2e-3])
    assert_follows_torch(student, "RMSProp", one_group(inits),
                         {"lr": 0.02, "alpha": 0.9, "eps": 1e-3}, script,
                         "RMSProp(lr=0.02, alpha=0.9, eps=1e-3) on small gradients", hint=hint)


@pytest.mark.points(3)
def test_adam_matches_torch(student: Any) -> None:
    """Adam follows torch.optim.Adam step for step (default and custom betas, large eps)"""
    inits = make_params(6, SHAPES)
    hint = ("m and v start at 0; m̂ = m / (1 - beta1^t), v̂ = v / (1 - beta2^t); "
            "p -= lr·m̂ / (sqrt(v̂) + eps)")
    script = make_grads(7, inits, 40, [1.0, 0.1, 4.0, 0.5])
    assert_follows_torch(student, "Adam", one_group(inits), {"lr": 0.05}, script,
                         "Adam(lr=0.05) with the default betas and eps", hint=hint)
    script = make_grads(8, inits, 30, [1e-3, 5e-3, 1e-2, 2e-3])
    assert_follows_torch(student, "Adam", one_group(inits),
                         {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-3}, script,
                         "Adam(lr=0.01, betas=(0.8, 0.95), eps=1e-3) on small gradients",
                         hint=hint)


@pytest.mark.points(2)
@pytest.mark.hint("with bias correction, Adam's very first step moves every entry by about lr "
                  "(m̂ / sqrt(v̂) = g / |g|); without it, by about 3.16·lr")
def test_adam_first_step_bias_correction(student: Any) -> None:
    """Adam's first step is bias-corrected: every entry moves by about lr, as in torch"""
    inits = make_params(9, [(5, 4), (7,)])
    script = make_grads(10, inits, 1, [1.0, 10.0])
    lr = 0.01
    assert_follows_torch(student, "Adam", one_group(inits), {"lr": lr}, script,
                                  "Adam(lr=0.01) after its first step",
                                  hint="divide m by (1 - beta1^1) and v by (1 - beta2^1)",
                                  bugs=("no_bias_correction", "eps_inside_sqrt", "ascent"))


@pytest.mark.points(2)
def test_adam_weight_decay_matches_torch(student: Any) -> None:
    """Adam with weight_decay follows torch.optim.Adam(weight_decay=...): L2 added to the grad"""
    inits = make_params(11, SHAPES)
    script = make_grads(12, inits, 30, [0.5, 0.1, 2.0, 1.0])
    assert_follows_torch(student, "Adam", one_group(inits), {"lr": 0.05, "weight_decay": 0.1},
                         script, "Adam(lr=0.05, weight_decay=0.1)",
                         hint="g = g + weight_decay·p, before the moments are updated")


# --- bookkeeping: skipped parameters, groups, state ---------------------------------------------
OPTIONS = {"SGDMomentum": {"lr": 0.05, "momentum": 0.9},
           "RMSProp": {"lr": 0.01, "alpha": 0.95},
           "Adam": {"lr": 0.05, "weight_decay": 0.01}}


@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_params_without_grad_are_skipped(student: Any, name: str) -> None:
    """Parameters whose .grad is None are skipped (no update, no state change), as in torch"""
    inits = make_params(13, [(3,), (2, 2), (4,), (3,)])

    def missing(i: int, k: int) -> bool:
        return i == 1 or (i == 2 and (k < 5 or 10 <= k < 13)) or (i == 3 and k % 3 != 0)

    script = make_grads(14, inits, 20, [1.0, 1.0, 0.5, 2.0], missing)
    assert_follows_torch(student, name, one_group(inits), OPTIONS[name], script,
                         f"{name} when some parameters have no gradient at some steps",
                         hint="skip parameters whose .grad is None; state (and Adam's step "
                              "count) is per parameter")


GROUPS = {"SGDMomentum": ({"lr": 0.1}, {"momentum": 0.5}),
          "RMSProp": ({"lr": 0.05}, {"alpha": 0.8, "eps": 1e-4}),
          "Adam": ({"lr": 0.02}, {"betas": (0.8, 0.99), "weight_decay": 0.1})}


@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_param_groups_use_their_own_hyperparameters(student: Any, name: str) -> None:
    """Each param group uses its own hyperparameters (others from the defaults), as in torch"""
    inits = make_params(15, [(3,), (2, 3), (4,)])
    first, second = GROUPS[name]
    spec = [{"params": inits[:2], **first}, {"params": inits[2:], **second}]
    script = make_grads(16, inits, 20, [1.0, 0.3, 2.0])
    assert_follows_torch(student, name, spec, OPTIONS[name], script,
                         f"{name} with two param groups ({first} and {second})",
                         hint="loop over self.param_groups and read every hyperparameter from "
                              "the group dict")


@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_state_is_per_parameter(student: Any, name: str) -> None:
    """Each parameter keeps its own buffers in self.state[p] (none shared, none aliasing .grad)"""
    inits = make_params(17, [(6,), (6,), (6,)])
    script = make_grads(18, inits, 12, [1.0, 0.01, 5.0])
    result = run_student(student, name, one_group(inits), OPTIONS[name], script)
    state = result.get("state")
    if not isinstance(state, dict):
        raise GradingFailure(f"{name}: its state could not be inspected")
    check_state_layout(name, state)
    check_trajectory(result, name, one_group(inits), OPTIONS[name], script,
                     f"{name} on three parameters of the same shape",
                     hint="each parameter needs its own buffers: one per parameter, in "
                          "self.state[p]")


def check_state_layout(name: str, state: dict[str, Any]) -> None:
    if state.get("other_keys"):
        keys = ", ".join(str(k) for k in state["other_keys"][:3])
        raise GradingFailure(f"{name}: self.state has entries keyed by {keys}, not by the "
                             "parameters, so parameters share state",
                             hint="each parameter needs its own state: self.state[p] for the "
                                  "parameter p")
    missing = [i for i, has in enumerate(state.get("has_state", [])) if not has]
    if missing:
        raise GradingFailure(f"{name}: self.state[p] is empty for parameter {missing[0]} after "
                             "12 steps", hint="keep each parameter's buffers in self.state[p]; "
                                              "state kept elsewhere is lost by state_dict()")
    for i, key_i, j, key_j in state.get("shared", []):
        if key_i == key_j == "(the whole state dict)":
            raise GradingFailure(f"{name}: parameters {i} and {j} share one state dict",
                                 hint="each parameter needs its own state dict, self.state[p]")
        raise GradingFailure(f"{name}: parameter {i}'s '{key_i}' and parameter {j}'s '{key_j}' "
                             "are the same tensor, so parameters share state",
                             hint="each parameter needs its own buffers, created with "
                                  "torch.zeros_like(p) or p.grad.clone()")
    for i, key in state.get("aliases_grad", []):
        raise GradingFailure(f"{name}: parameter {i}'s '{key}' is p.grad itself, not a copy",
                             hint="zero_grad() would wipe that buffer; store a copy: "
                                  "p.grad.clone()")


@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(student: Any, name: str) -> None:
    """state_dict() / load_state_dict() mid-training resumes exactly where torch would be"""
    inits = make_params(19, [(3, 2), (5,)])
    script = make_grads(20, inits, 30, [1.0, 0.5])
    result = run_student(student, name, one_group(inits), OPTIONS[name], script, resume_at=15)
    if not result.get("saved_states"):
        raise GradingFailure(f"{name}: state_dict() after 15 steps held no per-parameter state",
                             hint="keep every buffer (and Adam's step count) in self.state[p], "
                                  "which state_dict() saves and load_state_dict() restores")
    check_trajectory(result, name, one_group(inits), OPTIONS[name], script,
                     f"{name} saved after 15 steps, loaded into a new optimizer",
                     hint="after load_state_dict() the optimizer must continue where it "
                          "stopped: everything an update needs must live in self.state[p] or "
                          "the param groups")


@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_step_builds_no_graph(student: Any, name: str) -> None:
    """step() builds no autograd graph, even when the gradients carry one"""
    inits = make_params(21, [(4,), (2, 3)])
    script = make_grads(22, inits, 3, [1.0, 1.0])
    rows = [[g for g in row if g is not None] for row in script]
    result = student.probe("step_with_graph_grads", name, OPTIONS[name], inits, rows)
    if not isinstance(result, dict):
        raise GradingFailure(f"{name}: the run could not be recorded")
    state = result.get("state") or {}
    if state.get("graph"):
        i, key = state["graph"][0]
        raise GradingFailure(f"{name}: after step(), parameter {i}'s '{key}' is part of an "
                             "autograd graph (requires_grad / grad_fn set)",
                             hint="step() must run under torch.no_grad(): decorate it with "
                                  "@torch.no_grad()")
    if not result.get("params_are_leaves") or not result.get("params_require_grad"):
        raise GradingFailure(f"{name}: after step() the parameters are no longer leaf tensors "
                             "that require grad", hint="update them in place under "
                                                       "torch.no_grad(): p.add_(...)")
    if not all(result.get("grad_mode_after") or [False]):
        raise GradingFailure(f"{name}: gradient tracking was still switched off after step()",
                             hint="use @torch.no_grad() (it restores the mode) rather than "
                                  "torch.set_grad_enabled(False)")
    check_trajectory({"trajectory": result.get("trajectory"), "state": state}, name,
                     one_group(inits), OPTIONS[name], script,
                     f"{name} with gradients that require grad",
                     hint="the update must be the same whether or not the gradients carry a "
                          "graph")


@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_step_with_closure(student: Any, name: str) -> None:
    """step(closure) evaluates the closure with gradients enabled and returns its loss"""
    g = torch.Generator().manual_seed(27)
    X = torch.randn(16, 3, generator=g)
    y = X @ torch.randn(3, 2, generator=g)
    torch.manual_seed(28)
    model = nn.Linear(3, 2)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    n_steps = 6
    result = student.probe("train_with_closure", name, OPTIONS[name], state, X, y, n_steps)
    if not isinstance(result, dict):
        raise GradingFailure(f"{name}: the run with a closure could not be recorded")
    closure_hint = ("call the closure under torch.enable_grad() (step() itself runs under "
                    "no_grad): with torch.enable_grad(): loss = closure()")
    enabled = result.get("grad_enabled") or []
    if enabled and not all(enabled):
        raise GradingFailure(f"{name}.step(closure) called the closure with gradients disabled: "
                             "the closure's loss.backward() cannot compute any gradient, so "
                             "the step has nothing to update from", hint=closure_hint)
    calls = result.get("calls") or []
    if not enabled or any(c == 0 for c in calls):
        raise GradingFailure(f"{name}.step(closure) never called the closure",
                             hint="if a closure is given, call it first to recompute the loss "
                                  "and the gradients, then update")
    if any(c > 1 for c in calls):
        raise GradingFailure(f"{name}.step(closure) called the closure {max(calls)} times in "
                             "one step; torch's optimizers call it once")
    if not all(result.get("returned_same") or [False]):
        got = next((t for t, same in zip(result.get("returned_type") or [],
                                         result.get("returned_same") or [], strict=False)
                    if not same), "something else")
        raise GradingFailure(f"{name}.step(closure) returned {got}, not the loss the closure "
                             "returned", hint="return the closure's value: loss = closure() "
                                              "... return loss")
    optimizer = TORCH_CLASSES[name](model.parameters(), **torch_options(name, OPTIONS[name]))
    expected = []
    for _ in range(n_steps):
        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(X), y)
            loss.backward()
            return loss
        expected.append(float(optimizer.step(closure)))  # type: ignore[arg-type]
    got_losses = result.get("losses") or []
    for k, (a, b) in enumerate(zip(got_losses, expected, strict=False)):
        if not math.isclose(as_float(a, f"loss at step {k}"), b, rel_tol=1e-4, abs_tol=1e-6):
            raise GradingFailure(f"{name}.step(closure): the closure's loss at step {k} expected "
                                 f"{b:.6g} (torch.optim.{TORCH_CLASSES[name].__name__}), got "
                                 f"{a:.6g}", hint="call the closure before the update, so that "
                                                  "the update uses the gradients it computed")
    trained = result.get("state")
    for key, value in model.state_dict().items():
        got_value = trained.get(key) if isinstance(trained, dict) else None
        got_tensor = require_tensor(got_value, f"{name}: trained {key}", shape=tuple(value.shape))
        if not torch.allclose(got_tensor, value, rtol=1e-4, atol=1e-6):
            raise GradingFailure(f"{name}.step(closure): after {n_steps} steps {key} differs "
                                 "from torch's", hint="call the closure before the update, so "
                                                      "that the update uses its gradients")


# --- in a real training loop ---------------------------------------------------------------------
@pytest.mark.points(1)
@pytest.mark.parametrize("name", NAMES)
def test_trains_a_model_like_torch(student: Any, name: str) -> None:
    """In a real loop (zero_grad, backward, step) the optimizer trains like torch's (float32)"""
    g = torch.Generator().manual_seed(23)
    X = torch.randn(32, 4, generator=g)
    y = X @ torch.randn(4, 2, generator=g) + 0.1 * torch.randn(32, 2, generator=g)
    torch.manual_seed(24)
    model = nn.Linear(4, 2)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    n_steps = 25
    result = student.probe("train_model", name, OPTIONS[name], state, X, y, n_steps)
    if not isinstance(result, dict):
        raise GradingFailure(f"{name}: the training run could not be recorded")
    summary = assert_loop_order(result.get("log"), f"a training loop using {name}",
                                expected_steps=n_steps)
    if summary.optimizer_steps != n_steps:
        raise GradingFailure(f"{name}: torch saw {summary.optimizer_steps} optimizer steps in "
                             f"{n_steps} calls of step()",
                             hint="keep step() a method of your torch.optim.Optimizer subclass")
    optimizer = TORCH_CLASSES[name](model.parameters(), **torch_options(name, OPTIONS[name]))
    losses = []
    for _ in range(n_steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    got = result.get("losses")
    if not isinstance(got, list) or len(got) != n_steps:
        raise GradingFailure(f"{name}: the training run did not record {n_steps} losses")
    for k, (a, b) in enumerate(zip(got, losses, strict=True)):
        if not math.isclose(as_float(a, f"loss at step {k}"), b, rel_tol=1e-4, abs_tol=1e-6):
            raise GradingFailure(f"{name} in a training loop: loss at step {k} expected "
                                 f"{b:.6g} (torch.optim.{TORCH_CLASSES[name].__name__}), got "
                                 f"{a:.6g}")
    trained = result.get("state")
    for key, value in model.state_dict().items():
        got_value = trained.get(key) if isinstance(trained, dict) else None
        got_tensor = require_tensor(got_value, f"{name}: trained {key}", shape=tuple(value.shape))
        if not torch.allclose(got_tensor, value, rtol=1e-4, atol=1e-6):
            raise GradingFailure(f"{name} in a training loop: the trained {key} differs from "
                                 f"torch's")


@pytest.mark.points(1)
def test_optimizers_written_by_hand(student: Any, student_file: Any) -> None:
    """The optimizers are written by hand (no torch.optim.SGD / RMSprop / Adam inside)"""
    inits = make_params(25, [(3,)])
    script = make_grads(26, inits, 2, [1.0])
    for name in NAMES:
        run_student(student, name, one_group(inits), OPTIONS[name], script)
    assert_no_forbidden(student_file, ["torch.optim.SGD", "torch.optim.RMSprop",
                                       "torch.optim.Adam", "torch.optim.AdamW",
                                       "torch.optim.sgd", "torch.optim.rmsprop",
                                       "torch.optim.adam", "torch.optim.adamw",
                                       "torch.optim._functional"],
                        why="subclass torch.optim.Optimizer and write each update rule yourself")
