"""Graders for lesson 3.4 — gradient norms, LayerNorm, a pre-norm residual block, clipping.

LayerNorm and clipping are compared with torch (``nn.LayerNorm``,
``torch.nn.utils.clip_grad_norm_``) in float64, values and gradients, while torch's own versions
refuse to run beside the student's code. The residual block gets known parameter values (its
layers found by type, Linears in the order its forward pass calls them) and is compared with
``x + f(LayerNorm(x))`` computed here; a mismatch is compared with the usual wrong wirings.
"""

from __future__ import annotations

import math
from typing import Any, cast

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from loopgrader.checks import (
    GradingFailure,
    as_float,
    assert_close,
    assert_gradient_close,
    require_tensor,
)
from loopgrader.checks.failures import StudentError
from loopgrader.checks.source import assert_no_forbidden
from loopgrader.checks.tensors import fmt_shape

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


PRECISION = ("likely bug: a precision (dtype) problem, not the formula: the values agree "
             "with the float64 result only to float32 accuracy, so the computation ran in float32 "
             "(a .float(), a float32 tensor or parameter) and was cast back to float64; compute "
             "in the input's dtype")


def float32_accurate(got: Any, expected: Tensor) -> bool:
    """Wrong at float64 tolerance but right at float32's: a dtype problem, not a formula."""
    return (isinstance(got, Tensor) and got.shape == expected.shape
            and got.dtype == F64 and expected.dtype == F64
            and torch.allclose(got, expected, rtol=1e-4, atol=1e-5))


def gradient_close(got: Any, expected: Tensor, what: str, **options: Any) -> None:
    """assert_gradient_close, naming float32 accuracy as a precision problem."""
    try:
        assert_gradient_close(got, expected, what, **options)
    except GradingFailure as failure:
        if failure.hint is None and float32_accurate(got, expected):
            raise GradingFailure(failure.message, hint=PRECISION) from None
        raise


def assert_close_diff(got: Any, expected: Tensor, what: str, *, rtol: float, atol: float,
                      hint: str | None) -> None:
    """assert_close, with the largest difference added (printed values can look equal)."""
    try:
        assert_close(got, expected, what, rtol=rtol, atol=atol, hint=hint)
    except GradingFailure as failure:
        gap = float((got.detach().to(F64) - expected.to(F64)).abs().max())
        raise GradingFailure(f"{failure.message} (largest difference {gap:.3g})",
                             hint=failure.hint) from None


def probe_dict(student: Any, name: str, *args: Any, what: str, **kwargs: Any) -> dict[str, Any]:
    result = student.probe(name, *args, **kwargs)
    if not isinstance(result, dict):
        raise GradingFailure(f"{what}: the run could not be recorded")
    return result


# --- grad_norms --------------------------------------------------------------------------------
def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def norms_problem(seed: int, sizes: list[int], frozen: list[str],
                  used: int) -> tuple[dict[str, Tensor], Tensor, dict[str, Tensor]]:
    """A model's state, inputs, and the gradients the probe's backward will produce."""
    torch.manual_seed(seed)
    model = mlp(sizes).double()
    X = torch.randn(9, sizes[0], generator=gen(seed), dtype=F64)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)
    out = X
    for layer in list(model)[:used]:
        out = layer(out)
    (out ** 2).mean().backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    return state, X, grads


def student_norms(student: Any, sizes: list[int], state: dict[str, Tensor], X: Tensor,
                  frozen: list[str], used: int, what: str) -> dict[str, float]:
    got = student.probe("norms_after_backward", sizes, state, X, frozen, used)
    if not isinstance(got, dict):
        raise GradingFailure(f"{what}: expected a dict {{name: norm}}, got {type(got).__name__}")
    bad = [k for k, v in got.items() if not isinstance(v, float)]
    if bad:
        raise GradingFailure(f"{what}: the norm of {bad[0]!r} is a {type(got[bad[0]]).__name__}, "
                             "not a Python float", hint="convert with .item() (or float(...))")
    return {str(k): float(v) for k, v in got.items()}


