"""Graders for lesson 2.5, part 1 — TensorPairDataset and make_loader.

Loader tests use data whose rows encode their index (row i is (i, -i), its target 10 i), so
every batch tells which samples it holds and whether inputs and targets stayed together.
N = 50 with batches of 16 leaves a short last batch of 2.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from loopgrader.checks import GradingFailure, assert_close, expect_raises, require_tensor

N, BATCH = 50, 16


def loader_run(student: Any, *, n: int = N, batch_size: int = BATCH, shuffle: bool = True,
               seed: int = 0, drop_last: bool = False, epochs: int = 2,
               global_seed: int = 0) -> dict[str, Any]:
    """Batches (as lists of row indices) of ``epochs`` passes over make_loader(...)."""
    result = student.probe("loader_epochs", n, batch_size, shuffle, seed, drop_last, epochs,
                           global_seed)
    what = (f"make_loader(dataset of {n}, batch_size={batch_size}, shuffle={shuffle}, "
            f"seed={seed}, drop_last={drop_last})")
    if not isinstance(result, dict):
        raise GradingFailure(f"{what}: could not read the batches back")
    if not result.get("is_dataloader"):
        raise GradingFailure(f"{what} returned a {result.get('type')}, expected a "
                             "torch.utils.data.DataLoader")
    if not result.get("aligned"):
        raise GradingFailure(f"{what}: the targets of a batch do not belong to its inputs",
                             hint="let the DataLoader batch the dataset's (x, y) pairs")
    result["what"] = what
    return result


def flat(epoch: list[list[int]]) -> list[int]:
    return [i for batch in epoch for i in batch]


@pytest.mark.points(1)
def test_dataset_length_and_items(student: Any) -> None:
    """TensorPairDataset is a Dataset: len() is the number of samples, dataset[i] is (X[i], y[i])"""
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(10, 3, generator=g), torch.randn(10, generator=g)
    result = student.probe("dataset_items", X, y, [0, 4, 9])
    if not isinstance(result, dict):
        raise GradingFailure("could not read the dataset back")
    if not result.get("is_dataset"):
        raise GradingFailure("TensorPairDataset must subclass torch.utils.data.Dataset")
    if result.get("len") != 10:
        raise GradingFailure(f"len(TensorPairDataset(X, y)) with 10 samples: expected 10, got "
                             f"{result.get('len')!r}")
    for i, item in zip([0, 4, 9], result.get("items", []), strict=True):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise GradingFailure(f"dataset[{i}]: expected a pair (x, y), got "
                                 f"{type(item).__name__}", hint="return self.X[i], self.y[i]")
        assert_close(require_tensor(item[0], f"dataset[{i}][0]"), X[i], f"dataset[{i}][0] (x)")
        assert_close(require_tensor(item[1], f"dataset[{i}][1]"), y[i], f"dataset[{i}][1] (y)")


@pytest.mark.points(1)
def test_dataset_rejects_mismatched_lengths(student: Any) -> None:
    """TensorPairDataset(X, y) raises ValueError when X and y have different lengths"""
    X, y = torch.zeros(9, 3), torch.zeros(10)
    expect_raises("ValueError", lambda: student.TensorPairDataset(X, y),
                  "TensorPairDataset(X with 9 samples, y with 10)",
                  hint="compare len(X) with len(y) in __init__ and raise ValueError")


@pytest.mark.points(1)
def test_make_loader_keeps_the_order_without_shuffle(student: Any) -> None:
    """make_loader(..., shuffle=False) yields the samples in their original order, every epoch"""
    result = loader_run(student, n=10, batch_size=4, shuffle=False)
    expected = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for e, epoch in enumerate(result["epochs"]):
        if epoch != expected:
            raise GradingFailure(f"{result['what']}, epoch {e}: expected the batches {expected}, "
                                 f"got {epoch}", hint="pass shuffle through to the DataLoader")


@pytest.mark.points(1)
@pytest.mark.parametrize("drop_last", [False, True], ids=["keep-last", "drop-last"])
def test_make_loader_batch_counts(student: Any, drop_last: bool) -> None:
    """make_loader: batches of batch_size, the short last batch kept, or dropped with
    drop_last=True (len(loader) agrees)"""
    result = loader_run(student, drop_last=drop_last)
    sizes = [BATCH] * (N // BATCH) + ([] if drop_last else [N % BATCH])
    hint = "pass drop_last through to the DataLoader"
    if result.get("len") != len(sizes):
        raise GradingFailure(f"len({result['what']}): expected {len(sizes)} batches, got "
                             f"{result.get('len')!r}", hint=hint)
    for e, epoch in enumerate(result["epochs"]):
        got = [len(b) for b in epoch]
        if got != sizes:
            raise GradingFailure(f"{result['what']}, epoch {e}: expected batch sizes {sizes}, got "
                                 f"{got}", hint=hint)
        if len(set(flat(epoch))) != len(flat(epoch)):
            raise GradingFailure(f"{result['what']}, epoch {e}: a sample appears twice in one "
                                 "epoch", hint="shuffle with a permutation (DataLoader does)")


@pytest.mark.points(2)
def test_make_loader_is_reproducible_per_seed(student: Any) -> None:
    """make_loader: the same seed gives the same batches (whatever the global RNG does), another
    seed other batches"""
    first = loader_run(student, seed=5, global_seed=1)
    again = loader_run(student, seed=5, global_seed=2)
    if first["epochs"] != again["epochs"]:
        raise GradingFailure(f"{first['what']}: two loaders with seed=5 gave different batches "
                             "when the global random state differed: the order depends on "
                             "torch's global RNG",
                             hint="give the DataLoader its own generator: "
                                  "generator=torch.Generator().manual_seed(seed)")
    other = loader_run(student, seed=6, global_seed=1)
    if other["epochs"] == first["epochs"]:
        raise GradingFailure("make_loader with seed=5 and with seed=6 gave the same batches: the "
                             "seed is ignored",
                             hint="seed the loader's generator with the seed argument")


@pytest.mark.points(2)
def test_make_loader_reshuffles_every_epoch(student: Any) -> None:
    """make_loader(..., shuffle=True): each epoch is a new permutation of all the samples"""
    result = loader_run(student, seed=3, epochs=3)
    epochs = result["epochs"]
    for e, epoch in enumerate(epochs):
        if sorted(flat(epoch)) != list(range(N)):
            raise GradingFailure(f"{result['what']}, epoch {e}: each sample must appear exactly "
                                 "once per epoch")
    if flat(epochs[0]) == list(range(N)):
        raise GradingFailure(f"{result['what']}: the first epoch is in the original order: the "
                             "samples were not shuffled", hint="pass shuffle to the DataLoader")
    if epochs[1] == epochs[0] or epochs[2] == epochs[1]:
        raise GradingFailure(f"{result['what']}: epochs 0, 1 and 2 are not all different: every "
                             "epoch repeats the same order",
                             hint="the generator must be created and seeded once, in "
                                  "make_loader, not re-seeded at the start of every epoch")
