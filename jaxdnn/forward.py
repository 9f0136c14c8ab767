"""Forward propagation: ``Z_l = W_l A_{l-1} + b_l``, ``A_l = g_l(Z_l)``, ``A_0 = X``.

A batch-normalised layer (``{"W", "gamma", "beta"}``) computes ``Z_l = W_l A_{l-1}``,
``Z_tilde_l = BN(Z_l)``, ``A_l = g_l(Z_tilde_l)`` (see :mod:`jaxdnn.batchnorm`).

Contract: ``X`` is ``(n_x, m)``, one example per column; ``params`` is the list of ``{"W", "b"}``
dicts of :func:`jaxdnn.init_params`; ``activations`` is a tuple of names, one per layer (static
under ``jit``). Inputs are checked on entry (see :mod:`jaxdnn.checks`).
"""

from __future__ import annotations

import dataclasses

import jax

from jaxdnn.batchnorm import batchnorm_activation_forward, check_batch_stats, is_batchnorm
from jaxdnn.checks import check_network, check_regularization
from jaxdnn.layers import LayerCache, linear_activation_forward
from jaxdnn.regularization import dropout_masks
from jaxdnn.typing import Activations, ArrayLike, Params, PRNGKey


def forward(
    params: Params,
    X: ArrayLike,
    activations: Activations,
    *,
    keep_prob: float | None = None,
    key: PRNGKey | None = None,
    batch_stats=None,
) -> tuple[jax.Array, list[LayerCache]]:
    """Forward propagation through all L layers, one :func:`jaxdnn.linear_activation_forward` each.

    Args:
      params: list of L dicts ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}``; a hidden layer may be
        batch-normalised, ``{"W", "gamma": (n_l, 1), "beta": (n_l, 1)}``.
      X: `(n_x, m)` inputs, one example per column, of the params' dtype.
      activations: tuple of L activation names, e.g. ``("relu", "relu", "sigmoid")``; softmax only
        as the last.
      keep_prob: optional inverted-dropout keep probability for the hidden layers.
      key: PRNG key for the dropout masks (needed when ``keep_prob < 1``).
      batch_stats: None to normalise batch-norm layers with the batch's own statistics
        (training mode, ``m >= 2``), or their running statistics (inference: any ``m``), the
        list :func:`jaxdnn.fit` returns (see :mod:`jaxdnn.batchnorm`).

    Returns:
      ``(AL, caches)``: ``AL = g_L(Z_L)`` of shape `(n_L, m)`, and a list of L
      :class:`jaxdnn.layers.LayerCache`: ``caches[l].linear`` holds the layer's input ``A_prev``
      (after dropout) and its ``W``, ``b``; ``caches[l].Z`` its pre-activation; for hidden layers
      under dropout ``caches[l].D`` is the scaled mask applied to its output; for batch-norm
      layers ``caches[l].Z`` is ``Z_tilde`` and ``caches[l].bn`` the batch's
      :class:`jaxdnn.BatchNormCache` (None in inference mode).
    """
    _, _, X, activations = check_network(params, X, activations)
    stats = check_batch_stats(params, batch_stats, X.shape[1]) or [None] * len(params)
    check_regularization(0.0, keep_prob, key, len(params))
    L = len(params)
    masks = [None] * (L - 1)
    if keep_prob is not None and keep_prob < 1:
        shapes = [(p["W"].shape[0], X.shape[1]) for p in params[:-1]]
        masks = dropout_masks(key, shapes, keep_prob, X.dtype)
    A = X
    caches = []
    for l, (p, name) in enumerate(zip(params, activations)):
        if is_batchnorm(p):  # Z = W A_prev, Z_tilde = BN(Z), A = g(Z_tilde): (n_l, m)
            A, cache = batchnorm_activation_forward(A, p["W"], p["gamma"], p["beta"], name,
                                                    stats[l])
        else:
            A, cache = linear_activation_forward(A, p["W"], p["b"], name)  # (n_l, m)
        if l < L - 1 and masks[l] is not None:
            A = A * masks[l]  # inverted dropout: A_l * D_l / keep_prob
            cache = dataclasses.replace(cache, D=masks[l])
        caches.append(cache)
    return A, caches
