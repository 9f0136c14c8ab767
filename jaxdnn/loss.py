"""Binary cross-entropy, computed from the output logits ``Z_L``.

``loss(z, y) = -(y log sigmoid(z) + (1 - y) log sigmoid(-z)) = max(z, 0) - z y + log(1 + exp(-|z|))``,
evaluated in the last form, so the cost and its gradient stay finite for logits of +-1e4 even in
float32. This equals
the course's ``-(y log A + (1 - y) log(1 - A))`` with ``A = sigmoid(z)`` wherever that is finite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdnn.checks import check_problem
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
    # -(Y log sigmoid(Z) + (1 - Y) log sigmoid(-Z)) = max(Z, 0) - Z Y + log(1 + exp(-|Z|)), with
    # one exp and one log1p instead of two log-sigmoids. Written with where(Z > 0, ...) so that
    # jax.grad at Z == 0 is sigmoid(0) - Y = 0.5 - Y (max and abs would give -Y there).
    relu = jnp.where(Z > 0, Z, jnp.zeros_like(Z))  # max(Z, 0)
    neg_abs = jnp.where(Z > 0, -Z, Z)  # -|Z|
    return relu - Z * Y + jnp.log1p(jnp.exp(neg_abs))


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
