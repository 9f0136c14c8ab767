"""Activation functions, each with its hand-written derivative.

Contract: every activation ``g`` maps an array ``Z`` of shape ``(n_l, m)`` to ``g(Z)`` of the same
shape and dtype. :func:`activation_backward` gives ``dZ = dA dg/dZ`` for each, written by hand
(never by ``jax.grad``): for the elementwise activations it is the course's ``dZ = dA * g'(Z)`` with
``derivative(name)(Z) = g'(Z)``; for ``softmax``, which mixes the n_l entries of each column, it is
the Jacobian-vector product ``dZ = A * (dA - sum(A * dA, axis=0))`` with ``A = softmax(Z)``.

Where each may stand: ``OUTPUTS`` names the output activations, each paired with its cost in
:mod:`jaxdnn.loss`; ``softmax`` is an output activation only (its columns sum to 1, which a hidden
layer has no use for), every other name may be a hidden layer.

Convention at kinks: relu and leaky_relu take the derivative of the right-open branch at exactly 0:
``relu'(0) = 0`` and ``leaky_relu'(0) = LEAKY_SLOPE``. The forward functions are written with
``jnp.where(Z > 0, ...)`` so that ``jax.grad`` of the forward function gives the same value at 0,
and hand-derived and automatic gradients agree bit for bit there too.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

LEAKY_SLOPE = 0.01
"""Slope of leaky_relu for negative inputs (the course's value)."""


def sigmoid(Z: ArrayLike) -> jax.Array:
    """``1 / (1 + exp(-Z))``, elementwise."""
    return jax.nn.sigmoid(Z)


def tanh(Z: ArrayLike) -> jax.Array:
    """``tanh(Z)``, elementwise."""
    return jnp.tanh(Z)


def relu(Z: ArrayLike) -> jax.Array:
    """``max(Z, 0)``; written as ``where(Z > 0, Z, 0)`` so ``jax.grad`` gives 0 at ``Z == 0``."""
    return jnp.where(Z > 0, Z, jnp.zeros_like(Z))


def leaky_relu(Z: ArrayLike) -> jax.Array:
    """``Z`` for ``Z > 0``, else ``LEAKY_SLOPE * Z``."""
    return jnp.where(Z > 0, Z, LEAKY_SLOPE * Z)


def linear(Z: ArrayLike) -> jax.Array:
    """The identity."""
    return Z


def softmax(Z: ArrayLike) -> jax.Array:
    """``exp(Z) / sum(exp(Z), axis=0)``: each column (one example's n_l logits) to probabilities."""
    return jax.nn.softmax(Z, axis=0)


def sigmoid_derivative(Z: jax.Array) -> jax.Array:
    s = jax.nn.sigmoid(Z)
    return s * (1 - s)  # g'(Z) = s (1 - s)


def tanh_derivative(Z: jax.Array) -> jax.Array:
    t = jnp.tanh(Z)
    return 1 - t * t  # g'(Z) = 1 - tanh^2(Z)


def relu_derivative(Z: jax.Array) -> jax.Array:
    return (Z > 0).astype(Z.dtype)  # g'(Z) = 1[Z > 0]; 0 at Z == 0


def leaky_relu_derivative(Z: jax.Array) -> jax.Array:
    return jnp.where(Z > 0, jnp.ones_like(Z), jnp.full_like(Z, LEAKY_SLOPE))


def linear_derivative(Z: jax.Array) -> jax.Array:
    return jnp.ones_like(Z)


def softmax_backward(dA: jax.Array, Z: jax.Array) -> jax.Array:
    """``dZ = J_softmax(Z)^T dA`` column by column, written by hand.

    With ``A = softmax(Z)`` the Jacobian of one column is ``diag(A) - A A^T`` (symmetric), so
    ``dZ_i = A_i (dA_i - sum_k A_k dA_k)``.
    """
    A = softmax(Z)  # (n_l, m)
    return A * (dA - jnp.sum(A * dA, axis=0, keepdims=True))  # (n_l, m)


ACTIVATIONS: dict[str, tuple[Callable, Callable | None]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "linear": (linear, linear_derivative),
    "softmax": (softmax, None),  # not elementwise: see softmax_backward
}
"""Name -> (g, g') for every activation the library knows (g' is None for softmax)."""

OUTPUTS = ("sigmoid", "softmax", "linear")
"""Output activations; each names the cost it is paired with (see :mod:`jaxdnn.loss`)."""

HIDDEN = tuple(name for name in ACTIVATIONS if name != "softmax")
"""Activations a hidden layer may use."""


def activation(name: str) -> Callable:
    """The activation function called ``name`` (see :data:`ACTIVATIONS`)."""
    return _lookup(name)[0]


def derivative(name: str) -> Callable:
    """The hand-written elementwise derivative ``g'`` of the activation called ``name``.

    Raises:
      ValueError: for ``"softmax"``, which has a Jacobian rather than an elementwise derivative; use
        :func:`activation_backward`.
    """
    g_prime = _lookup(name)[1]
    if g_prime is None:
        raise ValueError(f"{name!r} is not elementwise and has no derivative g'(Z); "
                         "use activation_backward(name)(dA, Z)")
    return g_prime


def activation_backward(name: str) -> Callable:
    """``(dA, Z) -> dZ``, the hand-written backward step through the activation called ``name``.

    ``dZ = dA * g'(Z)`` for the elementwise activations, :func:`softmax_backward` for softmax.
    """
    if name == "softmax":
        return softmax_backward
    g_prime = derivative(name)
    return lambda dA, Z: dA * g_prime(Z)  # dZ = dA * g'(Z), (n_l, m)


def _lookup(name):
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None
