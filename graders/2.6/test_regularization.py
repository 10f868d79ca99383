"""Graders for lesson 2.6 — an L2 penalty, training with it, and inverted dropout by hand.

``train_l2`` is judged against torch's own SGD with ``weight_decay = 2·lam`` on the weights only
(two parameter groups), run here from the same initial weights: the final parameters and the
per-epoch data losses must agree. Dropout is judged on its outputs: the share of zeros against
p with a tolerance from the sample size, the 1/(1-p) scaling, eval mode, the p = 0 and p = 1
edge cases, and gradients through kept units only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    assert_gradient_close,
    expect_raises,
    require_tensor,
)
from loopgrader.checks.loop import assert_loop_order
from loopgrader.checks.source import assert_no_forbidden
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)


def controlled_model(kind: str) -> nn.Module:
    """The same models probes.controlled_model builds in the worker."""
    if kind == "mlp":
        return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    if kind == "mixed":
        return nn.Sequential(nn.Conv1d(2, 3, 3), nn.LayerNorm(4), nn.Flatten(), nn.Linear(12, 2))
    if kind == "regression":
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    raise ValueError(kind)


def require_dict(got: Any, what: str) -> dict[str, Any]:
    if not isinstance(got, dict):
        raise GradingFailure(f"{what}: expected a dict, got {type(got).__name__}")
    return got


def random_model(kind: str, seed: int) -> nn.Module:
    """A float64 model with every parameter (LayerNorm's included) set to random values."""
    torch.manual_seed(seed)
    model = controlled_model(kind).to(torch.float64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return model


def squares(model: nn.Module, keep: Callable[[str, Tensor], bool]) -> float:
    return float(sum(float((p.detach() ** 2).sum()) for n, p in model.named_parameters()
                     if keep(n, p)))


def penalty_result(student: Any, model: nn.Module, kind: str,
                   include_bias: bool | None) -> dict[str, Any]:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return require_dict(student.probe("penalty", kind, state, include_bias), "l2_penalty")


def check_penalty(got: Any, expected: float, what: str, bugs: dict[str, float]) -> None:
    value = require_tensor(got, what, shape=())
    number = float(value.detach())
    if not math.isclose(number, expected, rel_tol=1e-9, abs_tol=1e-12):
        hint = next((f"likely bug: {bug}" for bug, v in bugs.items()
                     if math.isclose(number, v, rel_tol=1e-9, abs_tol=1e-12)),
                    "sum over the counted parameters p of (p ** 2).sum()")
        raise GradingFailure(f"{what}: expected {expected:.10g}, got {number:.10g}", hint=hint)


# --- the penalty ----------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_l2_penalty_value(student: Any) -> None:
    """l2_penalty(model) is the sum of squared weights, biases left out (a 0-dim tensor)"""
    model = random_model("mlp", 1)
    result = penalty_result(student, model, "mlp", None)
    weights = squares(model, lambda n, p: p.ndim >= 2)
    norms = sum(float(p.detach().norm()) for p in model.parameters() if p.ndim >= 2)
    check_penalty(result["value"], weights, "l2_penalty(Linear(3,5)-Tanh-Linear(5,2))", {
        "the biases were included: by default only parameters with ndim >= 2 count "
        "(include_bias=False)": squares(model, lambda n, p: True),
        "the norm, not the squared norm (no square root: sum of p ** 2)": math.sqrt(weights),
        "a sum of per-layer norms, not of squares (no square root: sum of p ** 2)": norms,
        "half the sum of squares (no factor 1/2 here)": 0.5 * weights,
        "a mean of the squares, not their sum":
            weights / sum(p.numel() for p in model.parameters() if p.ndim >= 2),
    })


@pytest.mark.points(1)
def test_l2_penalty_include_bias(student: Any) -> None:
    """l2_penalty(model, include_bias=True) counts every parameter"""
    model = random_model("mlp", 2)
    result = penalty_result(student, model, "mlp", True)
    check_penalty(result["value"], squares(model, lambda n, p: True),
                  "l2_penalty(model, include_bias=True)", {
                      "include_bias=True was ignored (biases still left out)":
                          squares(model, lambda n, p: p.ndim >= 2)})


@pytest.mark.points(1)
def test_l2_penalty_selects_parameters_by_ndim(student: Any) -> None:
    """l2_penalty counts parameters with ndim >= 2 (a 3-D conv kernel yes, a LayerNorm scale no)"""
    model = random_model("mixed", 3)
    result = penalty_result(student, model, "mixed", None)
    check_penalty(result["value"], squares(model, lambda n, p: p.ndim >= 2),
                  "l2_penalty(Conv1d-LayerNorm-Flatten-Linear)", {
                      "only 2-D parameters counted: a Conv1d kernel (3-D) is a weight too; use "
                      "p.ndim >= 2": squares(model, lambda n, p: p.ndim == 2),
                      "parameters chosen by name ('weight' in name): LayerNorm's scale is called "
                      "weight but is 1-D; choose by p.ndim >= 2":
                          squares(model, lambda n, p: "weight" in n),
                      "the biases were included: only parameters with ndim >= 2 count":
                          squares(model, lambda n, p: True)})


@pytest.mark.points(2)
def test_l2_penalty_gradient(student: Any) -> None:
    """l2_penalty is differentiable: backward() gives 2·w for weights and 0 for biases (float64)"""
    model = random_model("mlp", 4)
    result = penalty_result(student, model, "mlp", None)
    require_tensor(result["value"], "l2_penalty(model)", shape=())
    if not result["differentiable"]:
        raise GradingFailure("l2_penalty(model) is not part of the autograd graph, so adding it "
                             "to the loss changes no gradient",
                             hint="build it from the parameters with tensor operations; no "
                                  ".item(), float(), .detach(), .data or torch.no_grad()")
    grads = require_dict(result["grads"], "gradients")
    for name, p in model.named_parameters():
        expected = 2 * p.detach() if p.ndim >= 2 else torch.zeros_like(p)
        got = grads.get(name)
        if got is None:
            got = torch.zeros_like(p)  # never reached by the penalty: fine for a bias
        assert_gradient_close(got, expected, f"d l2_penalty / d {name}", known_bugs={
            "the biases were included: their gradient should be 0":
                2 * p.detach()} if p.ndim < 2 else None)


# --- training with the penalty --------------------------------------------------------------------

LAM, LR, EPOCHS = 0.05, 0.1, 30


def regression_data() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(50)
    X = torch.randn(32, 4, generator=g, dtype=torch.float64)
    y = torch.sin(X @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]], dtype=torch.float64)) \
        + 0.1 * torch.randn(32, 1, generator=g, dtype=torch.float64)
    return X, y


