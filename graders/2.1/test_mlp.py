"""Graders for lesson 2.1 — an MLP, its training loop and its accuracy.

Models are built in the worker beside the student's code; what comes back is their state. Every
verdict is made here: accuracies are recomputed from the returned weights, and training runs are
compared with torch's own Adam + BCEWithLogitsLoss run from the same initial weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    expect_raises,
    require_tensor,
)
from loopgrader.checks.loop import analyse_loop, assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


# --- helpers -------------------------------------------------------------------------------------

def controlled_model(kind: str) -> nn.Module:
    """The same models probes.controlled_model builds in the worker (same keys and shapes)."""
    if kind == "linear":
        return nn.Linear(2, 1)
    if kind == "identity_logit":
        return nn.Linear(1, 1)
    if kind == "tanh_net":
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    if kind == "dropout_net":
        return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 1))
    raise ValueError(kind)


def require_dict(got: Any, what: str) -> dict[str, Any]:
    if not isinstance(got, dict):
        raise GradingFailure(f"{what}: expected a dict, got {type(got).__name__}")
    return got


def match_state(state: Any, template: nn.Module, what: str) -> dict[str, Tensor]:
    """``state`` (a student's state dict) mapped onto ``template``'s keys by tensor shape.

    Students name their layers as they like (``hidden``, ``fc1``, ``net.0``...); the graders'
    models have one parameter per shape, so shapes identify them.
    """
    got = require_dict(state, what)
    tensors = {k: require_tensor(v, f"{what}[{k!r}]") for k, v in got.items()}
    mapped: dict[str, Tensor] = {}
    for key, value in template.state_dict().items():
        same = [k for k, t in tensors.items() if tuple(t.shape) == tuple(value.shape)]
        if len(same) != 1:
            shapes = ", ".join(f"{k}: {list(t.shape)}" for k, t in tensors.items()) or "nothing"
            raise GradingFailure(
                f"{what}: expected exactly one parameter of shape {list(value.shape)} "
                f"(found {len(same)}); the model holds {shapes}",
                hint="the model should hold exactly the weights and biases of its two "
                     "nn.Linear layers, registered as attributes (or in nn.Sequential)")
        mapped[key] = tensors[same[0]].detach().to(value.dtype)
    return mapped


def loaded(template: nn.Module, state: Any, what: str) -> nn.Module:
    template.load_state_dict(match_state(state, template, what))
    return template


def require_float_list(got: Any, what: str, length: int) -> list[float]:
    if not isinstance(got, list):
        raise GradingFailure(f"{what}: expected a list of floats, got {type(got).__name__}")
    if len(got) != length:
        raise GradingFailure(f"{what}: expected {length} losses (one per epoch), got {len(got)}",
                             hint="append one loss per epoch, n_epochs in total")
    values = [as_float(v, f"{what}[{i}]") for i, v in enumerate(got)]
    if not all(isinstance(v, float) for v in got):
        raise GradingFailure(f"{what}: the losses must be Python floats, not tensors",
                             hint="append loss.item() (a tensor still holds the whole graph)")
    return values


def true_accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(((model(X) > 0).to(y.dtype) == y).double().mean())


def circles(reference: Any, n: int = 400, seed: int = 0) -> tuple[Tensor, Tensor]:
    X, y = reference.make_circles(n=n, noise=0.1, seed=seed)
    return X, y


MODEL_MODULES = {"linear": {"Linear"}, "identity_logit": {"Linear"},
                 "tanh_net": {"Sequential", "Linear", "Tanh"},
                 "dropout_net": {"Sequential", "Linear", "ReLU", "Dropout"}}


def model_events(log: Any, kind: str) -> list[dict[str, Any]]:
    """The model's own forward calls (not a loss module's, nor a helper module's) and backwards."""
    if not isinstance(log, dict):
        raise GradingFailure("the loop could not be traced")
    return [e for e in analyse_loop(log).events
            if e.get("kind") == "backward"
            or (e.get("kind") == "forward" and e.get("module") in MODEL_MODULES[kind])]


def forward_events(log: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in model_events(log, kind) if e.get("kind") == "forward"]


# --- the model -----------------------------------------------------------------------------------

def build(student: Any, activation: str, seed: int = 0) -> tuple[dict[str, Any], Tensor]:
    X = torch.randn(6, 3, generator=torch.Generator().manual_seed(10 + seed)) * 2
    result = require_dict(student.probe("build_mlp", 3, 7, 2, activation, seed, X),
                          "your MLP")
    return result, X


@pytest.mark.points(1)
def test_mlp_forward_shape(student: Any) -> None:
    """MLP(3, 7, 2) maps a [6, 3] batch to [6, 2] float32 outputs"""
    result, _ = build(student, "relu")
    require_tensor(result["output"], "MLP(3, 7, 2)(x) for x of shape [6, 3]", shape=(6, 2),
                   dtype=torch.float32)


@pytest.mark.points(1)
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_mlp_forward_is_linear_activation_linear(student: Any, activation: str) -> None:
    """MLP's output is Linear → activation → Linear with the activation asked for"""
    result, X = build(student, activation, seed=1)
    what = f"MLP(3, 7, 2, activation={activation!r})(x)"
    w1, b1, w2, b2 = match_state(result["state"], nn.Sequential(nn.Linear(3, 7), nn.Linear(7, 2)),
                                 f"the state of MLP(3, 7, 2, {activation!r})").values()
    hidden = X @ w1.T + b1
    expected = ACTIVATIONS[activation](hidden) @ w2.T + b2
    got = require_tensor(result["output"], what, shape=(6, 2))
    variants = {"no activation between the two layers (the network is still linear: "
                "Linear → Linear collapses into one linear map)": hidden @ w2.T + b2}
    variants.update({f"the {name} activation, not {activation}": fn(hidden) @ w2.T + b2
                     for name, fn in ACTIVATIONS.items() if name != activation})
    variants["the activation applied after the second layer too"] = \
        ACTIVATIONS[activation](expected)
    for bug, value in variants.items():
        if not torch.allclose(value, expected, rtol=1e-4, atol=1e-5) and \
                torch.allclose(got.detach().double(), value.double(), rtol=1e-4, atol=1e-5):
            raise GradingFailure(f"{what}: the output matches {bug}",
                                 hint="forward is second_layer(activation(first_layer(x)))")
    assert_close(got, expected, what, rtol=1e-4, atol=1e-5,
                 hint="forward is second_layer(activation(first_layer(x)))")


@pytest.mark.points(1)
def test_mlp_parameter_count(student: Any) -> None:
    """MLP(5, 11, 3) has in*h + h + h*out + out trainable parameters (two Linear layers)"""
    result = require_dict(student.probe("build_mlp", 5, 11, 3, "tanh", 0, torch.zeros(2, 5)),
                          "your MLP")
    shapes = result["param_shapes"]
    count = sum(int(torch.Size(s).numel()) for s in shapes)
    expected = 5 * 11 + 11 + 11 * 3 + 3
    if count != expected:
        hint = "two nn.Linear layers with biases, assigned as attributes of the module"
        if count == 0:
            hint = ("no parameters are registered: layers kept in a plain Python list or dict "
                    "are invisible to model.parameters(); assign them as attributes or use "
                    "nn.Sequential / nn.ModuleList")
        raise GradingFailure(f"number of parameters of MLP(5, 11, 3): expected {expected} "
                             f"(5·11 + 11 + 11·3 + 3), got {count} (shapes {shapes})", hint=hint)
    if not all(result["requires_grad"]):
        raise GradingFailure("MLP(5, 11, 3): some parameters do not require grad",
                             hint="do not freeze the layers: the optimizer must train them")


@pytest.mark.points(1)
def test_mlp_rejects_unknown_activation(student: Any) -> None:
    """MLP raises ValueError for an activation other than relu, sigmoid or tanh"""
    for name in ("gelu", "softmax", ""):
        expect_raises("ValueError", lambda name=name: student.MLP(2, 4, 1, name),
                      f"MLP(2, 4, 1, activation={name!r})",
                      hint="check the name in __init__ and raise ValueError for anything else "
                           "(do not fall back to a default activation silently)")


# --- fit_classifier ------------------------------------------------------------------------------

@pytest.mark.points(3)
def test_mlp_separates_circles(student: Any, reference: Any) -> None:
    """MLP(2, 16, 1) trained with fit_classifier classifies ≥ 95 % of make_circles correctly"""
    X, y = circles(reference)
    result = require_dict(student.probe("train_mlp", X, y, 300, 0.01, 0), "training your MLP")
    model = loaded(reference.MLP(2, 16, 1, "relu"), result["final"],
                   "the state of MLP(2, 16, 1) after fit_classifier")
    acc = true_accuracy(model, X, y)
    if acc < 0.95:
        raise GradingFailure(
            f"accuracy of MLP(2, 16, 1) after fit_classifier(300 epochs, lr=0.01) on "
            f"make_circles(400), recomputed from its weights: expected ≥ 95 %, got {acc:.1%}",
            hint="an MLP with no activation between its layers is still a linear model and "
                 "cannot separate rings; also check fit_classifier (Adam, BCEWithLogitsLoss, "
                 "one step per epoch)")


@pytest.mark.points(1)
def test_linear_model_cannot_separate_circles(student: Any, reference: Any) -> None:
    """the same fit_classifier trains a plain nn.Linear(2, 1), which stays near chance (≤ 70 %)"""
    X, y = circles(reference)
    result = require_dict(student.probe("train_controlled", "linear", X, y, 300, 0.01, 0),
                          "training nn.Linear(2, 1)")
    losses = require_float_list(result["losses"], "fit_classifier(nn.Linear(2, 1), ...)", 300)
    model = loaded(controlled_model("linear"), result["initial"], "nn.Linear's initial state")
    expected = reference.fit_classifier(model, X, y, n_epochs=300, lr=0.01)
    if abs(losses[-1] - expected[-1]) > 1e-3 * max(1.0, abs(expected[-1])):
        raise GradingFailure(
            f"fit_classifier on nn.Linear(2, 1): final loss expected {expected[-1]:.5g} "
            f"(torch's Adam + BCEWithLogitsLoss from the same start), got {losses[-1]:.5g}",
            hint="fit_classifier must work for any nn.Module mapping [N, 2] to [N, 1]")
    trained = loaded(controlled_model("linear"), result["final"], "nn.Linear's final state")
    acc = true_accuracy(trained, X, y)
    if acc > 0.70:
        raise GradingFailure(f"a linear model reached {acc:.1%} on the circles, which no line "
                             "can separate: the data or the evaluation is not what it should be")


def train_variant(model: nn.Module, X: Tensor, y: Tensor, n_epochs: int, lr: float, *,
                  loss: str = "bce", optim: str = "adam", record_after: bool = False,
                  clear: bool = True) -> list[float]:
    """A training run with one known mistake, to name the bug behind a mismatch."""
    losses_fn: dict[str, nn.Module] = {"bce": nn.BCEWithLogitsLoss(), "mse": nn.MSELoss(),
                                       "bce_sum": nn.BCEWithLogitsLoss(reduction="sum")}
    loss_fn = losses_fn[loss]
    opt: torch.optim.Optimizer = (torch.optim.Adam(model.parameters(), lr=lr) if optim == "adam"
                                  else torch.optim.SGD(model.parameters(), lr=lr))
    model.train()
    history = []
    for _ in range(n_epochs):
        if clear:
            opt.zero_grad()
        value = loss_fn(model(X), y)
        value.backward()
        opt.step()
        if record_after:
            with torch.no_grad():
                value = loss_fn(model(X), y)
        history.append(float(value))
    return history


FIT_BUGS = {
    "MSE on the logits instead of BCEWithLogitsLoss": {"loss": "mse"},
    "plain SGD instead of Adam": {"optim": "sgd"},
    "the loss summed over the batch (reduction='sum') instead of BCEWithLogitsLoss's mean":
        {"loss": "bce_sum"},
    "each loss recorded after the optimizer step instead of before it": {"record_after": True},
    "gradients never cleared (no optimizer.zero_grad())": {"clear": False},
}


@pytest.mark.points(2)
@pytest.mark.hint("BCEWithLogitsLoss on the logits, torch.optim.Adam(model.parameters(), lr=lr), "
                  "and append loss.item() before optimizer.step()")
def test_fit_classifier_matches_adam_bce(student: Any, reference: Any) -> None:
    """fit_classifier's losses and final weights equal torch's Adam + BCEWithLogitsLoss run"""
    X, y = circles(reference, n=160, seed=5)
    n_epochs, lr = 60, 0.02
    result = require_dict(student.probe("train_controlled", "tanh_net", X, y, n_epochs, lr, 3),
                          "training a Linear-Tanh-Linear network")
    what = f"fit_classifier(model, X, y, n_epochs={n_epochs}, lr={lr})"
    losses = require_float_list(result["losses"], what, n_epochs)
    model = loaded(controlled_model("tanh_net"), result["initial"], "the initial state")
    expected = reference.fit_classifier(model, X, y, n_epochs=n_epochs, lr=lr)
    got_t, exp_t = torch.tensor(losses, dtype=torch.float64), torch.tensor(expected,
                                                                           dtype=torch.float64)
    if not torch.allclose(got_t, exp_t, rtol=1e-4, atol=1e-6):
        for bug, options in FIT_BUGS.items():
            start = loaded(controlled_model("tanh_net"), result["initial"], "the initial state")
            variant = torch.tensor(train_variant(start, X, y, n_epochs, lr, **options),
                                   dtype=torch.float64)
            if torch.allclose(got_t, variant, rtol=1e-4, atol=1e-6):
                raise GradingFailure(f"{what}: the losses match a run with {bug}",
                                     hint=f"likely bug: {bug}")
        assert_close(got_t, exp_t, f"{what}: the loss of each epoch", rtol=1e-4, atol=1e-6)
    final = match_state(result["final"], model, "the state after fit_classifier")
    for key, value in model.state_dict().items():
        assert_close(final[key], value, f"{what}: final {key}", rtol=1e-4, atol=1e-5)


@pytest.mark.points(2)
def test_fit_classifier_loop_order(student: Any, reference: Any) -> None:
    """fit_classifier: one zero_grad → backward → step per epoch, in that order"""
    X, y = circles(reference, n=80, seed=6)
    result = require_dict(student.probe("train_controlled", "tanh_net", X, y, 12, 0.01, 4),
                          "training a Linear-Tanh-Linear network")
    summary = assert_loop_order(result["log"], "fit_classifier(model, X, y, n_epochs=12)",
                                expected_steps=12)
    if summary.forwards < 12:
        raise GradingFailure(f"fit_classifier(n_epochs=12): expected a forward pass in every "
                             f"epoch (12), saw {summary.forwards}",
                             hint="compute model(X) inside the loop, once per epoch")


@pytest.mark.points(1)
def test_fit_classifier_uses_train_mode(student: Any, reference: Any) -> None:
    """fit_classifier puts the model in training mode, even one handed over in eval mode"""
    X, y = circles(reference, n=80, seed=7)
    result = require_dict(student.probe("train_controlled", "tanh_net", X, y, 5, 0.01, 5, True),
                          "training a model handed over in eval mode")
    events = model_events(result["log"], "tanh_net")
    training_forwards = [prev for prev, event in itertools.pairwise([{}, *events])
                         if event.get("kind") == "backward" and prev.get("kind") == "forward"]
    if not training_forwards:
        raise GradingFailure("fit_classifier never called loss.backward() after a forward pass")
    if not all(e.get("training") for e in training_forwards):
        raise GradingFailure("fit_classifier ran the training forward pass in eval mode (the "
                             "model came in after model.eval() and was never switched back)",
                             hint="call model.train() at the start of fit_classifier: dropout "
                                  "and batch-norm layers train only in training mode")


# --- accuracy -------------------------------------------------------------------------------------

def logit_problem() -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """A one-feature model whose logits are the inputs: many of them between 0 and 0.5."""
    g = torch.Generator().manual_seed(21)
    X = torch.cat([torch.rand(12, generator=g) * 0.45 + 0.02,
                   -torch.rand(10, generator=g) * 0.45 - 0.02,
                   torch.randn(18, generator=g) * 2]).unsqueeze(1)
    y = (torch.rand(40, 1, generator=g) < 0.6).float()
    state = {"weight": torch.ones(1, 1), "bias": torch.zeros(1)}
    return state, X, y


def accuracy_result(student: Any, kind: str, state: dict[str, Tensor], X: Tensor, y: Tensor,
                    start_training: bool = True) -> dict[str, Any]:
    return require_dict(student.probe("run_accuracy", kind, state, X, y, start_training),
                        "calling accuracy")


@pytest.mark.points(2)
def test_accuracy_value(student: Any) -> None:
    """accuracy returns the fraction (a Python float) of samples where (logit > 0) equals y"""
    state, X, y = logit_problem()
    got = accuracy_result(student, "identity_logit", state, X, y)["value"]
    value = as_float(got, "accuracy(model, X, y)")
    logits = X
    expected = float(((logits > 0).float() == y).double().mean())
    bugs = {
        "the logits were compared with 0.5 (logits > 0.5): 0.5 is a threshold for "
        "probabilities; a logit of 0 is probability 0.5, so compare logits with 0":
            float(((logits > 0.5).float() == y).double().mean()),
        "a percentage: return a fraction in [0, 1]": 100 * expected,
        "the classes are swapped (logit < 0 predicted as class 1)": 1 - expected,
        "predictions of shape [N] were compared with y of shape [N, 1], which broadcasts to an "
        "[N, N] table": float(((logits > 0).float().squeeze(1) == y).double().mean()),
    }
    if abs(value - expected) > 1e-6:
        hint = next((f"likely bug: {bug}" for bug, v in bugs.items() if abs(value - v) <= 1e-6),
                    "predicted class = (logit > 0); accuracy = mean of (prediction == y)")
        raise GradingFailure(f"accuracy(model, X, y) on 40 samples: expected {expected:.6g}, "
                             f"got {value:.6g}", hint=hint)
    if not isinstance(got, float):
        raise GradingFailure(f"accuracy must return a Python float, got {type(got).__name__}",
                             hint="return ....item() or float(...)")


def dropout_problem() -> tuple[dict[str, Tensor], Tensor, Tensor]:
    torch.manual_seed(0)
    model = controlled_model("dropout_net")
    g = torch.Generator().manual_seed(22)
    X = torch.randn(200, 2, generator=g)
    y = (torch.rand(200, 1, generator=g) < 0.5).float()
    return {k: v.clone() for k, v in model.state_dict().items()}, X, y


@pytest.mark.points(1)
def test_accuracy_uses_eval_mode(student: Any) -> None:
    """accuracy evaluates the model in eval mode (a model with dropout gives the eval result)"""
    state, X, y = dropout_problem()
    result = accuracy_result(student, "dropout_net", state, X, y, start_training=True)
    events = forward_events(result["log"], "dropout_net")
    if not events:
        raise GradingFailure("accuracy never called the model")
    if any(e.get("training") for e in events):
        raise GradingFailure("accuracy ran the model in training mode (it came in after "
                             "model.train())",
                             hint="call model.eval() before the forward pass: in training mode "
                                  "dropout zeroes random units and the accuracy is noise")
    expected = true_accuracy(loaded(controlled_model("dropout_net"), state, "state"), X, y)
    value = as_float(result["value"], "accuracy(model, X, y)")
    if abs(value - expected) > 1e-6:
        raise GradingFailure(f"accuracy of a model with dropout: expected {expected:.6g} (eval "
                             f"mode), got {value:.6g}", hint="call model.eval() first")


@pytest.mark.points(1)
def test_accuracy_builds_no_graph(student: Any) -> None:
    """accuracy runs the forward pass without autograd (torch.no_grad or inference_mode)"""
    state, X, y = dropout_problem()
    result = accuracy_result(student, "dropout_net", state, X, y, start_training=False)
    events = forward_events(result["log"], "dropout_net")
    if not events:
        raise GradingFailure("accuracy never called the model")
    if any(e.get("grad_enabled") for e in events):
        raise GradingFailure("accuracy ran the forward pass with autograd recording "
                             "(torch.is_grad_enabled() was True), building a graph nobody uses",
                             hint="wrap the evaluation in `with torch.no_grad():` (or "
                                  "torch.inference_mode())")
    expected = true_accuracy(loaded(controlled_model("dropout_net"), state, "state"), X, y)
    assert_close(torch.tensor(as_float(result["value"], "accuracy(model, X, y)")),
                 torch.tensor(expected), "accuracy(model, X, y)")


@pytest.mark.points(1)
def test_accuracy_leaves_autograd_and_parameters_intact(student: Any) -> None:
    """after accuracy returns, autograd is on and the parameters are unchanged and trainable"""
    state, X, y = dropout_problem()
    result = accuracy_result(student, "dropout_net", state, X, y, start_training=True)
    as_float(result["value"], "accuracy(model, X, y)")
    if not result["grad_enabled_after"]:
        raise GradingFailure("after accuracy returned, autograd was still switched off "
                             "(torch.is_grad_enabled() is False), so the next training step "
                             "cannot call backward()",
                             hint="use the context manager `with torch.no_grad():`, which "
                                  "restores autograd on exit, not torch.set_grad_enabled(False)")
    if not all(result["requires_grad_after"]):
        raise GradingFailure("accuracy switched requires_grad off on the model's parameters, so "
                             "training after it would no longer update them",
                             hint="torch.no_grad() is all evaluation needs; leave "
                                  "requires_grad alone")
    after = require_dict(result["state_after"], "the model's state after accuracy")
    for key, value in state.items():
        assert_close(after.get(key), value, f"parameter {key} after accuracy",
                     hint="accuracy must not modify the model's weights")


@pytest.mark.points(1)
def test_fit_classifier_speed(student: Any, reference_worker: Any, reference: Any,
                              device: torch.device, record: dict[str, Any]) -> None:
    """fit_classifier runs about as fast as the reference on the local device"""
    X, y = circles(reference)
    verdict = time_against_reference(student, reference_worker, "fit_for_timing", X, y,
                                      str(device), 150, device=str(device), allowed=3.0)
    assert_timing(verdict, "fit_classifier (150 epochs, 400 samples)", record, key="fit")
    assert_timed_result(verdict, "after 150 epochs", record=record, key="fit")
