"""Prediction and accuracy, as the output activation calls for.

``sigmoid``: each output thresholded at 0.5 (0.0 or 1.0); ``softmax``: the argmax class of each
column; ``linear``: the outputs themselves (a regression has no accuracy: use :func:`jaxdnn.cost`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdnn.checks import check_prediction_args, check_problem_args, checked
from jaxdnn.forward import forward
from jaxdnn.typing import Activations, ArrayLike, Params


@checked(check_prediction_args)
def predict(params: Params, X: ArrayLike, activations: Activations) -> jax.Array:
    """Predictions of the network for the examples in ``X``.

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      X: `(n_x, m)` inputs.
      activations: L names; the last one of ``"sigmoid"``, ``"softmax"``, ``"linear"``.

    Returns:
      sigmoid: `(n_L, m)` array of 0.0 and 1.0 (``A_L > 0.5``), in the params' dtype;
      softmax: `(m,)` integer class indices (``argmax`` of each column of ``A_L``);
      linear: `(n_L, m)` outputs ``A_L``.
    """
    AL, _ = forward(params, X, activations)
    output = activations[-1]
    if output == "sigmoid":
        return (AL > 0.5).astype(AL.dtype)
    if output == "softmax":
        return jnp.argmax(AL, axis=0)
    return AL


def _check_accuracy_args(params, X, Y, activations, **kwargs):
    replaced = check_problem_args(params, X, Y, activations, **kwargs)
    if replaced["activations"][-1] == "linear":
        raise ValueError("accuracy is for classifiers; a linear output is a regression: compare "
                         "it with jaxdnn.cost (the squared error) instead")
    return replaced


@checked(_check_accuracy_args)
def accuracy(params: Params, X: ArrayLike, Y: ArrayLike, activations: Activations) -> jax.Array:
    """Fraction of predictions that :func:`predict` gets right, in the params' dtype.

    sigmoid: the fraction of the n_L x m entries of ``Y`` that ``A_L > 0.5`` matches; softmax: the
    fraction of examples whose argmax class is the argmax of their one-hot column of ``Y``.

    Raises:
      ValueError: for a linear output (a regression has no accuracy; use the cost).
    """
    AL, _ = forward(params, X, activations)
    if activations[-1] == "softmax":
        right = jnp.argmax(AL, axis=0) == jnp.argmax(Y, axis=0)  # (m,)
        return jnp.mean(right.astype(Y.dtype), dtype=Y.dtype)
    return jnp.mean((AL > 0.5).astype(Y.dtype) == Y, dtype=Y.dtype)  # in the params' dtype