def torch_weight_decay_run(initial: dict[str, Tensor], X: Tensor, y: Tensor, *,
                           decay_weights: float, decay_biases: float,
                           record: str = "data") -> tuple[nn.Module, list[float]]:
    """torch's SGD with weight decay per parameter group: the run train_l2 must equal."""
    model = controlled_model("regression").to(torch.float64)
    model.load_state_dict(initial)
    weights = [p for p in model.parameters() if p.ndim >= 2]
    biases = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": decay_weights},
                                 {"params": biases, "weight_decay": decay_biases}], lr=LR)
    losses = []
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        data_loss = nn.functional.mse_loss(model(X), y)
        data_loss.backward()
        with torch.no_grad():
            penalty = sum((p ** 2).sum() for p in weights)
        total = float(data_loss) + LAM * float(penalty)
        optimizer.step()
        if record == "after":
            with torch.no_grad():
                losses.append(float(nn.functional.mse_loss(model(X), y)))
        else:
            losses.append(float(data_loss) if record == "data" else total)
    return model, losses


def train_result(student: Any, seed: int = 7) -> tuple[dict[str, Any], Tensor, Tensor]:
    X, y = regression_data()
    result = require_dict(student.probe("train_l2_traced", X, y, LAM, LR, EPOCHS, seed),
                          "train_l2")
    return result, X, y


