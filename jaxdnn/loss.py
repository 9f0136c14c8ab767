"""The costs, each paired with an output activation, computed from the output logits ``Z_L``.

=========  ==========================  ===============================================  ===========
output     cost                        per-example loss of one column ``z``, ``y``      ``dZ_L``
=========  ==========================  ===============================================  ===========
sigmoid    binary cross-entropy        ``sum_k max(z_k,0) - z_k y_k + log(1+e^-|z_k|)``  ``A_L - Y``
softmax    categorical cross-entropy   ``-sum_k y_k log_softmax(z)_k``                  ``A_L - Y``
linear     squared error               ``||z - y||^2 / 2``                              ``A_L - Y``
=========  ==========================  ===============================================  ===========

The cost is the mean of the per-example losses over the m examples (plus the L2 term). Every loss is
evaluated from the logits in a form that stays finite for logits of +-1e4 even in float32, and
equals the course's ``-(y log A + (1 - y) log(1 - A))`` (and optax's losses) wherever that is
finite. ``dZ_L = A_L - Y`` is the derivative of each example's loss with respect to ``Z_L`` for all
three pairs (for softmax, because each column of ``Y`` sums to 1).

Each row of the table is one :class:`OutputRule` in :data:`OUTPUT_RULES`; a new output is one new
entry there (and its name in :data:`jaxdnn.activations.OUTPUTS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdnn.checks import check_problem
from jaxdnn.forward import forward
from jaxdnn.regularization import has_l2, l2_penalty
from jaxdnn.typing import Activations, ArrayLike, Params, PRNGKey


def bce_from_logits(Z: ArrayLike, Y: ArrayLike) -> jax.Array:
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


def softmax_cross_entropy_from_logits(Z: ArrayLike, Y: ArrayLike) -> jax.Array:
    """Categorical cross-entropy of each column: ``-sum_k Y_k log softmax(Z)_k``.

    Args:
      Z: `(K, m)` logits, one example per column.
      Y: `(K, m)` one-hot labels (or class probabilities), each column summing to 1.

    Returns:
      `(m,)` per-example losses.
    """
    return -jnp.sum(Y * jax.nn.log_softmax(Z, axis=0), axis=0)  # log-sum-exp inside: finite


def squared_error(Z: ArrayLike, Y: ArrayLike) -> jax.Array:
    """Half the squared error of each column: ``||Z - Y||^2 / 2``.

    Args:
      Z: `(n_L, m)` outputs of a linear output layer (its logits are its outputs).
      Y: `(n_L, m)` real targets.

    Returns:
      `(m,)` per-example losses.
    """
    return 0.5 * jnp.sum(jnp.square(Z - Y), axis=0)


def _sigmoid_dZ(ZL, Y):
    e = jnp.exp(jnp.where(ZL > 0, -ZL, ZL))  # exp(-|Z_L|): the same exp the cost uses
    return jnp.where(ZL > 0, jnp.ones_like(ZL), e) / (1 + e) - Y  # sigmoid(Z_L) - Y


class OutputRule(NamedTuple):
    """An output activation's cost, written once: what every function below looks up.

    Attributes:
      loss: ``(Z_L, Y) -> (m,)`` per-example losses.
      total: ``(Z_L, Y) -> ()``, the sum of the per-example losses (for sigmoid one reduction over
        every entry, which is how the cost has always been summed).
      dZ: ``(Z_L, Y) -> (n_L, m)``, each example's loss differentiated by hand: ``A_L - Y``.
      dY: ``(Z_L, Y) -> (n_L, m)``, each example's loss differentiated with respect to ``Y``.
    """

    loss: Callable
    total: Callable
    dZ: Callable
    dY: Callable


OUTPUT_RULES = {
    "sigmoid": OutputRule(
        loss=lambda Z, Y: jnp.sum(bce_from_logits(Z, Y), axis=0),
        total=lambda Z, Y: jnp.sum(bce_from_logits(Z, Y)),
        dZ=_sigmoid_dZ,
        dY=lambda Z, Y: -Z),  # d/dY of max(Z,0) - Z Y + log(1 + e^-|Z|)
    "softmax": OutputRule(
        loss=softmax_cross_entropy_from_logits,
        total=lambda Z, Y: jnp.sum(softmax_cross_entropy_from_logits(Z, Y)),
        dZ=lambda Z, Y: jax.nn.softmax(Z, axis=0) - Y,
        dY=lambda Z, Y: -jax.nn.log_softmax(Z, axis=0)),
    "linear": OutputRule(
        loss=squared_error,
        total=lambda Z, Y: jnp.sum(squared_error(Z, Y)),
        dZ=lambda Z, Y: Z - Y,
        dY=lambda Z, Y: Y - Z),
}
"""The rule of each output activation (the keys are :data:`jaxdnn.activations.OUTPUTS`)."""


def loss_from_logits(ZL: jax.Array, Y: jax.Array, output: str) -> jax.Array:
    """Per-example losses of the cost that ``output`` names.

    Args:
      ZL: `(n_L, m)` output logits.
      Y: `(n_L, m)` labels.
      output: ``"sigmoid"``, ``"softmax"`` or ``"linear"``.

    Returns:
      `(m,)` losses, summed over the n_L outputs.
    """
    return OUTPUT_RULES[output].loss(ZL, Y)


def cost_from_logits(params, ZL, Y, output: str, l2=0.0):
    """``J = (1/m) sum_examples loss(Z_L, Y) [+ l2 / (2m) sum_l ||W_l||^2]``, a scalar."""
    m = ZL.shape[1]
    J = OUTPUT_RULES[output].total(ZL, Y) / m
    if has_l2(l2):
        J = J + l2_penalty(params, m, l2)
    return J


def output_dZ(ZL, Y, output: str):
    """``dZ_L = A_L - Y``: each example's loss differentiated by hand with respect to ``Z_L``."""
    return OUTPUT_RULES[output].dZ(ZL, Y)