@pytest.mark.points(2)
def test_grad_norms_values(student: Any) -> None:
    """grad_norms gives the L2 norm of each parameter's gradient, keyed by parameter name"""
    sizes = [5, 7, 3]
    state, X, grads = norms_problem(0, sizes, [], 3)
    what = "grad_norms(model) after a backward pass"
    got = student_norms(student, sizes, state, X, [], 3, what)
    if set(got) != set(grads):
        raise GradingFailure(f"{what}: expected the keys {sorted(grads)}, got {sorted(got)}",
                             hint="use the names from model.named_parameters()")
    variants = {
        "these are squared norms: take the square root of the sum of squares":
            {k: float((g ** 2).sum()) for k, g in grads.items()},
        "these are the norms of the parameters themselves: measure p.grad":
            {k: float(state[k].norm()) for k in grads},
        "these are L1 norms (sum of |g|); the L2 norm is sqrt(sum of g²)":
            {k: float(g.abs().sum()) for k, g in grads.items()},
    }
    for name, g in grads.items():
        expected = float(g.norm())
        if not math.isclose(got[name], expected, rel_tol=1e-9, abs_tol=1e-12):
            hint = next((f"likely bug: {text}" for text, values in variants.items()
                         if all(math.isclose(got[k], v, rel_tol=1e-9) for k, v in values.items())),
                        "the L2 norm of p.grad: p.grad.norm() (sqrt of the sum of squares)")
            raise GradingFailure(f"{what}: {name!r}: expected {expected:.8g}, got "
                                 f"{got[name]:.8g}", hint=hint)


@pytest.mark.points(1)
def test_grad_norms_omit_params_without_grad(student: Any) -> None:
    """grad_norms leaves out parameters without a gradient (frozen, or unused by the forward)"""
    sizes = [5, 7, 3, 3]
    frozen = ["0.weight"]
    state, X, grads = norms_problem(1, sizes, frozen, 3)
    what = "grad_norms(model) with a frozen weight and an unused layer"
    got = student_norms(student, sizes, state, X, frozen, 3, what)
    extra = sorted(set(got) - set(grads))
    if extra:
        raise GradingFailure(f"{what}: {extra} have no gradient (.grad is None) and must be "
                             "omitted", hint="skip parameters whose .grad is None")
    missing = sorted(set(grads) - set(got))
    if missing:
        raise GradingFailure(f"{what}: missing {missing}", hint="one entry per parameter whose "
                                                                ".grad is not None")
    for name, g in grads.items():
        if not math.isclose(got[name], float(g.norm()), rel_tol=1e-9, abs_tol=1e-12):
            raise GradingFailure(f"{what}: {name!r}: expected {float(g.norm()):.8g}, got "
                                 f"{got[name]:.8g}")


# --- LayerNorm ------------------------------------------------------------------------------------
LN_BUGS = {
    "unbiased": "the variance is the unbiased one (divided by n - 1); LayerNorm uses the biased "
                "variance: x.var(dim=-1, unbiased=False) or ((x - mean) ** 2).mean(-1)",
    "eps_outside": "eps is added outside the square root (std + eps); it belongs inside: "
                   "sqrt(var + eps)",
    "no_eps": "eps is missing: divide by sqrt(var + eps)",
    "no_sqrt": "divided by the variance, not by the standard deviation sqrt(var + eps)",
    "first_dim": "normalised over the first dimension; LayerNorm normalises over the last one "
                 "(dim=-1, keepdim=True)",
    "all_dims": "normalised over the whole tensor; LayerNorm normalises each vector along the "
                "last dimension (dim=-1, keepdim=True)",
    "no_affine": "weight and bias are not applied: return normalised * weight + bias",
}


def ln_variant(x: Tensor, weight: Tensor, bias: Tensor, eps: float, kind: str) -> Tensor:
    dims: Any = {"first_dim": 0, "all_dims": tuple(range(x.dim()))}.get(kind, -1)
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=kind == "unbiased", keepdim=True)
    centred = x - mean
    if kind == "eps_outside":
        y = centred / (var.sqrt() + eps)
    elif kind == "no_eps":
        y = centred / var.sqrt()
    elif kind == "no_sqrt":
        y = centred / (var + eps)
    else:
        y = centred / torch.sqrt(var + eps)
    return y if kind == "no_affine" else y * weight + bias