def float_list(got: Any, what: str, length: int) -> list[float]:
    if not isinstance(got, list):
        raise GradingFailure(f"{what}: expected a list of floats, got {type(got).__name__}")
    if len(got) != length:
        raise GradingFailure(f"{what}: expected {length} losses (one per epoch), got {len(got)}")
    values = [as_float(v, f"{what}[{i}]") for i, v in enumerate(got)]
    if not all(isinstance(v, float) for v in got):
        raise GradingFailure(f"{what}: the losses must be Python floats, not tensors",
                             hint="append loss.item()")
    return values


PARAMETER_BUGS = {
    "the biases were decayed too: l2_penalty(model) leaves them out by default":
        {"decay_weights": 2 * LAM, "decay_biases": 2 * LAM},
    "no penalty at all (lam ignored)": {"decay_weights": 0.0, "decay_biases": 0.0},
    "half the decay: the penalty is lam · sum(w²), whose gradient is 2·lam·w":
        {"decay_weights": LAM, "decay_biases": 0.0},
    "twice the decay: the penalty counted twice, or 2·lam·sum(w²)":
        {"decay_weights": 4 * LAM, "decay_biases": 0.0},
}


@pytest.mark.points(2)
@pytest.mark.hint("loss = mse + lam * l2_penalty(model); SGD(model.parameters(), lr=lr); "
                  "one step per epoch")
def test_train_l2_matches_sgd_weight_decay(student: Any) -> None:
    """train_l2 ends with the weights of torch's SGD with weight_decay = 2·lam on weights only"""
    result, X, y = train_result(student)
    expected, _ = torch_weight_decay_run(result["initial"], X, y, decay_weights=2 * LAM,
                                         decay_biases=0.0)
    final = require_dict(result["final"], "the model's state after train_l2")
    for key, value in expected.state_dict().items():
        got = require_tensor(final.get(key), f"{key} after train_l2")
        if got.shape == value.shape and not torch.allclose(got.double(), value, rtol=1e-8,
                                                           atol=1e-10):
            for bug, options in PARAMETER_BUGS.items():
                variant, _ = torch_weight_decay_run(result["initial"], X, y, **options)
                if torch.allclose(got.double(), variant.state_dict()[key], rtol=1e-8,
                                  atol=1e-10):
                    raise GradingFailure(f"{key} after train_l2(lam={LAM}, lr={LR}, "
                                         f"n_epochs={EPOCHS}) matches a run with {bug}",
                                         hint=f"likely bug: {bug}")
        assert_close(got, value, f"{key} after train_l2 (vs SGD with weight_decay=2·lam on "
                                 "the weights)", rtol=1e-8, atol=1e-10)


@pytest.mark.points(2)
def test_train_l2_returns_data_losses(student: Any) -> None:
    """train_l2 returns each epoch's MSE alone (no penalty), measured before that epoch's step"""
    result, X, y = train_result(student, seed=8)
    what = f"train_l2(lam={LAM}, lr={LR}, n_epochs={EPOCHS})"
    losses = torch.tensor(float_list(result["losses"], what, EPOCHS), dtype=torch.float64)
    runs = {record: torch.tensor(torch_weight_decay_run(result["initial"], X, y,
                                                        decay_weights=2 * LAM,
                                                        decay_biases=0.0, record=record)[1],
                                 dtype=torch.float64)
            for record in ("data", "total", "after")}
    bugs = {"total": "it returned the total loss (MSE + lam·penalty): return the data loss, "
                     "the MSE alone",
            "after": "each loss was measured after the optimizer step: record the loss of "
                     "the forward pass that the step used"}
    if not torch.allclose(losses, runs["data"], rtol=1e-8, atol=1e-10):
        for record, bug in bugs.items():
            if torch.allclose(losses, runs[record], rtol=1e-8, atol=1e-10):
                raise GradingFailure(f"{what}: the losses do not match the data losses: {bug}",
                                     hint=f"likely bug: {bug}")
    assert_close(losses, runs["data"], f"{what}: the data loss of each epoch", rtol=1e-8,
                 atol=1e-10)


@pytest.mark.points(2)
def test_train_l2_loop_order(student: Any) -> None:
    """train_l2: one zero_grad → backward → step per epoch, in that order"""
    result, _, _ = train_result(student, seed=9)
    assert_loop_order(result["log"], f"train_l2(n_epochs={EPOCHS})", expected_steps=EPOCHS)