def label_gradient(ZL, Y, output: str):
    """``dJ/dY`` of the mean cost (for the custom VJP): `(n_L, m)`."""
    return OUTPUT_RULES[output].dY(ZL, Y) / ZL.shape[1]


def cost(
    params: Params,
    X: ArrayLike,
    Y: ArrayLike,
    activations: Activations,
    *,
    l2: float = 0.0,
    keep_prob: float | None = None,
    key: PRNGKey | None = None,
    batch_stats=None,
) -> jax.Array:
    """The mean cost of the network on ``(X, Y)``; the output activation names it.

    ``J = (1/m) sum_examples loss(Z_L, Y) [+ l2 / (2m) sum_l ||W_l||^2]``: binary cross-entropy
    summed over the n_L independent sigmoid outputs, categorical cross-entropy over a softmax's n_L
    classes, or half the squared error of a linear output (see the table above).

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      X: `(n_x, m)` inputs.
      Y: `(n_L, m)` labels: in [0, 1] for sigmoid; one-hot columns for softmax (see
        :func:`jaxdnn.one_hot`); real numbers for linear. A `(m,)` vector is an error, not
        broadcast.
      activations: L names; the last one of ``"sigmoid"``, ``"softmax"``, ``"linear"``.
      l2: L2 regularisation strength lambda (0 = none).
      keep_prob: inverted-dropout keep probability for hidden layers (None = no dropout).
      key: PRNG key for dropout masks.
      batch_stats: for a batch-norm network, None to normalise with the batch's statistics (the
        training cost), or the running statistics :func:`jaxdnn.fit` returns (the cost at
        inference), as in :func:`jaxdnn.forward`.

    Returns:
      the scalar cost, of the params' dtype.
    """
    X, Y, activations = check_problem(params, X, Y, activations, l2, keep_prob, key)
    _, caches = forward(params, X, activations, keep_prob=keep_prob, key=key,
                        batch_stats=batch_stats)
    return cost_from_logits(params, caches[-1].Z, Y, activations[-1], l2)
