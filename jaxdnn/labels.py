"""Class labels: integer classes to the one-hot columns a softmax output is trained on."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.checks import as_array, is_traced
from jaxdnn.summary import summarize
from jaxdnn.typing import ArrayLike, DTypeLike


def one_hot(labels: ArrayLike, num_classes: int, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """One-hot columns ``Y`` `(K, m)` from integer class labels, as the course lays out ``Y``.

    ``Y[k, i] = 1`` where ``labels[i] == k``, else 0.

    Args:
      labels: `(m,)` (or `(1, m)`) integer class indices in ``[0, num_classes)``.
      num_classes: the number of classes K >= 2 (the softmax layer's n_L).
      dtype: floating dtype of ``Y`` (the params' dtype).

    Returns:
      `(num_classes, m)` array of 0 and 1 in ``dtype``.

    Raises:
      TypeError: non-integer labels (floats would hide a rounding), a non-floating dtype.
      ValueError: labels of another shape, or outside ``[0, num_classes)``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be floating, got {jnp.dtype(dtype)}")
    labels = as_array(labels, "labels")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}; "
                        "convert them with labels.astype(int) if they are whole numbers")
    if labels.ndim == 2 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (m,) or (1, m), got {labels.shape}")
    if not is_traced(labels) and labels.size:
        summary = summarize(labels)
        lo, hi = int(summary.lo), int(summary.hi)
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got values from {lo} to {hi}")
    return jax.nn.one_hot(labels, num_classes, dtype=dtype, axis=0)  # (K, m)


def classes(Y: ArrayLike) -> jax.Array:
    """The class index of each one-hot column of ``Y`` `(K, m)`: `(m,)` integers (``argmax``)."""
    return jnp.argmax(jnp.asarray(Y), axis=0)
