"""Prediction and accuracy, as the output activation calls for.

``sigmoid``: each output thresholded at 0.5 (0.0 or 1.0); ``softmax``: the argmax class of each
column; ``linear``: the outputs themselves (a regression has no accuracy: use :func:`jaxdnn.cost`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdnn.batchnorm import require_batch_stats
from jaxdnn.checks import check_network, check_problem
from jaxdnn.forward import forward
from jaxdnn.typing import Activations, ArrayLike, Params


def predict(params: Params, X: ArrayLike, activations: Activations, *,
            batch_stats=None) -> jax.Array:
    """Predictions of the network for the examples in ``X``.

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      X: `(n_x, m)` inputs.
      activations: L names; the last one of ``"sigmoid"``, ``"softmax"``, ``"linear"``.
      batch_stats: the running statistics of a batch-norm network (as :func:`jaxdnn.fit`
        returns them); required for one, None otherwise.

    Returns:
      sigmoid: `(n_L, m)` array of 0.0 and 1.0 (``A_L > 0.5``), in the params' dtype;
      softmax: `(m,)` integer class indices (``argmax`` of each column of ``A_L``);
      linear: `(n_L, m)` outputs ``A_L``.
    """
    _, _, X, activations = check_network(params, X, activations, output=True)
    require_batch_stats(params, batch_stats, "predict")
    AL, _ = forward(params, X, activations, batch_stats=batch_stats)
    output = activations[-1]
    if output == "sigmoid":
        return (AL > 0.5).astype(AL.dtype)
    if output == "softmax":
        return jnp.argmax(AL, axis=0)
    return AL


def accuracy(params: Params, X: ArrayLike, Y: ArrayLike, activations: Activations, *,
             batch_stats=None) -> jax.Array:
    """Fraction of predictions that :func:`predict` gets right, in the params' dtype: their count
    over their number, correctly rounded (exactly 1.0 for a perfect classifier).

    sigmoid: the fraction of the n_L x m entries of ``Y`` that ``A_L > 0.5`` matches; softmax: the
    fraction of examples whose argmax class is the argmax of their one-hot column of ``Y``.
    ``batch_stats``: as for :func:`predict`.

    Raises:
      ValueError: for a linear output (a regression has no accuracy; use the cost).
    """
    X, Y, activations = check_problem(params, X, Y, activations)
    require_batch_stats(params, batch_stats, "accuracy")
    if activations[-1] == "linear":
        raise ValueError("accuracy is for classifiers; a linear output is a regression: compare "
                         "it with jaxdnn.cost (the squared error) instead")
    AL, _ = forward(params, X, activations, batch_stats=batch_stats)
    if activations[-1] == "softmax":
        right = jnp.argmax(AL, axis=0) == jnp.argmax(Y, axis=0)  # (m,)
    else:
        right = (AL > 0.5).astype(Y.dtype) == Y  # (n_L, m)
    # the count of right predictions over their number, correctly rounded in every dtype (1.0 for a
    # perfect classifier): the barrier keeps XLA from replacing the division by the constant with a
    # multiplication by its rounded reciprocal
    count = jnp.sum(right, dtype=jnp.int32).astype(Y.dtype)
    return count / jax.lax.optimization_barrier(jnp.asarray(right.size, Y.dtype))
