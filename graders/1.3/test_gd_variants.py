"""Graders for lesson 1.3 — batch, mini-batch and stochastic gradient descent.

iterate_minibatches is run on data whose rows encode their own index (X row i holds i, y row i
holds 1000 + i), so a lost, repeated or misaligned sample is visible, and its order is compared
with the reference's for the same generator state. train() is traced at run time (loop order,
one update per batch, which samples each forward pass received) and judged on outcomes computed
here: the loss of every update and the final weights against the reference's on the same seed.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import nn

from loopgrader.checks import (
    GradingFailure,
    ModuleSnapshot,
    as_float,
    assert_close,
    fmt_shape,
    require_tensor,
    unpack,
)
from loopgrader.checks.loop import LoopSummary, assert_loop_order
from loopgrader.checks.timing import (
    assert_timed_result,
    assert_timing,
    time_against_reference,
)

Y_OFFSET = 1000


# --- iterate_minibatches ---------------------------------------------------------------------

def indexed_data(n: int, d: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """X row i = [i, i + 0.25, -i, ...], y row i = [1000 + i]: every row names its sample."""
    index = torch.arange(n, dtype=torch.float32)
    X = torch.stack([index, index + 0.25, -index, *[index * 0 + k for k in range(d - 3)]],
                    dim=1)
    return X, (index + Y_OFFSET).unsqueeze(1)


def _batch_indices(batch: Any, X: torch.Tensor, where: str) -> tuple[list[int], list[int]]:
    """The sample indices of one (X_batch, y_batch) pair, read from the encoded rows."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise GradingFailure(f"{where}: expected a pair (X_batch, y_batch), got "
                             f"{type(batch).__name__}")
    xb = require_tensor(batch[0], f"{where}: X_batch")
    yb = require_tensor(batch[1], f"{where}: y_batch")
    if xb.dim() != 2 or xb.shape[1] != X.shape[1]:
        raise GradingFailure(f"{where}: X_batch must have shape [b, {X.shape[1]}], got "
                             f"{fmt_shape(xb)}", hint="index the rows of X: X[index]")
    if yb.dim() != 2 or yb.shape[1] != 1 or yb.shape[0] != xb.shape[0]:
        raise GradingFailure(f"{where}: y_batch must have shape [{xb.shape[0]}, 1], got "
                             f"{fmt_shape(yb)}", hint="index the rows of y: y[index]")
    x_index = xb[:, 0].round().long()
    if not bool(((x_index >= 0) & (x_index < X.shape[0])).all()) or \
            not torch.equal(xb.float(), X[x_index.clamp(0, X.shape[0] - 1)]):
        raise GradingFailure(f"{where}: X_batch holds rows that are not rows of X",
                             hint="select whole rows of X (X[index]) without changing them")
    y_index = (yb[:, 0] - Y_OFFSET).round().long()
    return x_index.tolist(), y_index.tolist()


def _passes(student: Any, X: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool,
            seed: int, n_passes: int) -> list[list[Any]]:
    got = student.probe("minibatch_passes", X, y, batch_size, shuffle, seed, n_passes)
    if not isinstance(got, list) or len(got) != n_passes or \
            not all(isinstance(p, list) for p in got):
        raise GradingFailure("iterate_minibatches must yield (X_batch, y_batch) pairs")
    return got


def _pass_order(batches: list[Any], X: torch.Tensor, what: str) -> list[list[int]]:
    """Per batch, the sample indices (X side), after checking each pair is aligned."""
    order = []
    for k, batch in enumerate(batches):
        x_index, y_index = _batch_indices(batch, X, f"{what}, batch {k}")
        if x_index != y_index:
            raise GradingFailure(
                f"{what}, batch {k}: X_batch and y_batch are not aligned: X rows of samples "
                f"{x_index[:8]} came with targets of samples {y_index[:8]}",
                hint="index X and y with the same permutation (one torch.randperm per pass, "
                     "used for both); shuffling them separately pairs inputs with other "
                     "samples' targets")
        order.append(x_index)
    return order


def _flat(order: list[list[int]]) -> list[int]:
    return [i for batch in order for i in batch]


