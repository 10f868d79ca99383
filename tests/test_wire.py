"""The wire format: only plain data crosses; pickled objects are refused."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from loopgrader.sandbox import wire as _wire


def test_plain_values_round_trip() -> None:
    value = {"a": [1, 2.5, "x", None, True], "t": (torch.ones(2),)}
    back = _wire.decode(_wire.encode(_wire.to_plain(value)))
    assert back["a"] == [1, 2.5, "x", None, True]
    assert torch.equal(back["t"][0], torch.ones(2))


def test_module_becomes_a_description_with_its_state() -> None:
    plain = _wire.to_plain(torch.nn.Linear(2, 1).eval())
    assert plain[_wire.MARK] == "module" and plain["training"] is False
    assert set(plain["state"]) == {"weight", "bias"}


def test_requires_grad_flag_survives_but_the_graph_does_not() -> None:
    w = torch.ones(2, requires_grad=True)
    back = _wire.decode(_wire.encode(_wire.to_plain(w * 2)))
    assert back.requires_grad and back.grad_fn is None


def test_tensor_subclasses_become_plain_tensors() -> None:
    class Odd(torch.Tensor):
        pass

    plain = _wire.to_plain(torch.ones(2).as_subclass(Odd))
    assert type(plain) is torch.Tensor


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_arbitrary_pickles_are_refused() -> None:
    buffer = io.BytesIO()
    torch.save({"x": Evil()}, buffer, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError):
        _wire.decode(buffer.getvalue())


def test_unknown_objects_become_descriptions() -> None:
    plain = _wire.to_plain(object())
    assert plain[_wire.MARK] == "object" and plain["type"] == "object"


def test_numpy_values_become_plain_data() -> None:
    import numpy as np

    back = _wire.decode(_wire.encode(_wire.to_plain(
        {"f": np.float64(0.5), "i": np.int64(3), "b": np.bool_(True), "a": np.ones(2)})))
    assert back["f"] == 0.5 and type(back["f"]) is float
    assert back["i"] == 3 and back["b"] is True
    assert torch.equal(back["a"], torch.ones(2, dtype=torch.float64))
