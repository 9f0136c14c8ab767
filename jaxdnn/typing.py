"""Type aliases for jaxdnn's signatures (as ``jax.typing`` and ``numpy.typing`` do).

Shapes are not part of these types; each function's docstring gives them in backticks.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from jax.typing import ArrayLike, DTypeLike

__all__ = ["Activations", "Array", "ArrayLike", "DTypeLike", "Layer", "Params", "PRNGKey"]

Array = jax.Array
"""A JAX array (what jaxdnn returns)."""

Layer = dict[str, jax.Array]
"""One layer's parameters, or its gradients: ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}``."""

Params = list[Layer]
"""A network's parameters, or its gradients: ``params[l-1]`` is layer l's :data:`Layer`."""

Activations = Sequence[str]
"""Activation names, one per layer, e.g. ``("relu", "relu", "sigmoid")``; pass a tuple under ``jit``
(it must be hashable to be static)."""

PRNGKey = jax.Array
"""A key from ``jax.random.key`` (or a legacy ``jax.random.PRNGKey``)."""
