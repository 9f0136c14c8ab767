"""Prediction and accuracy: threshold the sigmoid outputs at 0.5."""

from __future__ import annotations

import jax.numpy as jnp

from jaxdnn.checks import check_network, check_problem
from jaxdnn.forward import _forward


def predict(params, X, activations):
    """0/1 predictions ``A_L > 0.5``.

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      X: ``(n_x, m)`` inputs.
      activations: L names; the last must be ``"sigmoid"``.

    Returns:
      ``(n_L, m)`` array of 0.0 and 1.0, in the params' dtype.
    """
    _, dtype, X, acts = check_network(params, X, activations, sigmoid_output=True)
    AL, _ = _forward(params, X, acts)
    return (AL > 0.5).astype(dtype)


def accuracy(params, X, Y, activations):
    """Fraction of entries of ``Y`` (shape ``(n_L, m)``) that :func:`predict` gets right."""
    X, Y, acts = check_problem(params, X, Y, activations)
    AL, _ = _forward(params, X, acts)
    return jnp.mean((AL > 0.5).astype(Y.dtype) == Y, dtype=Y.dtype)  # in the params' dtype