@pytest.mark.points(1)
def test_train_l2_speed(student: Any, reference_worker: Any, device: torch.device,
                        record: dict[str, Any]) -> None:
    """train_l2 runs about as fast as the reference on the local device"""
    g = torch.Generator().manual_seed(51)
    X = torch.randn(512, 16, generator=g)
    y = torch.randn(512, 1, generator=g)
    verdict = time_against_reference(student, reference_worker, "train_l2_for_timing", X, y,
                                     str(device), 200, device=str(device), allowed=3.0)
    assert_timing(verdict, "train_l2 (200 epochs)", record, key="train_l2")
    assert_timed_result(verdict, "after 200 epochs", record=record, key="train_l2")


# --- dropout --------------------------------------------------------------------------------------

def dropout_outputs(student: Any, p: float, x: Tensor, *, training: bool = True, calls: int = 1,
                    seed: int = 0) -> dict[str, Any]:
    return require_dict(student.probe("dropout_calls", p, x, training, calls, seed),
                        f"Dropout({p})")


@pytest.mark.points(1)
def test_dropout_rejects_p_outside_unit_interval(student: Any) -> None:
    """Dropout(p) raises ValueError for p < 0 or p > 1, and accepts p = 0 and p = 1"""
    for p in (-0.1, 1.5, 2.0):
        expect_raises("ValueError", lambda p=p: student.Dropout(p), f"Dropout({p})",
                      hint="check 0 <= p <= 1 in __init__ and raise ValueError otherwise")
    for p in (0.0, 1.0):
        student.Dropout(p)


def zero_share(t: Tensor) -> float:
    return float((t == 0).double().mean())


@pytest.mark.points(2)
def test_dropout_zeroes_a_share_p(student: Any) -> None:
    """in training mode Dropout(p) zeroes each entry with probability p (checked on 100 000)"""
    x = torch.ones(400, 250)
    for p in (0.2, 0.5, 0.8):
        out = require_tensor(dropout_outputs(student, p, x, seed=int(p * 10))["outputs"][0],
                             f"Dropout({p})(x)", shape=(400, 250))
        share = zero_share(out)
        sigma = math.sqrt(p * (1 - p) / x.numel())
        what = f"Dropout({p}) in training mode zeroed {share:.2%} of 100 000 entries"
        if abs(share - p) > 5 * sigma and abs(share - (1 - p)) <= 5 * sigma:
            raise GradingFailure(f"{what}: expected {p:.0%}, which is 1 - (your share)",
                                 hint="p is the probability of zeroing (dropping) an entry, "
                                      "not of keeping it")
        by_column = (out == 0).double().mean(dim=0)
        if bool(((by_column - p).abs() > 6 * math.sqrt(p * (1 - p) / 400)).any()):
            raise GradingFailure(f"Dropout({p}): some units (columns) were zeroed for far more "
                                 "or fewer of the 400 samples than the rate p allows",
                                 hint="draw an independent mask entry for every element of x "
                                      "(a mask of x.shape), not one mask shared across the batch")
        by_row = (out == 0).double().mean(dim=1)
        if bool(((by_row - p).abs() > 6 * math.sqrt(p * (1 - p) / 250)).any()):
            raise GradingFailure(f"Dropout({p}): some samples (rows) lost far more or fewer "
                                 "entries than the rate p allows",
                                 hint="draw an independent mask entry for every element of x, "
                                      "not one per sample")
        if abs(share - p) > 5 * sigma:
            raise GradingFailure(f"{what}: expected {p:.0%} ± {5 * sigma:.2%}",
                                 hint="zero each entry independently with probability p (e.g. "
                                      "torch.rand_like(x) < p marks the dropped ones)")