def torch_layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float,
                     upstream: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    ln = nn.LayerNorm(x.shape[-1], eps=eps, dtype=x.dtype)
    with torch.no_grad():
        ln.weight.copy_(weight)
        ln.bias.copy_(bias)
    xx = x.detach().clone().requires_grad_(True)
    out = ln(xx)
    out.backward(upstream)
    return (out.detach(), cast(Tensor, xx.grad), cast(Tensor, ln.weight.grad),
            cast(Tensor, ln.bias.grad))


def ln_inputs(seed: int, shape: tuple[int, ...],
              dtype: torch.dtype = F64) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Rows at very different scales (some tiny, so that eps matters) and offsets."""
    g = gen(seed)
    dim = shape[-1]
    scales = torch.tensor([1.0, 1e-3, 5.0, 1e-2, 0.3, 2.0], dtype=F64)
    rows = math.prod(shape[:-1])
    x = torch.randn(rows, dim, generator=g, dtype=F64) * scales.repeat(rows)[:rows, None] \
        + torch.randn(rows, 1, generator=g, dtype=F64)
    weight = 1 + 0.5 * torch.randn(dim, generator=g, dtype=F64)
    bias = 0.5 * torch.randn(dim, generator=g, dtype=F64)
    upstream = torch.randn(*shape, generator=g, dtype=F64)
    return (x.reshape(shape).to(dtype), weight.to(dtype), bias.to(dtype), upstream.to(dtype))


def run_layer_norm(student: Any, x: Tensor, weight: Tensor | None, bias: Tensor | None,
                   upstream: Tensor, eps: float | None, what: str) -> dict[str, Any]:
    result = probe_dict(student, "layer_norm_run", x.shape[-1], eps, weight, bias, x, upstream,
                        what=what)
    require_tensor(result.get("out"), what, shape=tuple(x.shape), dtype=x.dtype)
    return result


@pytest.mark.points(1)
def test_layernorm_parameters(student: Any) -> None:
    """LayerNorm(d) has learnable parameters weight (ones) and bias (zeros) of shape [d]"""
    dim = 7
    result = probe_dict(student, "fresh_layer_norm", dim, what=f"LayerNorm({dim})")
    params, attributes = result.get("params") or {}, result.get("attributes") or {}
    for name, fill in (("weight", 1.0), ("bias", 0.0)):
        if not attributes.get(name):
            raise GradingFailure(f"LayerNorm({dim}).{name} is missing or is not an nn.Parameter",
                                 hint=f"self.{name} = nn.Parameter(torch."
                                      f"{'ones' if fill else 'zeros'}(normalized_shape))")
        info = params.get(name) or {}
        if info.get("shape") != [dim] or not info.get("requires_grad"):
            raise GradingFailure(f"LayerNorm({dim}).{name}: expected a learnable parameter of "
                                 f"shape [{dim}], got shape {info.get('shape')} "
                                 f"(requires_grad={info.get('requires_grad')})")
        assert_close(info.get("value"), torch.full((dim,), fill),
                     f"LayerNorm({dim}).{name} when created", rtol=0, atol=0,
                     hint="weight starts at ones and bias at zeros, so a fresh LayerNorm only "
                          "normalises")
    if sorted(params) != ["bias", "weight"]:
        raise GradingFailure(f"LayerNorm({dim}) has the parameters {sorted(params)}; expected "
                             "exactly weight and bias")


def check_ln_forward(got: Tensor, x: Tensor, weight: Tensor, bias: Tensor, eps: float,
                     expected: Tensor, what: str) -> None:
    variants = {kind: ln_variant(x, weight, bias, eps, kind) for kind in LN_BUGS
                if not (kind == "first_dim" and x.dim() < 2)}
    bad = ~torch.isclose(got.to(F64), expected.to(F64), rtol=1e-7, atol=1e-9)
    if bool(bad.any()):
        hint = next((f"likely bug: {LN_BUGS[kind]}" for kind, v in variants.items()
                     if v.shape == got.shape and torch.allclose(got.to(F64), v, rtol=1e-6,
                                                                atol=1e-8)),
                    None)
        if hint is None and x.dtype == F64 and got.dtype == F64:
            in_f32 = ln_variant(x.float(), weight.float(), bias.float(), eps, "ok").to(F64)
            if torch.allclose(got, in_f32, rtol=1e-4, atol=1e-5):
                hint = PRECISION
        if hint is None:
            hint = ("(x - mean) / sqrt(var + eps) * weight + bias over the last dimension, "
                    "with the biased variance")
        assert_close_diff(got, expected, what, rtol=1e-7, atol=1e-9, hint=hint)


@pytest.mark.points(3)
@pytest.mark.parametrize("shape", [(6, 10), (2, 3, 10)], ids=["2d", "3d"])
def test_layernorm_forward_matches_torch(student: Any, shape: tuple[int, ...]) -> None:
    """LayerNorm's output equals nn.LayerNorm's (float64, rows of very different scales)"""
    x, weight, bias, upstream = ln_inputs(2, shape)
    what = f"LayerNorm(10)(x) on x of shape {fmt_shape(shape)}, float64"
    result = run_layer_norm(student, x, weight, bias, upstream, None, what)
    expected, _, _, _ = torch_layer_norm(x, weight, bias, 1e-5, upstream)
    check_ln_forward(result["out"], x, weight, bias, 1e-5, expected, what)


@pytest.mark.points(2)
def test_layernorm_gradients_match_torch(student: Any) -> None:
    """LayerNorm's gradients (input, weight, bias) equal nn.LayerNorm's in float64"""
    x, weight, bias, upstream = ln_inputs(3, (6, 10))
    what = "LayerNorm(10): gradient"
    result = run_layer_norm(student, x, weight, bias, upstream, None, what)
    _, gx, gw, gb = torch_layer_norm(x, weight, bias, 1e-5, upstream)

    def variant_grad(detach: str) -> Tensor:
        xx = x.clone().requires_grad_(True)
        mean = xx.mean(-1, keepdim=True)
        var = xx.var(-1, unbiased=False, keepdim=True)
        if detach == "mean":
            mean = mean.detach()
        else:
            var = var.detach()
        ((xx - mean) / torch.sqrt(var + 1e-5) * weight + bias).backward(upstream)
        return cast(Tensor, xx.grad)

    known = {"the mean is detached (or taken as a number with .item()), so no gradient flows "
             "through it": variant_grad("mean"),
             "the variance is detached (or computed under no_grad), so no gradient flows "
             "through it": variant_grad("var")}
    grads = result.get("grads") if isinstance(result.get("grads"), dict) else {}
    gradient_close(result.get("x_grad"), gx, f"{what} with respect to the input",
                          known_bugs=known)
    gradient_close(grads.get("weight"), gw, f"{what} with respect to weight")
    gradient_close(grads.get("bias"), gb, f"{what} with respect to bias")


@pytest.mark.points(1)
def test_layernorm_float32_and_eps(student: Any) -> None:
    """LayerNorm keeps float32 inputs float32, and uses the eps it is given (eps=0.1)"""
    g = gen(4)
    x = 2 * torch.randn(6, 16, generator=g) + 0.5
    upstream = torch.randn(6, 16, generator=g)
    what = "LayerNorm(16) on float32 x"
    result = run_layer_norm(student, x, None, None, upstream, None, what)
    ones, zeros = torch.ones(16), torch.zeros(16)
    expected, _, _, _ = torch_layer_norm(x, ones, zeros, 1e-5, upstream)
    assert_close(result["out"], expected, what, rtol=1e-4, atol=1e-5)
    x64, weight, bias, upstream = ln_inputs(5, (6, 10))
    what = "LayerNorm(10, eps=0.1)(x), float64"
    result = run_layer_norm(student, x64, weight, bias, upstream, 0.1, what)
    expected, _, _, _ = torch_layer_norm(x64, weight, bias, 0.1, upstream)
    default_eps, _, _, _ = torch_layer_norm(x64, weight, bias, 1e-5, upstream)
    got = result["out"]
    if not torch.allclose(got, expected, rtol=1e-7, atol=1e-9) \
            and torch.allclose(got, default_eps, rtol=1e-7, atol=1e-9):
        raise GradingFailure(f"{what}: the output is the one for eps=1e-5: the eps passed to "
                             "the constructor was not used",
                             hint="store eps in __init__ (self.eps = eps) and use it in forward")
    check_ln_forward(got, x64, weight, bias, 0.1, expected, what)


@pytest.mark.points(1)
def test_layernorm_written_by_hand(student: Any, student_file: Any) -> None:
    """LayerNorm is written by hand: no F.layer_norm / torch.layer_norm / nn.LayerNorm"""
    x, weight, bias, upstream = ln_inputs(6, (3, 10))
    run_layer_norm(student, x, weight, bias, upstream, None, "LayerNorm(10)(x)")
    assert_no_forbidden(student_file, ["torch.nn.functional.layer_norm", "torch.layer_norm",
                                       "torch.native_layer_norm", "torch.nn.LayerNorm",
                                       "torch.nn.modules.normalization"],
                        why="compute the mean and variance yourself with tensor operations")


# --- ResidualBlock ----------------------------------------------------------------------------
DIM = 6


def block_values(seed: int) -> dict[str, Tensor]:
    g = gen(seed)
    values = {"norm.weight": 1 + 0.3 * torch.randn(DIM, generator=g, dtype=F64),
              "norm.bias": 0.3 * torch.randn(DIM, generator=g, dtype=F64)}
    for i in (1, 2):
        values[f"fc{i}.weight"] = torch.randn(DIM, DIM, generator=g, dtype=F64) / math.sqrt(DIM)
        values[f"fc{i}.bias"] = 0.5 * torch.randn(DIM, generator=g, dtype=F64)
    return values


def block_forward(v: dict[str, Tensor], x: Tensor, kind: str = "correct") -> Tensor:
    def norm(z: Tensor) -> Tensor:
        return F.layer_norm(z, (DIM,), v["norm.weight"], v["norm.bias"], 1e-5)

    def f(z: Tensor, relu: bool = True) -> Tensor:
        h = F.linear(z, v["fc1.weight"], v["fc1.bias"])
        return F.linear(torch.relu(h) if relu else h, v["fc2.weight"], v["fc2.bias"])

    return {"correct": lambda: x + f(norm(x)),
            "no_skip": lambda: f(norm(x)),
            "post_norm": lambda: norm(x + f(x)),
            "skip_from_norm": lambda: norm(x) + f(norm(x)),
            "no_norm": lambda: x + f(x),
            "no_relu": lambda: x + f(norm(x), relu=False),
            "relu_at_end": lambda: x + torch.relu(f(norm(x)))}[kind]()


BLOCK_BUGS = {
    "no_skip": "the skip connection is missing: return x + f(norm(x)), not f(norm(x))",
    "post_norm": "the LayerNorm comes after the addition (post-norm, norm(x + f(x))); this "
                 "block is pre-norm: x + f(norm(x))",
    "skip_from_norm": "the skip connection adds the normalised x; add the block's input: "
                      "x + f(norm(x))",
    "no_norm": "the LayerNorm is not applied before f: x + f(norm(x))",
    "no_relu": "the ReLU between the two Linear layers is missing",
    "relu_at_end": "a ReLU is applied to f's output; f is Linear → ReLU → Linear",
}


def run_block(student: Any, seed: int) -> tuple[dict[str, Any], dict[str, Tensor], Tensor,
                                                Tensor]:
    values = block_values(seed)
    g = gen(seed + 100)
    x = torch.randn(5, DIM, generator=g, dtype=F64)
    upstream = torch.randn(5, DIM, generator=g, dtype=F64)
    what = f"ResidualBlock({DIM})"
    result = probe_dict(student, "residual_block_run", DIM, values, x, upstream, what=what)
    structure = result.get("structure") or {}
    linears = structure.get("linears", [])
    if structure.get("norms") != 1 or len(linears) != 2 or any(s != [DIM, DIM] for s in linears):
        raise GradingFailure(f"{what} must contain one LayerNorm and two nn.Linear({DIM}, {DIM}); "
                             f"found {structure.get('norms')} LayerNorm(s) and Linear layers "
                             f"of shapes {linears}",
                             hint="self.norm = LayerNorm(dim), then f = Linear(dim, dim) → "
                                  "ReLU → Linear(dim, dim)")
    expected_params = 2 * DIM + 2 * (DIM * DIM + DIM)
    if structure.get("n_params") != expected_params:
        raise GradingFailure(f"{what} has {structure.get('n_params')} parameters; expected "
                             f"{expected_params} (one LayerNorm and two Linear layers)")
    return result, values, x, upstream


@pytest.mark.points(3)
def test_residual_block_forward(student: Any) -> None:
    """ResidualBlock computes x + Linear(ReLU(Linear(LayerNorm(x)))) (float64)"""
    result, values, x, _ = run_block(student, 7)
    expected = block_forward(values, x)
    got = require_tensor(result.get("out"), f"ResidualBlock({DIM})(x)", shape=(5, DIM),
                         dtype=F64)
    if not torch.allclose(got, expected, rtol=1e-7, atol=1e-9):
        hint = next((f"likely bug: {text}" for kind, text in BLOCK_BUGS.items()
                     if torch.allclose(got, block_forward(values, x, kind), rtol=1e-6,
                                       atol=1e-8)),
                    PRECISION if float32_accurate(got, expected)
                    else "forward(x) = x + fc2(relu(fc1(norm(x))))")
        assert_close_diff(got, expected, f"ResidualBlock({DIM})(x) with known parameter values",
                          rtol=1e-7, atol=1e-9, hint=hint)


@pytest.mark.points(2)
def test_residual_block_gradients(student: Any) -> None:
    """ResidualBlock's gradients (input and every parameter) equal autograd's on x + f(norm(x))"""
    result, values, x, upstream = run_block(student, 8)
    leaves = {k: v.clone().requires_grad_(True) for k, v in values.items()}
    xx = x.clone().requires_grad_(True)
    block_forward(leaves, xx).backward(upstream)
    through_f = x.clone().requires_grad_(True)
    block_forward(values, through_f, "no_skip").backward(upstream)
    gradient_close(result.get("x_grad"), cast(Tensor, xx.grad),
                          f"ResidualBlock({DIM}): gradient with respect to the input",
                          known_bugs={"the skip connection carries no gradient (is x detached?)"
                                      ": the input's gradient must include the upstream "
                                      "gradient itself": cast(Tensor, through_f.grad)})
    grads = result.get("grads") if isinstance(result.get("grads"), dict) else {}
    for name, leaf in leaves.items():
        gradient_close(grads.get(name), cast(Tensor, leaf.grad),
                              f"ResidualBlock({DIM}): gradient of {name.replace('fc', 'Linear ')}")


# --- a deep residual stack ------------------------------------------------------------------
def plain_ratio(dim: int, depth: int, x: Tensor, r: Tensor) -> float:
    """First/last weight-gradient norms of the same stack without LayerNorm and skips."""
    torch.manual_seed(13)
    plain = nn.Sequential(*[nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
                            for _ in range(depth)]).double()
    (plain(x) * r).sum().backward()
    first, last = cast(Tensor, plain[0][0].weight.grad), cast(Tensor, plain[-1][2].weight.grad)
    return float(first.norm() / last.norm())


@pytest.mark.points(2)
def test_deep_residual_stack_keeps_first_layer_gradient(student: Any) -> None:
    """In 20 stacked ResidualBlocks the first layer's gradient survives (a plain stack's
    vanishes)"""
    dim, depth = 32, 20
    g = gen(14)
    x = torch.randn(16, dim, generator=g, dtype=F64)
    r = torch.randn(16, dim, generator=g, dtype=F64)
    result = probe_dict(student, "deep_stacks", dim, depth, x, r, 15,
                        what=f"{depth} stacked ResidualBlock({dim})")
    direct = result.get("direct") or {}
    first, last = result.get("first"), result.get("last")
    if first not in direct or last not in direct:
        raise GradingFailure(f"{depth} stacked ResidualBlock({dim}): the first or last Linear "
                             "layer received no gradient")
    got = result.get("student")
    if not isinstance(got, dict) or set(got) != set(direct) or not all(
            math.isclose(as_float(got[k], f"grad_norms[{k!r}]"), v, rel_tol=1e-6)
            for k, v in direct.items()):
        raise GradingFailure(f"grad_norms on {depth} stacked ResidualBlock({dim}) does not "
                             "match the norms of the gradients",
                             hint="one entry per parameter with a gradient: its .grad.norm()")
    ratio = direct[first] / max(direct[last], 1e-300)
    plain = plain_ratio(dim, depth, x, r)
    if ratio < 0.1:
        raise GradingFailure(f"{depth} stacked ResidualBlock({dim}): the first Linear layer's "
                             f"gradient norm is {ratio:.3g}× the last one's (expected at least "
                             f"0.1×; the plain stack without skips gets {plain:.2g}×)",
                             hint="the skip connection must pass the gradient straight back: "
                                  "x + f(norm(x)), with x itself (not detached, not normalised)")


# --- clipping ----------------------------------------------------------------------------------
def clip_problem(seed: int) -> tuple[list[Tensor], list[Tensor | None]]:
    g = gen(seed)
    shapes = [(4, 3), (5,), (2, 2), (3,)]
    values = [torch.randn(s, generator=g, dtype=F64) for s in shapes]
    grads: list[Tensor | None] = [3 * torch.randn(s, generator=g, dtype=F64) for s in shapes]
    grads[3] = None
    return values, grads


def torch_clip(values: list[Tensor], grads: list[Tensor | None],
               max_norm: float) -> tuple[float, list[Tensor | None]]:
    params = [nn.Parameter(v.clone()) for v in values]
    for p, gr in zip(params, grads, strict=True):
        p.grad = None if gr is None else gr.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return float(total), [p.grad for p in params]


def run_clip(student: Any, values: list[Tensor], grads: list[Tensor | None], max_norm: float,
             what: str, as_generator: bool = False) -> tuple[float, list[Any]]:
    try:
        result = probe_dict(student, "clip_run", values, grads, max_norm,
                            as_generator=as_generator, what=what)
    except StudentError as error:
        if error.not_implemented or "NoneType" not in error.message:
            raise
        raise GradingFailure(f"{what}: {error.message}",
                             hint="skip parameters whose .grad is None") from None
    total = result.get("total")
    if not isinstance(total, float):
        raise GradingFailure(f"{what}: must return the total norm as a Python float, got "
                             f"{type(total).__name__}", hint="return float(total) or "
                                                             "total.item()")
    got_grads = result.get("grads")
    if not isinstance(got_grads, list) or len(got_grads) != len(grads):
        raise GradingFailure(f"{what}: the gradients could not be read back")
    return total, got_grads


def check_clipped_grads(got: list[Any], expected: list[Tensor | None], what: str,
                        known: dict[str, list[Tensor | None]]) -> None:
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if e is None:
            if g is not None:
                raise GradingFailure(f"{what}: parameter {i} had no gradient and must keep "
                                     ".grad = None")
            continue
        bugs = {text: v[i] for text, v in known.items() if v[i] is not None}
        assert_gradient_close(g, e, f"{what}: gradient of parameter {i} after clipping",
                              rtol=1e-9, atol=1e-12, known_bugs=bugs)


@pytest.mark.points(3)
def test_clip_grad_norm_matches_torch(student: Any) -> None:
    """clip_grad_norm returns the total norm before clipping and scales every gradient as
    torch.nn.utils.clip_grad_norm_ does"""
    values, grads = clip_problem(16)
    max_norm = 1.0
    what = f"clip_grad_norm(params, max_norm={max_norm})"
    total, got = run_clip(student, values, grads, max_norm, what)
    exp_total, exp_grads = torch_clip(values, grads, max_norm)
    present = [g for g in grads if g is not None]
    if not math.isclose(total, exp_total, rel_tol=1e-9):
        clipped_total = math.sqrt(sum(float((g ** 2).sum()) for g in got if g is not None))
        hints = {"the returned norm is the one after clipping; return the total norm "
                 "measured before scaling": clipped_total,
                 "the total is the sum of the per-parameter norms; it is the norm of all "
                 "gradients together, sqrt(sum of every g²)": sum(float(g.norm())
                                                                  for g in present),
                 "the square root is missing: the total is sqrt(sum of every g²)":
                 exp_total ** 2}
        hint = next((f"likely bug: {text}" for text, value in hints.items()
                     if math.isclose(total, value, rel_tol=1e-6)),
                    "total = sqrt(sum over all gradients of sum(g ** 2))")
        raise GradingFailure(f"{what}: returned total norm: expected {exp_total:.8g}, got "
                             f"{total:.8g}", hint=hint)
    per_param = [None if g is None else g * min(1.0, max_norm / (float(g.norm()) + 1e-6))
                 for g in grads]
    no_eps = [None if g is None else g * max_norm / exp_total for g in grads]
    check_clipped_grads(got, exp_grads, what, {
        "each gradient was clipped by its own norm; scale all of them by one factor, "
        "max_norm / (total + 1e-6), from the total norm": per_param,
        "the factor is max_norm / total; the contract (and torch) use max_norm / (total + 1e-6)":
            no_eps})


@pytest.mark.points(1)
def test_clip_grad_norm_no_clipping_needed(student: Any) -> None:
    """When the total norm is below max_norm, clip_grad_norm leaves the gradients unchanged"""
    values, grads = clip_problem(17)
    max_norm = 100.0
    what = f"clip_grad_norm(params, max_norm={max_norm}) with a smaller total norm"
    total, got = run_clip(student, values, grads, max_norm, what)
    exp_total, exp_grads = torch_clip(values, grads, max_norm)
    if not math.isclose(total, exp_total, rel_tol=1e-9):
        raise GradingFailure(f"{what}: returned total norm: expected {exp_total:.8g}, got "
                             f"{total:.8g}")
    scaled_up = [None if g is None else g * max_norm / (exp_total + 1e-6) for g in grads]
    check_clipped_grads(got, exp_grads, what, {
        "the gradients were scaled up to max_norm: scale them only when max_norm / (total + "
        "1e-6) < 1": scaled_up})


@pytest.mark.points(1)
def test_clip_grad_norm_accepts_a_generator(student: Any) -> None:
    """clip_grad_norm works when given model.parameters() (a generator, iterable only once)"""
    values, grads = clip_problem(18)
    what = "clip_grad_norm((p for p in params), max_norm=1.0)"
    total, got = run_clip(student, values, grads, 1.0, what, as_generator=True)
    exp_total, exp_grads = torch_clip(values, grads, 1.0)
    unclipped: list[Tensor | None] = list(grads)
    hint_text = ("the parameters were iterated twice, but a generator is empty the second "
                 "time: turn it into a list first, params = list(parameters)")
    if not math.isclose(total, exp_total, rel_tol=1e-9):
        raise GradingFailure(f"{what}: returned total norm: expected {exp_total:.8g}, got "
                             f"{total:.8g}", hint=hint_text)
    check_clipped_grads(got, exp_grads, what, {hint_text: unclipped})


@pytest.mark.points(1)
def test_clip_grad_norm_written_by_hand(student: Any, student_file: Any) -> None:
    """clip_grad_norm does not call torch.nn.utils.clip_grad_norm_ (source and run time)"""
    values, grads = clip_problem(19)
    what = "clip_grad_norm(params, max_norm=1.0)"
    try:
        run_clip(student, values, grads, 1.0, what)
    except StudentError as error:
        if error.not_implemented or "is not allowed" not in error.message:
            raise
        raise GradingFailure(f"{what} called torch's clipping at run time:\n{error.message}",
                             hint="compute the total norm and scale the gradients yourself") \
            from None
    assert_no_forbidden(student_file, ["torch.nn.utils.clip_grad_norm_",
                                       "torch.nn.utils.clip_grad_norm",
                                       "torch.nn.utils.clip_grads_with_norm_",
                                       "torch.nn.utils.get_total_norm",
                                       "torch.nn.utils.clip_grad"],
                        why="compute the total norm and scale the gradients yourself")
