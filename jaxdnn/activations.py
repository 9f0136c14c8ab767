"""Activation functions, each with its hand-written derivative.

Contract: every activation ``g`` maps an array ``Z`` of any shape to ``g(Z)`` of the same shape and
dtype, elementwise. ``derivative(name)(Z)`` returns ``g'(Z)`` elementwise, written by hand (never by
``jax.grad``), so the backward pass in :mod:`jaxdnn.backward` is the course's equation
``dZ = dA * g'(Z)``.

Convention at kinks: relu and leaky_relu take the derivative of the right-open branch at exactly 0:
``relu'(0) = 0`` and ``leaky_relu'(0) = LEAKY_SLOPE``. The forward functions are written with
``jnp.where(Z > 0, ...)`` so that ``jax.grad`` of the forward function gives the same value at 0,
and hand-derived and automatic gradients agree bit for bit there too.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

LEAKY_SLOPE = 0.01
"""Slope of leaky_relu for negative inputs (the course's value)."""


def sigmoid(Z):
    """``1 / (1 + exp(-Z))``, elementwise."""
    return jax.nn.sigmoid(Z)


def tanh(Z):
    """``tanh(Z)``, elementwise."""
    return jnp.tanh(Z)


def relu(Z):
    """``max(Z, 0)``; written as ``where(Z > 0, Z, 0)`` so ``jax.grad`` gives 0 at ``Z == 0``."""
    return jnp.where(Z > 0, Z, jnp.zeros_like(Z))


def leaky_relu(Z):
    """``Z`` for ``Z > 0``, else ``LEAKY_SLOPE * Z``."""
    return jnp.where(Z > 0, Z, LEAKY_SLOPE * Z)


def linear(Z):
    """The identity."""
    return Z


def sigmoid_derivative(Z):
    s = jax.nn.sigmoid(Z)
    return s * (1 - s)  # g'(Z) = s (1 - s)


def tanh_derivative(Z):
    t = jnp.tanh(Z)
    return 1 - t * t  # g'(Z) = 1 - tanh^2(Z)


def relu_derivative(Z):
    return (Z > 0).astype(Z.dtype)  # g'(Z) = 1[Z > 0]; 0 at Z == 0


def leaky_relu_derivative(Z):
    return jnp.where(Z > 0, jnp.ones_like(Z), jnp.full_like(Z, LEAKY_SLOPE))


def linear_derivative(Z):
    return jnp.ones_like(Z)


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "linear": (linear, linear_derivative),
}
"""Name -> (g, g') for every activation the library knows."""


def activation(name: str) -> Callable:
    """The activation function called ``name`` (see :data:`ACTIVATIONS`)."""
    return _lookup(name)[0]


def derivative(name: str) -> Callable:
    """The hand-written derivative of the activation called ``name``."""
    return _lookup(name)[1]


def _lookup(name):
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None
