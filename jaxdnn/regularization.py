"""Regularisation as the course derives it: the L2 penalty and inverted dropout.

L2 adds ``lambd / (2 m) * sum_l ||W_l||_F^2`` to the cost and ``lambd / m * W_l`` to each ``dW_l``.
Inverted dropout keeps each hidden unit with probability ``keep_prob`` and scales the kept ones by
``1 / keep_prob``, so the expected activation is unchanged; the backward pass multiplies ``dA_l`` by
the same scaled mask. The masks are a pure function of ``key``, so hand-derived and automatic
gradients see the same dropped units.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.checks import is_traced


def has_l2(l2) -> bool:
    """False only for an L2 strength that is a concrete 0 (a traced strength always counts)."""
    return is_traced(l2) or bool(np.asarray(l2) != 0)


def dropout_masks(key, hidden_shapes, keep_prob: float, dtype):
    """Scaled inverted-dropout masks ``D_l / keep_prob``, one per hidden layer.

    Every layer's mask comes from one draw of ``sum_l n_l m`` independent keeps, split by shape:
    one random generator in the compiled program, not one per layer (each costs about a second of
    XLA compile time on a CPU).

    Args:
      key: PRNG key of the draw.
      hidden_shapes: shapes ``(n_l, m)`` of the hidden activations ``A_1 .. A_{L-1}``.
      keep_prob: probability of keeping a unit.
      dtype: dtype of the masks (the params' dtype).

    Returns:
      a list of arrays of 0 and ``1 / keep_prob``, shaped like each hidden activation.
    """
    sizes = [math.prod(shape) for shape in hidden_shapes]
    keep = jax.random.bernoulli(key, keep_prob, (sum(sizes),))  # D of every layer, flat
    return [d.reshape(shape).astype(dtype) / jnp.asarray(keep_prob, dtype)
            for d, shape in zip(jnp.split(keep, np.cumsum(sizes)[:-1]), hidden_shapes)]


def l2_penalty(params, m: int, l2: float):
    """``l2 / (2 m) * sum_l ||W_l||_F^2``, the course's L2 cost term."""
    total = sum(jnp.sum(jnp.square(p["W"])) for p in params)  # sum_l ||W_l||_F^2
    return jnp.asarray(l2 / (2 * m)).astype(total.dtype) * total


def l2_gradient(W, m: int, l2):
    """``lambd / m * W``, the L2 term's part of ``dW``."""
    return jnp.asarray(l2 / m).astype(W.dtype) * W