@pytest.mark.points(2)
def test_dropout_scales_kept_units(student: Any) -> None:
    """kept entries are scaled by 1/(1-p) (inverted dropout), dropped ones are exactly 0"""
    g = torch.Generator().manual_seed(60)
    x = (torch.rand(64, 50, generator=g) + 0.1) * torch.where(
        torch.rand(64, 50, generator=g) < 0.5, -1.0, 1.0)
    p = 0.3
    out = require_tensor(dropout_outputs(student, p, x, seed=1)["outputs"][0],
                         f"Dropout({p})(x)", shape=(64, 50), dtype=torch.float32)
    kept = out != 0
    if not bool(kept.any()) or bool(kept.all()):
        raise GradingFailure(f"Dropout({p})(x) in training mode kept "
                             f"{'no' if not bool(kept.any()) else 'every'} entry")
    got, inputs = out[kept], x[kept]
    scalings = {"the kept entries are not scaled: inverted dropout multiplies them by "
                "1/(1-p) so the expected output equals the input": inputs,
                "kept entries scaled by (1-p): inverted dropout divides by (1-p)":
                    inputs * (1 - p),
                "kept entries scaled by 1/p: inverted dropout divides by (1-p), the keep "
                "probability": inputs / p}
    for bug, value in scalings.items():
        if torch.allclose(got, value, rtol=1e-5, atol=1e-6):
            raise GradingFailure(f"Dropout({p})(x): {bug}", hint=f"likely bug: {bug}")
    assert_close(got, inputs / (1 - p), f"Dropout({p})(x) on the kept entries "
                                        "(expected x / (1 - p))", rtol=1e-5, atol=1e-6)


@pytest.mark.points(1)
def test_dropout_keeps_shape_dtype_and_input(student: Any) -> None:
    """Dropout keeps any shape and float64, and never modifies its input"""
    x = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(61), dtype=torch.float64)
    result = dropout_outputs(student, 0.5, x, seed=2)
    out = require_tensor(result["outputs"][0], "Dropout(0.5)(x) for a float64 x [4, 5, 6]",
                         shape=(4, 5, 6), dtype=torch.float64)
    kept = out != 0
    assert_close(out[kept], x[kept] * 2, "Dropout(0.5)(x) on the kept entries of a 3-D x")
    assert_close(result["inputs_after"][0], x, "the input after Dropout(0.5)(x)",
                 hint="Dropout changed its input in place (x *= mask, x.mul_(...), "
                      "x[mask] = 0): build a new tensor")


@pytest.mark.points(1)
def test_dropout_identity_in_eval_mode(student: Any) -> None:
    """in eval mode Dropout returns its input unchanged (p = 0.5 and p = 1)"""
    x = torch.randn(30, 20, generator=torch.Generator().manual_seed(62))
    for p in (0.5, 1.0):
        out = dropout_outputs(student, p, x, training=False, seed=3)["outputs"][0]
        assert_close(out, x, f"Dropout({p}) in eval mode", rtol=0, atol=0,
                     hint="check self.training: after model.eval() dropout must do nothing "
                          "(no zeros, no scaling)")


@pytest.mark.points(1)
def test_dropout_p0_is_identity(student: Any) -> None:
    """Dropout(0) in training mode returns its input unchanged"""
    x = torch.randn(20, 30, generator=torch.Generator().manual_seed(63))
    out = dropout_outputs(student, 0.0, x, seed=4)["outputs"][0]
    assert_close(out, x, "Dropout(0.0)(x) in training mode", rtol=1e-6, atol=0,
                 hint="with p = 0 nothing is dropped and 1/(1-p) = 1")


@pytest.mark.points(1)
def test_dropout_p1_zeroes_everything(student: Any) -> None:
    """Dropout(1) in training mode returns all zeros, without nan"""
    x = torch.randn(20, 30, generator=torch.Generator().manual_seed(64))
    out = dropout_outputs(student, 1.0, x, seed=5)["outputs"][0]
    assert_close(out, torch.zeros_like(x), "Dropout(1.0)(x) in training mode", rtol=0, atol=0,
                 hint="with p = 1, x * mask / (1 - p) is 0 / 0 = nan: return zeros for p = 1")


