"""Computations whose result for one row never depends on the other rows of the batch, done cheaply.

Batched evaluation plays many episodes in lockstep and must give every
episode exactly what it gets when played alone. Two things break that:

* float32 matrix products: BLAS kernels sum in a different order for
  different batch sizes (a batch of 1 takes a matrix-vector path), so the
  same row's outputs differ in the last bits (measured: nearly every row of
  the shipped Q-networks, batch of 1 against a batch of 2000). Networks on
  the decision path therefore run in float64 and round their outputs to
  float32 (:func:`rows_f32`): the float64 kernels still disagree, but by
  ~1e-16 relative, far below float32's rounding step, so the rounded rows
  agree (0 of 60 000 rows differed);
* numpy reductions over short axes, which may pick a pairwise or vectorised
  order by shape: :func:`sum_last` and :func:`sum_first` add left to right.

Element-wise numpy operations are exact per element and need nothing.

Speed. A decision runs a few tiny matrix products, where torch's per-call
overhead (module dispatch, autograd bookkeeping, tensor wrappers: tens of
microseconds) is most of the cost. So the decision path runs in numpy on
float64 copies of the weights (:class:`ReluMLP`, or any other copy a
``build`` function makes: :func:`numpy_twin`), made once and made again
whenever the torch module's weights change. The torch modules stay the
only definition of the networks (they are what is trained and saved);
the copies are tested against them (tests/test_batched_eval.py).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from typing import Any

import numpy as np

_TWINS: weakref.WeakKeyDictionary[Any, dict[Callable, tuple[list, list[tuple[int, int]], Any]]] = \
    weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def as_f64(tensor) -> np.ndarray:
    """A torch tensor (or an array) as a new float64 numpy array, detached from any graph."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.array(tensor, dtype=np.float64)


class ReluMLP:
    """A ReLU network in float64 numpy: ``x -> relu(x W_1 + b_1) -> ... -> x W_n + b_n``.

    ``layers`` are ``(W, b)`` pairs, W shaped (in, out) and b (out,); or, for ``members`` networks
    evaluated at once, W (members, in, out) and b (members, 1, out), and the output is
    (members, N, out) (as :class:`~dpf_gui.intent.additive.EnsembleMLP`).
    """

    def __init__(self, layers: Sequence[tuple[Any, Any]]):
        self.layers = [(np.ascontiguousarray(as_f64(w)), as_f64(b)) for w, b in layers]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float64)
        last = len(self.layers) - 1
        for k, (w, b) in enumerate(self.layers):
            h = h @ w
            h += b
            if k < last:
                np.maximum(h, 0.0, out=h)
        return h


def sequential_mlp(state: Mapping[str, Any], layers: int) -> ReluMLP:
    """The :class:`ReluMLP` of a saved ``nn.Sequential`` of ``layers`` Linear layers with ReLUs between them
    (tensors ``net.0.weight``, ``net.0.bias``, ``net.2.weight``, ...; torch's (out, in) weights transposed)."""
    return ReluMLP([(state[f"net.{2 * i}.weight"].T, state[f"net.{2 * i}.bias"]) for i in range(layers)])


def sequential_shapes(widths: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """The tensors of such a network with these layer widths (inputs first) and their shapes, as torch saves them."""
    widths = [int(w) for w in widths]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        shapes[f"net.{2 * i}.weight"], shapes[f"net.{2 * i}.bias"] = (b, a), (b,)
    return shapes


def _relu_mlp(module) -> ReluMLP:
    return ReluMLP(module.relu_layers())


def _state(tensors: list) -> list[tuple[int, int]]:
    """Where each tensor's data lives and its in-place version: changes with every training step or load."""
    return [(t.data_ptr(), t._version) for t in tensors]


def numpy_twin(module, build: Callable[[Any], Any] = _relu_mlp) -> Any:
    """``build(module)``: a numpy copy of a torch module's weights, made again whenever they change.

    A change is an in-place update of a weight (an optimiser step, ``load_state_dict``) or new data
    under it; the module's structure is read when the copy is made (torch never swaps weight objects).
    The default ``build`` is the module's ``relu_layers()`` as a :class:`ReluMLP`.
    """
    with _LOCK:
        held = _TWINS.get(module, {}).get(build)
    if held is not None and _state(held[0]) == held[1]:
        return held[2]
    tensors = [*module.parameters(), *module.buffers()]
    state = _state(tensors)
    twin = build(module)
    with _LOCK:
        _TWINS.setdefault(module, {})[build] = (tensors, state, twin)
    return twin


def rows_f32(net, x: np.ndarray) -> np.ndarray:
    """The ReLU network ``net`` (a module with ``relu_layers()``, or a :class:`ReluMLP`) on ``x``, computed
    in float64 and rounded to float32; the module's own weights are never touched."""
    mlp = net if isinstance(net, ReluMLP) else numpy_twin(net)
    return mlp(x).astype(np.float32)


def sum_last(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis, left to right."""
    x = np.asarray(x)
    return reduce(np.add, (x[..., i] for i in range(x.shape[-1])))


def sum_first(x: np.ndarray) -> np.ndarray:
    """Sum over the first axis, left to right."""
    x = np.asarray(x)
    return reduce(np.add, (x[i] for i in range(x.shape[0])))


__all__ = ["ReluMLP", "as_f64", "numpy_twin", "rows_f32", "sequential_mlp", "sequential_shapes", "sum_first",
           "sum_last"]
