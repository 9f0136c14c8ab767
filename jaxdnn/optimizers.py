"""Update rules.

``gd_update`` is the course's plain step ``W -= lr * dW``.
"""

from __future__ import annotations

import jax

from jaxdnn._validate import check_same_structure


def gd_update(params, grads, learning_rate):
    """One gradient-descent step: ``p - learning_rate * g`` for every leaf.

    Args:
      params: any pytree of arrays (the library's list of ``{"W", "b"}`` dicts).
      grads: a pytree of the same structure and shapes.
      learning_rate: scalar step size (a Python float or a traced scalar, so it can be vmapped).

    Returns:
      the updated params, same structure and dtypes.
    """
    check_same_structure(params, grads, "params", "grads")
    return jax.tree.map(lambda p, g: p - (learning_rate * g).astype(p.dtype), params, grads)
