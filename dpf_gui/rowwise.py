"""Computations whose result for one row never depends on the other rows of the batch.

Batched evaluation plays many episodes in lockstep and must give every
episode exactly what it gets when played alone. Two things break that:

* float32 matrix products: BLAS kernels sum in a different order for
  different batch sizes (a batch of 1 takes a matrix-vector path), so the
  same row's outputs differ in the last bits (measured: nearly every row of
  the shipped Q-networks, batch of 1 against a batch of 2000). :func:`rows_f32`
  runs a module in float64 and rounds its outputs to float32: the float64
  kernels still disagree, but by ~1e-16 relative, far below float32's
  rounding step, so the rounded rows agree (0 of 60 000 rows differed);
* numpy reductions over short axes, which may pick a pairwise or vectorised
  order by shape: :func:`sum_last` and :func:`sum_first` add left to right.

Element-wise numpy operations are exact per element and need nothing.
"""

from __future__ import annotations

import copy
import threading
import weakref
from functools import reduce

import numpy as np
import torch
from torch import nn

_TWINS: weakref.WeakKeyDictionary[nn.Module, tuple[list[torch.Tensor], list[tuple[int, int]], nn.Module]] = \
    weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _state(tensors: list[torch.Tensor]) -> list[tuple[int, int]]:
    """Where each tensor's data lives and its in-place version: changes with every training step or load."""
    return [(t.data_ptr(), t._version) for t in tensors]


def float64_twin(module: nn.Module) -> nn.Module:
    """A float64 copy of ``module`` in eval mode, made again whenever the module's weights change.

    A change is an in-place update of a weight (an optimiser step, ``load_state_dict``) or new data
    under it; the module's structure is read when the copy is made (torch never swaps weight objects).
    """
    with _LOCK:
        held = _TWINS.get(module)
    if held is not None and _state(held[0]) == held[1]:
        return held[2]
    tensors = [*module.parameters(), *module.buffers()]
    state = _state(tensors)
    twin = copy.deepcopy(module).double().eval()
    for p in twin.parameters():
        p.requires_grad_(False)
    with _LOCK:
        _TWINS[module] = (tensors, state, twin)
    return twin


def rows_f32(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` computed in float64 and rounded to float32; the module's own weights are never touched."""
    with torch.no_grad():
        return float64_twin(module)(x.double()).float()


def sum_last(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis, left to right."""
    x = np.asarray(x)
    return reduce(np.add, (x[..., i] for i in range(x.shape[-1])))


def sum_first(x: np.ndarray) -> np.ndarray:
    """Sum over the first axis, left to right."""
    x = np.asarray(x)
    return reduce(np.add, (x[i] for i in range(x.shape[0])))


__all__ = ["float64_twin", "rows_f32", "sum_first", "sum_last"]
