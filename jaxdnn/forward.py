"""Forward propagation: ``Z_l = W_l A_{l-1} + b_l``, ``A_l = g_l(Z_l)``, ``A_0 = X``.

Contract: ``X`` is ``(n_x, m)``, one example per column; ``params`` is the list of ``{"W", "b"}``
dicts of :func:`jaxdnn.init_params`; ``activations`` is a tuple of names, one per layer (static
under ``jit``). Shapes are checked at entry (see :mod:`jaxdnn.checks`).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxdnn import activations as _act
from jaxdnn.checks import check_network
from jaxdnn.regularization import check_regularization, dropout_masks


def forward(params, X, activations, *, keep_prob=None, key=None):
    """Forward propagation through all L layers.

    Args:
      params: list of L dicts ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}``.
      X: ``(n_x, m)`` inputs, one example per column, of the params' dtype.
      activations: tuple of L activation names, e.g. ``("relu", "relu", "sigmoid")``.
      keep_prob: optional inverted-dropout keep probability for the hidden layers.
      key: PRNG key for the dropout masks (needed when ``keep_prob < 1``).

    Returns:
      ``(AL, caches)``: ``AL = g_L(Z_L)`` of shape ``(n_L, m)``, and a list of L dicts with
      ``"A_prev"`` (the layer's input, after dropout), ``"Z"`` (its pre-activation) and, for hidden
      layers under dropout, ``"D"`` (the scaled mask applied to its output).
    """
    dims, dtype, X, acts = check_network(params, X, activations)
    check_regularization(0.0, keep_prob, key, len(params))
    return _forward(params, X, acts, keep_prob, key)


def _forward(params, X, activations, keep_prob=None, key=None):
    """:func:`forward` on checked inputs."""
    L = len(params)
    masks = [None] * (L - 1)
    if keep_prob is not None and keep_prob < 1:
        shapes = [(p["W"].shape[0], X.shape[1]) for p in params[:-1]]
        masks = dropout_masks(key, shapes, keep_prob, X.dtype)
    A = X
    caches = []
    for l, (p, name) in enumerate(zip(params, activations)):
        Z = p["W"] @ A + p["b"]  # (n_l, m)
        cache = {"A_prev": A, "Z": Z}
        A = _act.activation(name)(Z)  # (n_l, m)
        if l < L - 1 and masks[l] is not None:
            A = A * masks[l]  # inverted dropout: A_l * D_l / keep_prob
            cache["D"] = masks[l]
        caches.append(cache)
    return A, caches
