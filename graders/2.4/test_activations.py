"""Graders for lesson 2.4 — activation functions and their derivatives, written by hand.

Values are compared with torch's own activations, derivatives with autograd of torch's functions
in float64, on inputs with exact zeros (the ReLU kink) and up to |x| = 1e4 (overflow). Property
tests draw shapes, dtypes and values with hypothesis in this process (derandomized, so every run
tries the same examples) and send them to the student's code. The "write it yourself" rules are
enforced twice: on the source, and at run time with torch's activations switched off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    assert_gradient_close,
    require_tensor,
)
from loopgrader.checks.source import assert_no_forbidden

try:  # a dev dependency: without it the property tests use seeded examples instead
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None

FUNCTIONS = ("relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "sigmoid", "sigmoid_grad",
             "tanh", "tanh_grad")
SLOPED = ("leaky_relu", "leaky_relu_grad")
DTYPES = (torch.float32, torch.float64)
TOLERANCE = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-6, 1e-10)}
EXTREMES = [-1e4, -1e3, -710.0, -100.0, -89.0, -88.0, -20.0, -3.0, -1.0, -1e-3, -1e-8, 0.0,
            1e-8, 1e-3, 1.0, 3.0, 20.0, 88.0, 89.0, 100.0, 710.0, 1e3, 1e4]


# --- what torch says ------------------------------------------------------------------------------

def torch_value(name: str, x: Tensor, slope: float = 0.01) -> Tensor:
    """torch's activation (``name``) or its autograd derivative (``name`` ending in _grad)."""
    functions: dict[str, Callable[[Tensor], Tensor]] = {
        "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "leaky_relu": lambda t: F.leaky_relu(t, slope)}
    if not name.endswith("_grad"):
        return functions[name](x)
    x64 = x.detach().to(torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(functions[name.removesuffix("_grad")](x64).sum(), x64)
    return grad.to(x.dtype)


def sample(seed: int, shape: tuple[int, ...] = (5, 7), dtype: torch.dtype = torch.float32,
           scale: float = 3.0) -> Tensor:
    """Seeded values with exact zeros in them (the ReLU kink)."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale
    x.view(-1)[::6] = 0.0
    return x


def call(student: Any, name: str, x: Tensor, slope: float | None = None) -> Any:
    function = getattr(student, name)
    if name in SLOPED and slope is not None:
        return function(x, negative_slope=slope)
    return function(x)


def check_values(got: Any, expected: Tensor, what: str, hint: str | None = None) -> None:
    rtol, atol = TOLERANCE[expected.dtype]
    assert_close(got, expected, what, rtol=rtol, atol=atol, hint=hint)


def diagnose(got: Tensor, variants: dict[str, Tensor], expected: Tensor) -> str | None:
    """The name of the known mistake ``got`` matches (and the right answer does not), if any."""
    rtol, atol = TOLERANCE[expected.dtype]
    a = got.detach().to(torch.float64)
    for bug, value in variants.items():
        v = value.to(torch.float64)
        if v.shape == a.shape and not torch.allclose(v, expected.double(), rtol=rtol, atol=atol) \
                and torch.allclose(a, v, rtol=rtol * 10, atol=atol * 10, equal_nan=True):
            return bug
    return None


def check_against_torch(student: Any, name: str, x: Tensor, slope: float | None = None,
                        variants: dict[str, Tensor] | None = None) -> None:
    expected = torch_value(name, x, 0.01 if slope is None else slope)
    args = f"x, negative_slope={slope}" if slope is not None else "x"
    what = f"{name}({args}) on a {x.dtype} tensor of shape {list(x.shape)}"
    got = require_tensor(call(student, name, x, slope), what, shape=tuple(x.shape))
    bug = diagnose(got, variants or {}, expected)
    if bug:
        rtol, atol = TOLERANCE[expected.dtype]
        bad = ~torch.isclose(got.detach().double(), expected.double(), rtol=rtol, atol=atol)
        raise GradingFailure(f"{what}: {int(bad.sum())} of {x.numel()} entries differ from "
                             f"torch", hint=f"likely bug: {bug}")
    check_values(got, expected, what)


# --- values ---------------------------------------------------------------------------------------

@pytest.mark.points(1)
def test_relu_matches_torch(student: Any) -> None:
    """relu equals torch.relu (float32 and float64, zeros included)"""
    for dtype in DTYPES:
        x = sample(1, dtype=dtype)
        check_against_torch(student, "relu", x, variants={
            "negative entries kept: relu zeroes them (max(x, 0))": x,
            "positive entries zeroed: relu keeps x where x > 0": torch.clamp(x, max=0)})


@pytest.mark.points(1)
def test_leaky_relu_matches_torch(student: Any) -> None:
    """leaky_relu equals F.leaky_relu for the default slope and for slopes passed in"""
    for dtype in DTYPES:
        x = sample(2, dtype=dtype)
        check_against_torch(student, "leaky_relu", x)
        for slope in (0.2, 0.0, 1.5):
            check_against_torch(student, "leaky_relu", x, slope, variants={
                "the negative_slope argument is ignored (0.01 used whatever was passed)":
                    F.leaky_relu(x, 0.01),
                "the slope multiplies the positive side instead of the negative one":
                    torch.where(x > 0, x * slope, x)})


@pytest.mark.points(1)
def test_sigmoid_matches_torch(student: Any) -> None:
    """sigmoid equals torch.sigmoid (float32 and float64)"""
    for dtype in DTYPES:
        x = sample(3, dtype=dtype)
        check_against_torch(student, "sigmoid", x, variants={
            "sign flipped: 1 / (1 + exp(x)) is sigmoid(-x)": torch.sigmoid(-x)})


@pytest.mark.points(1)
def test_tanh_matches_torch(student: Any) -> None:
    """tanh equals torch.tanh (float32 and float64)"""
    for dtype in DTYPES:
        x = sample(4, dtype=dtype)
        check_against_torch(student, "tanh", x, variants={
            "2·sigmoid(x) - 1 is tanh(x/2): tanh(x) = 2·sigmoid(2x) - 1":
                2 * torch.sigmoid(x) - 1})


@pytest.mark.points(1)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "sigmoid_grad", "tanh_grad"])
@pytest.mark.hint("exp(89.0) is inf in float32 (exp(710.0) in float64), and inf / inf is nan: "
                  "rewrite the formula so that exp() only sees -|x|")
def test_stable_for_large_inputs(student: Any, name: str) -> None:
    """finite and correct for |x| up to 1e4, in float32 and in float64"""
    for dtype in DTYPES:
        x = torch.tensor(EXTREMES, dtype=dtype)
        expected = torch_value(name, x)
        what = f"{name}(x) for x = ±1e4 ... 0 ({dtype})"
        got = require_tensor(call(student, name, x), what, shape=tuple(x.shape))
        check_values(got, expected, what)


# --- gradients ------------------------------------------------------------------------------------

def grad_input(seed: int) -> Tensor:
    x = sample(seed, shape=(4, 9), dtype=torch.float64)
    x[0, :3] = 0.0
    return x


@pytest.mark.points(1)
def test_relu_grad_matches_autograd(student: Any) -> None:
    """relu_grad equals autograd's derivative of torch.relu, 0 at x == 0 (float64)"""
    x = grad_input(11)
    assert_gradient_close(student.relu_grad(x), torch_value("relu_grad", x),
                          "relu_grad(x) against autograd of torch.relu", known_bugs={
                              "relu_grad is 1 at x == 0, where torch's autograd uses 0 (x > 0, "
                              "not x >= 0)": (x >= 0).double(),
                              "returned relu(x) itself, not its derivative": torch.relu(x)})


@pytest.mark.points(1)
def test_leaky_relu_grad_matches_autograd(student: Any) -> None:
    """leaky_relu_grad equals autograd's derivative of F.leaky_relu (default and given slopes)"""
    x = grad_input(12)
    assert_gradient_close(student.leaky_relu_grad(x), torch_value("leaky_relu_grad", x),
                          "leaky_relu_grad(x) against autograd of F.leaky_relu(x, 0.01)")
    for slope in (0.2, 1.5):
        expected = torch_value("leaky_relu_grad", x, slope)
        assert_gradient_close(
            call(student, "leaky_relu_grad", x, slope), expected,
            f"leaky_relu_grad(x, negative_slope={slope}) against autograd", known_bugs={
                "the negative_slope argument is ignored (0.01 used whatever was passed)":
                    torch_value("leaky_relu_grad", x, 0.01),
                "at x == 0 torch's derivative is negative_slope (1 only where x > 0)":
                    torch.where(x >= 0, 1.0, slope).double()})


@pytest.mark.points(1)
def test_sigmoid_grad_matches_autograd(student: Any) -> None:
    """sigmoid_grad equals autograd's derivative of torch.sigmoid (float64)"""
    x = grad_input(13)
    s = torch.sigmoid(x)
    assert_gradient_close(student.sigmoid_grad(x), torch_value("sigmoid_grad", x),
                          "sigmoid_grad(x) against autograd of torch.sigmoid", known_bugs={
                              "returned sigmoid(x) itself: the derivative is "
                              "sigmoid(x) * (1 - sigmoid(x))": s,
                              "returned 1 - sigmoid(x): the derivative is "
                              "sigmoid(x) * (1 - sigmoid(x))": 1 - s})


@pytest.mark.points(1)
def test_tanh_grad_matches_autograd(student: Any) -> None:
    """tanh_grad equals autograd's derivative of torch.tanh (float64)"""
    x = grad_input(14)
    t = torch.tanh(x)
    assert_gradient_close(student.tanh_grad(x), torch_value("tanh_grad", x),
                          "tanh_grad(x) against autograd of torch.tanh", known_bugs={
                              "returned tanh(x) itself: the derivative is 1 - tanh(x)**2": t,
                              "used x where tanh(x) belongs: the derivative is 1 - tanh(x)**2, "
                              "not 1 - x**2": 1 - x ** 2,
                              "tanh(x) is not squared: the derivative is 1 - tanh(x)**2": 1 - t})


# --- dtype and inputs -----------------------------------------------------------------------------

@pytest.mark.points(1)
def test_functions_keep_dtype(student: Any) -> None:
    """every function returns the input's dtype (float32 stays float32, float64 stays float64)"""
    for dtype in DTYPES:
        result = student.probe("run_all", sample(5, (3, 4), dtype), 0.1)
        for name in FUNCTIONS:
            require_tensor(result["outputs"][name], f"{name}(x) on a {dtype} tensor",
                           shape=(3, 4), dtype=dtype)


@pytest.mark.points(1)
def test_functions_leave_input_unchanged(student: Any) -> None:
    """no function modifies its input tensor"""
    x = sample(6, (3, 4))
    result = student.probe("run_all", x, 0.1)
    for name in FUNCTIONS:
        assert_close(result["inputs_after"][name], x, f"the input after calling {name}(x)",
                     hint=f"{name} changed its argument in place (clamp_, mul_, x[...] = ..., "
                          "x *= ...): compute a new tensor instead")


# --- dead units -----------------------------------------------------------------------------------

def dead_problem() -> Tensor:
    """[6 samples, 10 units]: units 0 and 3 always negative, 5 always 0, 7 zero or negative."""
    g = torch.Generator().manual_seed(31)
    pre = torch.randn(6, 10, generator=g).abs() + 0.1
    pre[::2] *= -1  # the other units fire on samples 1, 3, 5 only: no unit fires on 0, 2, 4
    pre[:, 0] = -torch.rand(6, generator=g) - 0.1
    pre[:, 3] = -torch.rand(6, generator=g) - 0.1
    pre[:, 5] = 0.0
    pre[:, 7] = torch.tensor([0.0, -1.0, 0.0, -0.5, -2.0, 0.0])
    return pre


@pytest.mark.points(2)
def test_dead_relu_fraction_value(student: Any) -> None:
    """dead_relu_fraction: share of units (dim 1) never positive over the batch (dim 0)"""
    pre = dead_problem()
    got = student.dead_relu_fraction(pre)
    value = as_float(got, "dead_relu_fraction(pre_activations [6, 10])")
    expected = float((pre <= 0).all(dim=0).double().mean())
    bugs = {
        "the wrong dimension: that is the share of samples (rows) where no unit fires; a unit is "
        "a column, so reduce over dim 0": float((pre <= 0).all(dim=1).double().mean()),
        "exact zeros counted as alive: a pre-activation of 0 is not positive, ReLU outputs 0 "
        "there and passes no gradient (use <= 0)": float((pre < 0).all(dim=0).double().mean()),
        "a unit is dead only if it is never positive over the whole batch (all, not any)":
            float((pre <= 0).any(dim=0).double().mean()),
        "the share of entries <= 0, not of units": float((pre <= 0).double().mean()),
        "the number of dead units: return the fraction (divide by the number of units)":
            float((pre <= 0).all(dim=0).sum()),
    }
    if abs(value - expected) > 1e-6:
        hint = next((f"likely bug: {bug}" for bug, v in bugs.items() if abs(value - v) <= 1e-6),
                    "dead units: columns whose entries are all <= 0")
        raise GradingFailure(f"dead_relu_fraction on a [6, 10] batch with 4 dead units: expected "
                             f"{expected:.6g}, got {value:.6g}", hint=hint)
    if not isinstance(got, float):
        raise GradingFailure(f"dead_relu_fraction must return a Python float, got "
                             f"{type(got).__name__}", hint="return ....item() or float(...)")


# --- property-based tests -------------------------------------------------------------------------

Example = tuple[tuple[int, ...], str, list[float], float]
SPECIAL = [0.0, -0.0, 1e4, -1e4, 89.0, -89.0, 710.0, -710.0, 1e-7, -1e-7, 0.5, -0.5]
MAX_EXAMPLES = 25


def as_tensor(example: Example) -> tuple[Tensor, float]:
    shape, dtype_name, values, slope = example
    dtype = getattr(torch, dtype_name)
    return torch.tensor(values, dtype=dtype).reshape(shape), slope


def fallback_examples(seed: int) -> list[Example]:
    """Seeded examples, used when hypothesis is not installed."""
    g = torch.Generator().manual_seed(seed)
    found: list[Example] = []
    for i in range(MAX_EXAMPLES):
        shape = tuple(int(s) for s in torch.randint(1, 5, (i % 4,), generator=g))
        values = (torch.randn(math.prod(shape), generator=g, dtype=torch.float64)
                  * 10 ** float(torch.randint(0, 5, (), generator=g)))
        values.view(-1)[::3] = torch.tensor(SPECIAL, dtype=torch.float64)[i % len(SPECIAL)]
        found.append((shape, "float32" if i % 2 else "float64", values.tolist(),
                      [0.0, 0.01, 0.3][i % 3]))
    return found


def activation_inputs() -> Any:
    @st.composite
    def draw_example(draw: Any) -> Example:
        dtype = draw(st.sampled_from(["float32", "float64"]))
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
        width = 32 if dtype == "float32" else 64
        value = st.one_of(st.sampled_from(SPECIAL),
                          st.floats(-1e4, 1e4, width=width, allow_subnormal=False))
        values = draw(st.lists(value, min_size=math.prod(shape), max_size=math.prod(shape)))
        slope = draw(st.sampled_from([0.0, 0.01, 0.1, 0.3]))
        return shape, dtype, values, slope

    return draw_example()


def fallback_dead_examples(seed: int) -> list[Example]:
    """Seeded [batch, units] examples, used when hypothesis is not installed."""
    g = torch.Generator().manual_seed(seed)
    found: list[Example] = []
    for i in range(MAX_EXAMPLES):
        batch, units = (int(v) for v in torch.randint(1, 7, (2,), generator=g))
        pre = torch.randn(batch, units, generator=g, dtype=torch.float64).round()
        dead = torch.rand(units, generator=g) < 0.4
        pre[:, dead] = -pre[:, dead].abs()
        found.append(((batch, units), "float32" if i % 2 else "float64",
                      pre.flatten().tolist(), 0.0))
    return found


def run_property(check: Callable[[Example], None], strategy: Callable[[], Any],
                 fallback: Callable[[], list[Example]]) -> None:
    """``check`` on hypothesis's examples (derandomized, no shrinking), or on seeded ones."""
    if st is None:
        for example in fallback():
            check(example)
        return

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              print_blob=False, report_multiple_bugs=False)
    @given(strategy())
    def run(example: Example) -> None:
        check(example)

    try:
        run()
    except GradingFailure:
        raise
    except Exception as error:
        inner = getattr(error, "exceptions", None)  # hypothesis's group (e.g. a flaky failure)
        if not inner:
            raise
        if isinstance(inner[0], GradingFailure):
            raise inner[0] from None
        raise GradingFailure(f"the property test failed inconsistently: {inner[0]}",
                             hint="does your code depend on random numbers or global "
                                  "state?") from None


@pytest.mark.points(2)
def test_property_functions_match_torch(student: Any) -> None:
    """property: every activation matches torch for any shape, dtype and value up to |x| = 1e4"""

    def check(example: Example) -> None:
        x, slope = as_tensor(example)
        result = student.probe("run_all", x, slope)
        for name in ("relu", "leaky_relu", "sigmoid", "tanh"):
            args = f", negative_slope={slope}" if name in SLOPED else ""
            check_values(result["outputs"][name], torch_value(name, x, slope),
                         f"{name}(x{args}) for a {x.dtype} x of shape {list(x.shape)} "
                         f"(values {x.flatten()[:6].tolist()}...)")

    run_property(check, activation_inputs, lambda: fallback_examples(41))


@pytest.mark.points(1)
def test_property_gradients_match_autograd(student: Any) -> None:
    """property: every *_grad matches autograd of torch's function for any shape and dtype"""

    def check(example: Example) -> None:
        x, slope = as_tensor(example)
        result = student.probe("run_all", x, slope)
        for name in ("relu_grad", "leaky_relu_grad", "sigmoid_grad", "tanh_grad"):
            args = f", negative_slope={slope}" if name in SLOPED else ""
            check_values(result["outputs"][name], torch_value(name, x, slope),
                         f"{name}(x{args}) for a {x.dtype} x of shape {list(x.shape)} "
                         f"(values {x.flatten()[:6].tolist()}...)")

    run_property(check, activation_inputs, lambda: fallback_examples(42))


def dead_inputs() -> Any:
    @st.composite
    def draw_example(draw: Any) -> Example:
        dtype = draw(st.sampled_from(["float32", "float64"]))
        batch, units = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        dead = draw(st.lists(st.booleans(), min_size=units, max_size=units))
        value = st.one_of(st.just(0.0), st.floats(-5, 5, width=32, allow_subnormal=False))
        rows = [[-abs(draw(value)) if dead[j] else draw(value) for j in range(units)]
                for _ in range(batch)]
        return (batch, units), dtype, [v for row in rows for v in row], 0.0

    return draw_example()


@pytest.mark.points(1)
def test_property_dead_relu_fraction(student: Any) -> None:
    """property: dead_relu_fraction is right for any batch size, number of units and dtype"""

    def check(example: Example) -> None:
        pre, _ = as_tensor(example)
        expected = float((pre <= 0).all(dim=0).double().mean())
        got = as_float(student.dead_relu_fraction(pre),
                       f"dead_relu_fraction on a {pre.dtype} batch of shape {list(pre.shape)}")
        if abs(got - expected) > 1e-6:
            raise GradingFailure(f"dead_relu_fraction on a {pre.dtype} batch of shape "
                                 f"{list(pre.shape)} ({pre.tolist()}): expected {expected:.6g}, "
                                 f"got {got:.6g}",
                                 hint="dead units: columns (dim 1) whose entries are all <= 0 "
                                      "over the batch (dim 0)")

    run_property(check, dead_inputs, lambda: fallback_dead_examples(43))


# --- rules ----------------------------------------------------------------------------------------

FORBIDDEN_SOURCE = [
    "torch.sigmoid", "torch.sigmoid_", "torch.tanh", "torch.tanh_", "torch.relu", "torch.relu_",
    "torch.rrelu", "torch.nn.functional", "torch.special", "torch.nn.ReLU", "torch.nn.Sigmoid",
    "torch.nn.Tanh", "torch.nn.LeakyReLU", "torch.nn.modules.activation", "torch._C",
    "torch.ops", "numpy.tanh", "math.tanh", "scipy.special",
]
FORBIDDEN_METHODS = ["sigmoid", "sigmoid_", "tanh", "tanh_", "relu", "relu_"]
RULE = ("this exercise asks you to build the activations yourself from torch.exp, torch.where, "
        "torch.clamp and arithmetic: no torch.sigmoid / torch.tanh / torch.relu (nor the "
        ".sigmoid() / .tanh() / .relu() methods), torch.nn.functional, torch.special")


def require_started(student: Any) -> None:
    """A file where nothing is implemented yet is "not started", not a rule violation."""
    if not student.probe("implemented", torch.zeros(2, 3)):
        student.relu(torch.zeros(2, 3))  # raises the stub's NotImplementedError


@pytest.mark.points(2)
def test_no_builtin_activations_in_source(student: Any, student_file: Any) -> None:
    """rule: the source uses no built-in sigmoid/tanh/relu, torch.nn.functional, torch.special"""
    require_started(student)
    assert_no_forbidden(student_file, FORBIDDEN_SOURCE, methods=FORBIDDEN_METHODS, why=RULE)


@pytest.mark.points(2)
def test_no_builtin_activations_at_run_time(student: Any) -> None:
    """rule: everything still works with torch's built-in activations switched off"""
    x, pre = sample(7, (4, 5)), dead_problem()
    result = student.probe("run_without_builtins", x, 0.1, pre)
    used = sorted(set(result["used"]))
    if used:
        raise GradingFailure(f"your functions called {', '.join(used)} while running",
                             hint=RULE)
    for name in FUNCTIONS:
        check_values(result["outputs"][name], torch_value(name, x, 0.1),
                     f"{name}(x) with the built-in activations switched off")
    assert_close(torch.tensor(as_float(result["outputs"]["dead_relu_fraction"],
                                       "dead_relu_fraction")),
                 torch.tensor(float((pre <= 0).all(dim=0).double().mean())),
                 "dead_relu_fraction with the built-in activations switched off")
