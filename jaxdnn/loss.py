"""Binary cross-entropy, computed from the output logits ``Z_L``.

``loss(z, y) = -(y log sigmoid(z) + (1 - y) log sigmoid(-z))`` with ``log sigmoid`` evaluated
stably, so the cost and its gradient stay finite for logits of +-1e4 even in float32. This equals
the course's ``-(y log A + (1 - y) log(1 - A))`` with ``A = sigmoid(z)`` wherever that is finite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdnn._validate import check_problem
from jaxdnn.forward import _forward
from jaxdnn.regularization import check_regularization, l2_penalty


def bce_from_logits(Z, Y):
    """Elementwise binary cross-entropy of labels ``Y`` against ``sigmoid(Z)``.

    Args:
      Z: logits, any shape.
      Y: labels in [0, 1], same shape as ``Z``.

    Returns:
      the elementwise loss, shaped like ``Z``.
    """
    return -(Y * jax.nn.log_sigmoid(Z) + (1 - Y) * jax.nn.log_sigmoid(-Z))


def cost(params, X, Y, activations, *, l2=0.0, keep_prob=None, key=None):
    """Mean binary cross-entropy of the network on ``(X, Y)``.

    ``J = (1/m) sum_examples sum_outputs loss(Z_L, Y) [+ l2 / (2m) sum_l ||W_l||^2]``: summed over the
    n_L independent sigmoid outputs, averaged over the m examples.

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      X: ``(n_x, m)`` inputs.
      Y: ``(n_L, m)`` labels in [0, 1] (a ``(m,)`` vector is an error, not broadcast).
      activations: L names; the last must be ``"sigmoid"``.
      l2: L2 regularisation strength lambda (0 = none).
      keep_prob: inverted-dropout keep probability for hidden layers (None = no dropout).
      key: PRNG key for dropout masks.

    Returns:
      the scalar cost, of the params' dtype.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    check_regularization(l2, keep_prob, key, len(params))
    _, caches = _forward(params, X, acts, keep_prob, key)
    return _cost_from_logits(params, caches[-1]["Z"], Y, l2)


def _cost_from_logits(params, ZL, Y, l2=0.0):
    m = ZL.shape[1]
    J = jnp.sum(bce_from_logits(ZL, Y)) / m  # scalar
    if l2:
        J = J + l2_penalty(params, m, l2)
    return J
