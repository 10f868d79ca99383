"""Tensor and gradient assertions: what a student reads when a check fails."""

from __future__ import annotations

import pytest
import torch

from loopgrader.checks import (
    as_float,
    assert_close,
    assert_gradient_close,
    assert_scalar_close,
    central_difference,
    require_tensor,
)
from loopgrader.checks.failures import GradingFailure


def failure(fn: object, *args: object, **kwargs: object) -> GradingFailure:
    with pytest.raises(GradingFailure) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value


def test_close_tensors_pass_and_are_returned() -> None:
    t = torch.ones(3)
    assert assert_close(t.clone(), t, "x") is not None


def test_not_a_tensor() -> None:
    assert "expected a tensor, got list" in failure(require_tensor, [1, 2], "f(x)").message


def test_shape_messages_and_hints() -> None:
    err = failure(assert_close, torch.zeros(5, 1), torch.zeros(5), "predict(X)")
    assert err.message == "predict(X): expected shape [5], got [5, 1]"
    assert err.hint is not None and "extra dimension of size 1" in err.hint
    err = failure(assert_close, torch.zeros(3, 2), torch.zeros(2, 3), "W")
    assert err.hint is not None and "transposed" in err.hint


def test_dtype_message() -> None:
    err = failure(assert_close, torch.zeros(2), torch.zeros(2, dtype=torch.float64), "f(x)")
    assert err.message == "f(x): expected dtype float64, got float32"


def test_nan_is_reported_before_values() -> None:
    got = torch.tensor([1.0, float("nan"), 3.0])
    err = failure(assert_close, got, torch.ones(3), "sigmoid(x)")
    assert "1 of 3 entries are nan or inf" in err.message and "index [1]" in err.message


def test_worst_entry_is_named() -> None:
    got = torch.tensor([[1.0, 2.0], [3.0, 9.0]])
    err = failure(assert_close, got, torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "A")
    assert err.message == "A: 1 of 4 entries differ; worst at index [1, 1]: expected 4, got 9"


def test_scalars() -> None:
    assert as_float(torch.tensor(2.5), "loss") == 2.5
    assert "expected a number, got str" in failure(as_float, "2.5", "loss").message
    assert "expected a single number" in failure(as_float, torch.ones(2), "loss").message
    assert failure(assert_scalar_close, 1.0, 2.0, "loss").message == "loss: expected 2, got 1"


def _grad_problem() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=g, dtype=torch.float64)
    r = torch.randn(10, generator=g, dtype=torch.float64)
    return X, 2 / 10 * X.T @ r


@pytest.mark.parametrize("factor,phrase", [(-1.0, "sign is flipped"), (0.5, "factor 2 is missing"),
                                           (2.0, "factor 2 too many"),
                                           (10.0, "summed over the batch"),
                                           (0.1, "divided by the batch size twice")],
                         ids=["sign", "half", "double", "sum", "double-mean"])
def test_gradient_bugs_are_named(factor: float, phrase: str) -> None:
    _, true = _grad_problem()
    err = failure(assert_gradient_close, true * factor, true, "dL/dw", batch_size=10)
    assert err.hint is not None and phrase in err.hint
    assert "median got/expected ratio" in err.message


def test_a_median_ratio_alone_names_no_bug() -> None:
    """Half the entries doubled and half tripled: the median is 2, but no factor 2 explains it."""
    true = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=torch.float64)
    got = true * torch.tensor([2.0, 2.0, 2.0, 2.0, 3.0, 3.0], dtype=torch.float64)
    err = failure(assert_gradient_close, got, true, "dL/dw")
    assert err.hint is None, err.hint
    assert "median got/expected ratio 2" in err.message


def test_transposed_gradient_is_named() -> None:
    true = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    err = failure(assert_gradient_close, true.T.contiguous(), true, "dW")
    assert err.hint is not None and "transposed" in err.hint


def test_known_bug_variants_are_named() -> None:
    _, true = _grad_problem()
    buggy = true + 0.3
    err = failure(assert_gradient_close, buggy.clone(), true, "dW1",
                  known_bugs={"the ReLU mask is missing": buggy})
    assert err.hint == "likely bug: the ReLU mask is missing"


def test_central_difference_is_second_order_accurate() -> None:
    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    got = central_difference(lambda v: (v ** 3).sum(), x)
    assert torch.allclose(got, 3 * x ** 2, rtol=1e-8, atol=1e-8)
    assert x.tolist() == [0.3, -1.2, 2.0]