@pytest.mark.points(2)
def test_dropout_gradient_only_through_kept_units(student: Any) -> None:
    """backward through Dropout(p) gives 1/(1-p) at kept entries and 0 at dropped ones (float64)"""
    g = torch.Generator().manual_seed(65)
    x = torch.rand(20, 30, generator=g, dtype=torch.float64) + 0.5
    weights = torch.randn(20, 30, generator=g, dtype=torch.float64)
    p = 0.4
    result = require_dict(student.probe("dropout_gradient", p, x, weights, 6), "Dropout")
    out = require_tensor(result["output"], f"Dropout({p})(x)", shape=(20, 30),
                         dtype=torch.float64)
    if not result["connected"] or result["grad"] is None:
        raise GradingFailure(f"no gradient reached the input of Dropout({p}): its output is not "
                             "connected to x in the autograd graph",
                             hint="compute the output from x with tensor operations; no "
                                  ".detach(), .data or torch.no_grad() on the way")
    kept = out.detach() != 0
    expected = torch.where(kept, weights / (1 - p), torch.zeros_like(weights))
    assert_gradient_close(result["grad"], expected,
                          f"d sum(Dropout({p})(x) · w) / dx (the mask read from the output)",
                          known_bugs={"gradient flows through dropped entries too":
                                      weights / (1 - p),
                                      "the gradient misses the 1/(1-p) scaling":
                                      torch.where(kept, weights, torch.zeros_like(weights))})


@pytest.mark.points(1)
def test_dropout_draws_a_new_mask_each_call(student: Any) -> None:
    """each forward call draws a new random mask"""
    x = torch.ones(50, 40)
    outputs = dropout_outputs(student, 0.5, x, calls=2, seed=7)["outputs"]
    first = require_tensor(outputs[0], "Dropout(0.5)(x), first call", shape=(50, 40))
    second = require_tensor(outputs[1], "Dropout(0.5)(x), second call", shape=(50, 40))
    if torch.equal(first == 0, second == 0):
        raise GradingFailure("two calls of the same Dropout(0.5) on the same input dropped the "
                             "same mask of entries",
                             hint="draw a fresh mask inside forward() on every call; do not "
                                  "store it on the module and reuse it")


# --- rules ----------------------------------------------------------------------------------------

FORBIDDEN_SOURCE = [
    "torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.nn.Dropout3d",
    "torch.nn.AlphaDropout", "torch.nn.FeatureAlphaDropout", "torch.nn.modules.dropout",
    "torch.nn.functional.dropout", "torch.nn.functional.dropout1d",
    "torch.nn.functional.dropout2d", "torch.nn.functional.dropout3d",
    "torch.nn.functional.alpha_dropout", "torch.nn.functional.feature_alpha_dropout",
    "torch.dropout", "torch.dropout_", "torch.feature_dropout", "torch.alpha_dropout",
    "torch.native_dropout", "torch._C", "torch.ops",
]
RULE = ("this exercise asks you to write dropout yourself: a random mask and the 1/(1-p) "
        "scaling, without nn.Dropout, F.dropout or torch.dropout")


@pytest.mark.points(1)
def test_no_builtin_dropout_in_source(student: Any, student_file: Any) -> None:
    """rule: the source uses no nn.Dropout, F.dropout or torch.dropout"""
    student.Dropout(0.5)  # a file whose Dropout is not written yet is "not started"
    assert_no_forbidden(student_file, FORBIDDEN_SOURCE, why=RULE)


@pytest.mark.points(1)
def test_no_builtin_dropout_at_run_time(student: Any) -> None:
    """rule: Dropout still works with torch's built-in dropout switched off"""
    x = torch.randn(40, 30, generator=torch.Generator().manual_seed(66))
    result = require_dict(student.probe("dropout_without_builtins", 0.5, x, 8), "Dropout")
    used = sorted(set(result["used"]))
    if used:
        raise GradingFailure(f"Dropout called {', '.join(used)} while running", hint=RULE)
    trained = require_tensor(result["train"], "Dropout(0.5)(x) with built-in dropout off",
                             shape=(40, 30))
    kept = trained != 0
    assert_close(trained[kept], x[kept] * 2, "Dropout(0.5)(x) with built-in dropout off, "
                                             "kept entries")
    assert_close(result["eval"], x, "Dropout(0.5) in eval mode with built-in dropout off")