def _describe(order: Sequence[int], limit: int = 12) -> str:
    more = ", ..." if len(order) > limit else ""
    return "[" + ", ".join(str(i) for i in order[:limit]) + more + "]"


def _reference_passes(reference: types.ModuleType, X: torch.Tensor, y: torch.Tensor,
                      batch_size: int, shuffle: bool, seed: int,
                      n_passes: int) -> list[list[list[int]]]:
    generator = torch.Generator().manual_seed(seed)
    return [[xb[:, 0].round().long().tolist() for xb, _ in
             reference.iterate_minibatches(X, y, batch_size, shuffle=shuffle,
                                           generator=generator)]
            for _ in range(n_passes)]


@pytest.mark.points(1)
@pytest.mark.parametrize("n,batch_size,expected", [(10, 4, 3), (12, 4, 3), (10, 10, 1),
                                                   (10, 1, 10), (3, 8, 1)],
                         ids=["10-by-4", "12-by-4", "full-batch", "sgd", "batch-larger-than-n"])
def test_updates_per_epoch_without_drop_last(student: Any, n: int, batch_size: int,
                                             expected: int) -> None:
    """updates_per_epoch counts ceil(N / B) batches, the last one possibly smaller"""
    got = student.updates_per_epoch(n, batch_size)
    what = f"updates_per_epoch({n}, {batch_size})"
    if isinstance(got, bool) or not isinstance(got, int):
        raise GradingFailure(f"{what}: expected an int, got {type(got).__name__} ({got!r:.40})",
                             hint="use integer arithmetic (//), not float division")
    if got != expected:
        hint = ("the smaller last batch is an update too: ceil(N / B)" if got == n // batch_size
                else "when B divides N there is no partial batch: ceil(N / B), not N // B + 1"
                if n % batch_size == 0 and got == n // batch_size + 1 else "ceil(N / B)")
        raise GradingFailure(f"{what}: expected {expected}, got {got}", hint=hint)


@pytest.mark.points(1)
@pytest.mark.parametrize("n,batch_size,expected", [(10, 4, 2), (12, 4, 3), (3, 8, 0),
                                                   (10, 1, 10)],
                         ids=["10-by-4", "12-by-4", "batch-larger-than-n", "sgd"])
def test_updates_per_epoch_with_drop_last(student: Any, n: int, batch_size: int,
                                          expected: int) -> None:
    """updates_per_epoch with drop_last=True counts only full batches: floor(N / B)"""
    got = student.updates_per_epoch(n, batch_size, drop_last=True)
    what = f"updates_per_epoch({n}, {batch_size}, drop_last=True)"
    if isinstance(got, bool) or not isinstance(got, int):
        raise GradingFailure(f"{what}: expected an int, got {type(got).__name__} ({got!r:.40})",
                             hint="use integer arithmetic (//), not float division")
    if got != expected:
        raise GradingFailure(f"{what}: expected {expected}, got {got}",
                             hint="with drop_last=True the smaller last batch is skipped: "
                                  "floor(N / B)")


@pytest.mark.points(2)
def test_iterate_every_sample_exactly_once(student: Any) -> None:
    """iterate_minibatches: one pass yields every sample exactly once"""
    X, y = indexed_data(10)
    (batches,) = _passes(student, X, y, 4, True, 3, 1)
    seen = _flat(_pass_order(batches, X, "iterate_minibatches(N=10, batch_size=4)"))
    missing = sorted(set(range(10)) - set(seen))
    repeated = sorted({i for i in seen if seen.count(i) > 1})
    if missing or repeated:
        raise GradingFailure(
            f"iterate_minibatches(N=10, batch_size=4): every sample must appear exactly once "
            f"per pass; missing {missing}, repeated {repeated}",
            hint="the last batch is the smaller remainder and must not be dropped"
            if missing and not repeated else "slice one permutation of 0..N-1 into batches")


@pytest.mark.points(1)
def test_iterate_last_batch_smaller(student: Any) -> None:
    """iterate_minibatches: batches of B samples, then a smaller last batch (N=10, B=4: 4, 4, 2)"""
    X, y = indexed_data(10)
    (batches,) = _passes(student, X, y, 4, True, 5, 1)
    sizes = [len(b) for b in _pass_order(batches, X, "iterate_minibatches(N=10, batch_size=4)")]
    if sizes != [4, 4, 2]:
        hint = ("the last batch (the 2 samples left over) was dropped: yield it too"
                if sizes == [4, 4] else "consecutive slices order[0:4], order[4:8], order[8:10]")
        raise GradingFailure(f"iterate_minibatches(N=10, batch_size=4): expected batch sizes "
                             f"[4, 4, 2], got {sizes}", hint=hint)


@pytest.mark.points(2)
def test_iterate_pairs_stay_aligned(student: Any) -> None:
    """iterate_minibatches keeps pairs aligned: row k of X_batch and of y_batch are one sample"""
    X, y = indexed_data(23, d=4)
    for passes in (_passes(student, X, y, 5, True, 8, 2), _passes(student, X, y, 1, True, 9, 1)):
        for p, batches in enumerate(passes):
            _pass_order(batches, X, f"iterate_minibatches(N=23), pass {p + 1}")


@pytest.mark.points(2)
def test_iterate_order_comes_from_randperm(student: Any, reference: types.ModuleType) -> None:
    """the shuffled order is torch.randperm(N, generator=generator), one draw per pass"""
    X, y = indexed_data(14)
    got = _passes(student, X, y, 4, True, 11, 2)
    expected = _reference_passes(reference, X, y, 4, True, 11, 2)
    for p, (batches, want) in enumerate(zip(got, expected, strict=True)):
        order = _pass_order(batches, X, f"iterate_minibatches, pass {p + 1}")
        if order == want:
            continue
        if len(_flat(order)) != len(_flat(want)):
            raise GradingFailure(f"iterate_minibatches (seeded generator), pass {p + 1}: "
                                 f"expected all {len(_flat(want))} samples, got "
                                 f"{len(_flat(order))}",
                                 hint="yield every slice of the permutation, the smaller last "
                                      "one included")
        hint = ("the first pass is right but the second is not: draw exactly one "
                "torch.randperm per call, from the generator you were given" if p == 1 else
                "take the order from perm = torch.randperm(N, generator=generator) and slice "
                "it in order: perm[0:B], perm[B:2B], ...")
        raise GradingFailure(f"iterate_minibatches (seeded generator), pass {p + 1}: expected "
                             f"the order {_describe(_flat(want))}, got {_describe(_flat(order))}",
                             hint=hint)


@pytest.mark.points(1)
def test_iterate_new_order_each_pass(student: Any) -> None:
    """iterate_minibatches gives a different order on each pass with one generator"""
    X, y = indexed_data(16)
    passes = [_flat(_pass_order(b, X, f"pass {p + 1}"))
              for p, b in enumerate(_passes(student, X, y, 4, True, 2, 3))]
    if passes[0] == list(range(16)) and passes[1] == list(range(16)):
        raise GradingFailure("iterate_minibatches(shuffle=True): the samples came out in their "
                             "original order 0, 1, ..., N-1 on every pass",
                             hint="with shuffle=True the order must be shuffled: "
                                  "torch.randperm(N, generator=generator)")
    if passes[0] == passes[1] == passes[2]:
        raise GradingFailure(f"iterate_minibatches(shuffle=True): three passes with one "
                             f"generator gave the same order {_describe(passes[0])}",
                             hint="draw the permutation from the generator you were given, "
                                  "without re-seeding it")


@pytest.mark.points(1)
def test_iterate_same_seed_same_order(student: Any) -> None:
    """iterate_minibatches is reproducible: two generators with the same seed, the same order"""
    X, y = indexed_data(16)
    first = [_flat(_pass_order(b, X, "first run")) for b in _passes(student, X, y, 3, True, 21, 2)]
    again = [_flat(_pass_order(b, X, "second run"))
             for b in _passes(student, X, y, 3, True, 21, 2)]
    if first != again:
        raise GradingFailure(f"iterate_minibatches: two runs with generators seeded alike gave "
                             f"different orders ({_describe(first[0])} vs {_describe(again[0])})",
                             hint="draw the order from the generator argument "
                                  "(torch.randperm(N, generator=generator)), not from torch's "
                                  "global random state")


@pytest.mark.points(1)
def test_iterate_no_shuffle_keeps_order(student: Any) -> None:
    """iterate_minibatches(shuffle=False) keeps the original order 0, 1, ..., N-1"""
    X, y = indexed_data(11)
    for p, batches in enumerate(_passes(student, X, y, 3, False, 4, 2)):
        order = _pass_order(batches, X, f"iterate_minibatches(shuffle=False), pass {p + 1}")
        if order != [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]:
            raise GradingFailure(f"iterate_minibatches(N=11, batch_size=3, shuffle=False), pass "
                                 f"{p + 1}: expected [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]], "
                                 f"got {order}", hint="shuffle=False: batches in the original "
                                                      "order, nothing drawn")


@pytest.mark.points(1)
def test_iterate_defaults_shuffle_with_global_rng(student: Any,
                                                  reference: types.ModuleType) -> None:
    """iterate_minibatches shuffles by default, from torch's global generator when none is given"""
    X, y = indexed_data(13)
    batches = student.probe("minibatches_global_rng", X, y, 5, 17)
    if not isinstance(batches, list):
        raise GradingFailure("iterate_minibatches must yield (X_batch, y_batch) pairs")
    order = _flat(_pass_order(batches, X, "iterate_minibatches(X, y, 5)"))
    torch.manual_seed(17)
    expected = [int(i) for xb, _ in reference.iterate_minibatches(X, y, 5)
                for i in xb[:, 0].round().long()]
    if order != expected:
        raise GradingFailure(f"iterate_minibatches(X, y, 5) after torch.manual_seed(17): "
                             f"expected the order {_describe(expected)}, got {_describe(order)}",
                             hint="defaults: shuffle=True, and generator=None passed on to "
                                  "torch.randperm (which then uses the global generator)")


# --- train -----------------------------------------------------------------------------------

def regression_data(n: int, seed: int, d: int = 3,
                    dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    true_w = torch.linspace(1.5, -2.0, d, dtype=dtype)
    y = X @ true_w + 0.3 + 0.1 * torch.randn(n, generator=g, dtype=dtype)
    return X, y.unsqueeze(1)


def _ceil(n: int, b: int) -> int:
    return (n + b - 1) // b


def _snapshot(model: Any, d: int, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(model, ModuleSnapshot):
        raise GradingFailure(f"{what}: expected the model (an nn.Linear), got "
                             f"{type(model).__name__}", hint="return (model, losses)")
    if model.type_name != "Linear":
        raise GradingFailure(f"{what}: expected an nn.Linear, got {model.type_name}",
                             hint="the model is nn.Linear(D, 1) itself, not wrapped")
    weight = require_tensor(model.state.get("weight"), f"{what}: model.weight", shape=(1, d))
    bias = require_tensor(model.state.get("bias"), f"{what}: model.bias", shape=(1,))
    return weight, bias


def _train_result(result: Any, d: int, what: str) -> tuple[torch.Tensor, torch.Tensor,
                                                          list[float]]:
    model, losses_value = unpack(result, ("model", "losses"), what=what)
    weight, bias = _snapshot(model, d, what)
    if not isinstance(losses_value, (list, tuple)):
        raise GradingFailure(f"{what}: losses must be a list of floats, got "
                             f"{type(losses_value).__name__}")
    losses = [as_float(v, f"{what}: losses[{i}]") for i, v in enumerate(losses_value)]
    return weight, bias, losses


def _simulate(X: torch.Tensor, y: torch.Tensor, batch_size: int, n_epochs: int, lr: float,
              seed: int, shuffle: bool, variant: str) -> list[float]:
    """Known-bug versions of train (run here, on trusted code): the loss of every update."""
    torch.manual_seed(seed)
    model = nn.Linear(X.shape[1], 1).to(X.dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n, losses = X.shape[0], []
    for _ in range(n_epochs):
        if variant == "fresh_generator":
            generator = torch.Generator().manual_seed(seed)
        order = (torch.randperm(n) if variant == "global_rng" else torch.arange(n)
                 if variant == "no_shuffle" or not shuffle
                 else torch.randperm(n, generator=generator))
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            if variant == "drop_last" and len(index) < batch_size:
                continue
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


VARIANTS = {
    "fresh_generator": "every epoch used the same order: the generator was created (seeded) "
                       "again each epoch; create it once, before the epoch loop",
    "global_rng": "the order came from torch's global random generator: pass "
                  "generator=generator to iterate_minibatches (and on to torch.randperm)",
    "no_shuffle": "the samples were never shuffled, though shuffle=True",
    "drop_last": "the last, smaller batch of each epoch was skipped",
}


def _close_lists(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(abs(x - z) <= 1e-6 + 1e-4 * abs(z)
                                    for x, z in zip(a, b, strict=True))


def _check_against_reference(student: Any, reference: types.ModuleType, X: torch.Tensor,
                             y: torch.Tensor, batch_size: int, n_epochs: int, lr: float,
                             shuffle: bool = True, seed: int = 0) -> None:
    what = (f"train(N={X.shape[0]}, batch_size={batch_size}, n_epochs={n_epochs}, lr={lr}, "
            f"shuffle={shuffle}, seed={seed})")
    result = student.train(X, y, batch_size, n_epochs, lr, shuffle=shuffle, seed=seed)
    weight, bias, losses = _train_result(result, X.shape[1], what)
    model, expected = reference.train(X, y, batch_size, n_epochs, lr, shuffle=shuffle, seed=seed)
    n_updates = n_epochs * _ceil(X.shape[0], batch_size)
    if not _close_lists(losses, expected):
        for variant, bug in VARIANTS.items():
            if shuffle or variant == "drop_last":
                simulated = _simulate(X, y, batch_size, n_epochs, lr, seed, shuffle, variant)
                if _close_lists(losses, simulated):
                    raise GradingFailure(f"{what}: the losses differ from the reference's: {bug}",
                                         hint=bug)
        if len(losses) != n_updates:
            raise GradingFailure(f"{what}: expected {n_updates} losses (one per update), got "
                                 f"{len(losses)}")
        assert_close(torch.tensor(losses, dtype=torch.float64),
                     torch.tensor(expected, dtype=torch.float64), f"{what}: loss of each update",
                     rtol=1e-4, atol=1e-6,
                     hint="set up exactly as the docstring says (seed, nn.Linear, one generator "
                          "for the whole run), record each batch's loss before its step")
    assert_close(weight, model.weight.detach(), f"{what}: final model.weight", rtol=1e-4,
                 atol=1e-5, hint="the same seed must give the reference's model, update for "
                                 "update")
    assert_close(bias, model.bias.detach(), f"{what}: final model.bias", rtol=1e-4, atol=1e-5)


@pytest.mark.points(1)
def test_train_returns_linear_and_losses(student: Any) -> None:
    """train returns (nn.Linear(D, 1), losses) with one float loss per update"""
    X, y = regression_data(10, seed=1, d=4)
    what = "train(N=10, D=4, batch_size=4, n_epochs=2, lr=0.05)"
    _, _, losses = _train_result(student.train(X, y, 4, 2, 0.05), 4, what)
    if len(losses) != 6:
        raise GradingFailure(f"{what}: expected 6 losses (3 updates per epoch × 2 epochs), got "
                             f"{len(losses)}", hint="record the loss of every update, not one "
                                                    "per epoch")


@pytest.mark.points(3)
def test_train_matches_reference_minibatch(student: Any, reference: types.ModuleType) -> None:
    """mini-batch GD (N=10, B=4): every loss and the final weights equal the reference's"""
    X, y = regression_data(10, seed=2)
    _check_against_reference(student, reference, X, y, 4, 4, 0.05, seed=3)


@pytest.mark.points(2)
def test_train_matches_reference_batch_gd(student: Any, reference: types.ModuleType) -> None:
    """batch GD (batch_size = N): every loss and the final weights equal the reference's"""
    X, y = regression_data(12, seed=4)
    _check_against_reference(student, reference, X, y, 12, 15, 0.1, seed=5)


@pytest.mark.points(2)
def test_train_matches_reference_sgd(student: Any, reference: types.ModuleType) -> None:
    """SGD (batch_size = 1): every loss and the final weights equal the reference's"""
    X, y = regression_data(9, seed=6)
    _check_against_reference(student, reference, X, y, 1, 3, 0.05, seed=7)


@pytest.mark.points(1)
def test_train_without_shuffle_matches_reference(student: Any,
                                                 reference: types.ModuleType) -> None:
    """train(shuffle=False): every loss and the final weights equal the reference's"""
    X, y = regression_data(10, seed=8)
    _check_against_reference(student, reference, X, y, 3, 3, 0.05, shuffle=False, seed=9)


def _traced(student: Any, X: torch.Tensor, y: torch.Tensor, batch_size: int, n_epochs: int,
            shuffle: bool = True) -> dict[str, Any]:
    out = student.probe("train_traced", X, y, batch_size, n_epochs, 0.05, shuffle, 0)
    if not isinstance(out, dict):
        raise GradingFailure("the training loop could not be traced")
    return out


def _what(X: torch.Tensor, batch_size: int, n_epochs: int) -> str:
    return f"train(N={X.shape[0]}, batch_size={batch_size}, n_epochs={n_epochs})"


@pytest.mark.points(3)
def test_train_loop_order_per_update(student: Any) -> None:
    """each update clears the gradients, runs backward, then steps SGD (traced at run time)"""
    X, y = regression_data(10, seed=10)
    out = _traced(student, X, y, 4, 3)
    summary = assert_loop_order(out.get("log"), _what(X, 4, 3), strict_start=True)
    optimizers = {str(e.get("optimizer")) for e in summary.events if e.get("kind") == "step"}
    if summary.optimizer_steps == 0:
        raise GradingFailure(f"{_what(X, 4, 3)}: no optimizer step was seen "
                             f"({summary.updates} manual updates)",
                             hint="use torch.optim.SGD(model.parameters(), lr=lr) and call "
                                  "optimizer.step()")
    if optimizers != {"SGD"}:
        raise GradingFailure(f"{_what(X, 4, 3)}: expected torch.optim.SGD, saw "
                             f"{', '.join(sorted(optimizers))}")


def _batches_per_update(out: dict[str, Any], summary: LoopSummary, X: torch.Tensor,
                        what: str) -> list[list[int]]:
    """For each backward(), the samples of the forward pass just before it."""
    inputs = out.get("inputs")
    if not isinstance(inputs, list):
        raise GradingFailure(f"{what}: the model's inputs could not be observed")
    batches = []
    for event in summary.events:
        if event.get("kind") != "backward":
            continue
        before = [x for seq, x in inputs if seq < event.get("seq", 0)]
        if not before:
            raise GradingFailure(f"{what}: a backward() came before any forward pass of the "
                                 "model", hint="call model(X_batch) to compute the predictions")
        batches.append(_rows_to_samples(before[-1], X, what))
    return batches


def _rows_to_samples(rows: Any, X: torch.Tensor, what: str) -> list[int]:
    tensor = require_tensor(rows, f"{what}: input of the model")
    if tensor.dim() != 2 or tensor.shape[1] != X.shape[1]:
        raise GradingFailure(f"{what}: the model received a tensor of shape {fmt_shape(tensor)}"
                             f", expected [b, {X.shape[1]}] (a batch of rows of X)")
    match = (tensor[:, None, :].to(X.dtype) == X[None, :, :]).all(dim=2)
    if not bool((match.sum(dim=1) == 1).all()):
        raise GradingFailure(f"{what}: the model received rows that are not rows of X",
                             hint="feed the model X_batch from iterate_minibatches unchanged")
    return [int(i) for i in match.int().argmax(dim=1)]


def _epochs(out: dict[str, Any], X: torch.Tensor, batch_size: int, n_epochs: int,
            what: str) -> list[list[list[int]]]:
    summary = assert_loop_order(out.get("log"), what)
    per_epoch = _ceil(X.shape[0], batch_size)
    batches = _batches_per_update(out, summary, X, what)
    if len(batches) != per_epoch * n_epochs or summary.optimizer_steps != per_epoch * n_epochs:
        raise GradingFailure(
            f"{what}: expected {per_epoch * n_epochs} updates ({per_epoch} per epoch: "
            f"ceil({X.shape[0]} / {batch_size})), saw {summary.optimizer_steps} optimizer steps "
            f"and {summary.backwards} backward passes",
            hint="one zero_grad/forward/backward/step per batch, and every batch of the epoch, "
                 "the smaller last one included")
    return [batches[e * per_epoch:(e + 1) * per_epoch] for e in range(n_epochs)]


@pytest.mark.points(1)
@pytest.mark.parametrize("batch_size", [4, 1, 10], ids=["minibatch", "sgd", "batch-gd"])
def test_train_one_update_per_batch(student: Any, batch_size: int) -> None:
    """train makes ceil(N / B) updates per epoch, each on one batch of B samples (traced)"""
    X, y = regression_data(10, seed=11)
    what = _what(X, batch_size, 2)
    epochs = _epochs(_traced(student, X, y, batch_size, 2), X, batch_size, 2, what)
    expected = [batch_size] * (10 // batch_size) + ([10 % batch_size] if 10 % batch_size else [])
    for e, batches in enumerate(epochs):
        sizes = [len(b) for b in batches]
        if sizes != expected:
            raise GradingFailure(f"{what}, epoch {e + 1}: expected batch sizes {expected}, got "
                                 f"{sizes}")


@pytest.mark.points(2)
def test_train_each_epoch_sees_every_sample(student: Any) -> None:
    """in train, each epoch passes every sample to the model exactly once (traced)"""
    X, y = regression_data(10, seed=12)
    what = _what(X, 4, 3)
    for e, batches in enumerate(_epochs(_traced(student, X, y, 4, 3), X, 4, 3, what)):
        seen = sorted(i for b in batches for i in b)
        if seen != list(range(10)):
            raise GradingFailure(f"{what}, epoch {e + 1}: the model saw samples {seen}, expected "
                                 "each of 0..9 exactly once",
                                 hint="each epoch is one full pass of iterate_minibatches")


@pytest.mark.points(2)
def test_train_shuffles_differently_each_epoch(student: Any) -> None:
    """in train, each epoch visits the samples in a new order (one generator for the run)"""
    X, y = regression_data(10, seed=13)
    what = _what(X, 4, 3)
    orders = [[i for b in batches for i in b]
              for batches in _epochs(_traced(student, X, y, 4, 3), X, 4, 3, what)]
    if all(order == list(range(10)) for order in orders):
        raise GradingFailure(f"{what}: no epoch was shuffled (the samples came in their original "
                             "order)", hint="pass shuffle=shuffle to iterate_minibatches")
    if orders[0] == orders[1] == orders[2]:
        raise GradingFailure(f"{what}: all 3 epochs visited the samples in the same order "
                             f"{_describe(orders[0])}",
                             hint="create the generator once, before the epoch loop: a "
                                  "generator re-created (or re-seeded) every epoch repeats the "
                                  "same permutation")


@pytest.mark.points(1)
def test_train_without_shuffle_keeps_order(student: Any) -> None:
    """train(shuffle=False) feeds the samples in their original order every epoch (traced)"""
    X, y = regression_data(10, seed=14)
    what = _what(X, 4, 2) + " with shuffle=False"
    for e, batches in enumerate(_epochs(_traced(student, X, y, 4, 2, shuffle=False), X, 4, 2,
                                        what)):
        if batches != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]:
            raise GradingFailure(f"{what}, epoch {e + 1}: expected batches [[0, 1, 2, 3], "
                                 f"[4, 5, 6, 7], [8, 9]], got {batches}",
                                 hint="pass shuffle=shuffle on to iterate_minibatches")


@pytest.mark.points(2)
def test_train_speed(student: Any, reference_worker: Any, device: torch.device,
                     record: dict[str, Any]) -> None:
    """training (N=4096, B=32, 4 epochs) takes at most 3× the reference's time on the device"""
    X, y = regression_data(4096, seed=15, d=5)
    verdict = time_against_reference(student, reference_worker, "train_on_device", X, y, 32, 4,
                                     0.05, str(device), device=str(device), allowed=3.0)
    assert_timing(verdict, "train(N=4096, batch_size=32, n_epochs=4)", record, key="train")
    assert_timed_result(verdict, "after 4 epochs", record=record, key="train")
