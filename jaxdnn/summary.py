"""Value summaries of concrete arrays, computed where the arrays live: what the value checks of
:mod:`jaxdnn.checks` need (non-finite counts, ranges, column sums), without copying an array that
lives on an accelerator to the host.

A JAX array's values never change, so its summary is kept for as long as the array lives: ``fit``
called again on the same ``X``, ``Y`` or params does not scan them again (on an accelerator: no
device program and no round trip per call). NumPy arrays, which can change, are summarised anew.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Summary(NamedTuple):
    """What a value check needs of an array: its non-finite count, range and column sums."""

    nonfinite: int
    lo: float  # min over the finite entries (0 when there are none)
    hi: float  # max over the finite entries
    column_sums: np.ndarray | None  # (m,) sums of each column's finite entries, when asked for


@jax.jit
def _device_summary(x):
    x = x.astype(jnp.float64 if x.dtype == jnp.float64 else jnp.float32)
    finite = jnp.isfinite(x)
    safe = jnp.where(finite, x, 0)
    return jnp.sum(~finite), jnp.min(safe), jnp.max(safe), jnp.sum(safe, axis=0)


def summarize(x, *, column_sums: bool = False) -> Summary:
    """The values of a concrete array, summarised where the array lives.

    NumPy arrays and arrays on the CPU are summarised by NumPy (no copy, no compile); an array on
    an accelerator by one small compiled program there, and only the summary comes back (copying X
    to the host on every call would cost more than a training step). Narrow floats (bfloat16,
    float16) are widened to float32 first, so their NaNs are counted. Column sums of an array spread
    over several processes are skipped: they would not fit on one host.
    """
    return _kept(x, ("summary", column_sums), lambda x: _summarize(x, column_sums))


def _summarize(x, column_sums: bool) -> Summary:
    if isinstance(x, jax.Array) and not _on_host(x):
        n_bad, lo, hi, sums = _device_summary(x)
        return Summary(int(n_bad), float(lo), float(hi), np.asarray(sums, np.float64)
                       if column_sums and x.ndim == 2 and x.is_fully_addressable else None)
    a = np.asarray(x)
    if a.dtype.kind not in "fiu" or a.dtype.itemsize < 4:  # bfloat16 (kind V), float16, bool
        a = a.astype(np.float32)
    finite = np.isfinite(a)
    n_bad = int(finite.size - np.count_nonzero(finite))
    safe = np.where(finite, a, 0) if n_bad else a
    return Summary(n_bad, float(safe.min()) if safe.size else 0.0,
                   float(safe.max()) if safe.size else 0.0,
                   safe.sum(axis=0, dtype=np.float64) if column_sums and a.ndim == 2 else None)


def count_nonfinite(x) -> int:
    """The number of NaN and Inf entries of a concrete array (one pass when all are finite)."""
    return _kept(x, "nonfinite", _count_nonfinite)


def _count_nonfinite(x) -> int:
    if not isinstance(x, jax.Array) or _on_host(x):
        a = np.asarray(x)
        if a.dtype.kind in "fc" and a.dtype.itemsize >= 4:
            with np.errstate(over="ignore", invalid="ignore"):  # huge finite values may overflow
                if np.isfinite(a.sum()):
                    return 0
    return _summarize(x, False).nonfinite


_KEPT: dict[tuple[int, object], tuple[weakref.ref, object]] = {}  # (id, what): (array, value)


def _kept(x, what, compute):
    """``compute(x)``, kept for a JAX array as long as the array lives (its values never change;
    once it is gone, its id may name another array)."""
    if not isinstance(x, jax.Array):
        return compute(x)
    key = (id(x), what)
    kept = _KEPT.get(key)
    if kept is not None and kept[0]() is x:
        return kept[1]
    value = compute(x)
    _KEPT[key] = (weakref.ref(x, lambda _, key=key, kept=_KEPT: kept.pop(key, None)), value)
    return value


def _on_host(x: jax.Array) -> bool:
    return x.is_fully_addressable and all(d.platform == "cpu" for d in x.devices())
