"""The course's layer building blocks: one layer's forward and backward pass.

Every network-level function in jaxdnn (:func:`jaxdnn.forward`, :func:`jaxdnn.backward`,
:func:`jaxdnn.backward_from`, the value-and-grads and the custom-VJP cost) is a loop over these
four, so each equation is written once, here::

    linear_forward:              Z = W A_prev + b                    # (n_l, m)
    linear_activation_forward:   A = g(Z)                            # (n_l, m)
    linear_backward:             dW = dZ A_prev^T / m                # (n_l, n_{l-1})
                                 db = sum(dZ, axis=1) / m            # (n_l, 1)
                                 dA_prev = W^T dZ                    # (n_{l-1}, m)
    linear_activation_backward:  dZ = dA * g'(Z)  (softmax: its Jacobian-vector product)

The course's conventions: ``dA`` and ``dZ`` are derivatives of each example's loss (one column per
example, no ``1/m``); ``dW`` and ``db`` are derivatives of the mean cost (they carry the ``1/m``);
``dA_prev`` does not. Caches are NamedTuples that unpack like the course's tuples:
``A_prev, W, b = linear_cache`` and ``linear_cache, Z = cache[:2]``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from jaxdnn import activations as _act
from jaxdnn.checks import (
    check_layer_args,
    check_layer_backward_args,
    check_linear_args,
    check_linear_backward_args,
    checked,
)
from jaxdnn.typing import ArrayLike


class LinearCache(NamedTuple):
    """What :func:`linear_backward` needs of a layer: its input and parameters."""

    A_prev: jax.Array  # (n_{l-1}, m), the layer's input (after dropout, in a network)
    W: jax.Array  # (n_l, n_{l-1})
    b: jax.Array  # (n_l, 1)


class LayerCache(NamedTuple):
    """What :func:`linear_activation_backward` needs: the linear cache and the pre-activation.

    ``D`` is set by :func:`jaxdnn.forward` under dropout: the scaled mask ``D_l / keep_prob`` that
    was applied to this layer's output ``A_l``; None otherwise.
    """

    linear: LinearCache
    Z: jax.Array  # (n_l, m)
    D: jax.Array | None = None  # (n_l, m)


@checked(check_linear_args)
def linear_forward(A_prev: ArrayLike, W: ArrayLike, b: ArrayLike) -> tuple[jax.Array, LinearCache]:
    """The linear part of a layer: ``Z = W A_prev + b``.

    Args:
      A_prev: `(n_{l-1}, m)` activations of the previous layer (``X`` for the first).
      W: `(n_l, n_{l-1})` weights.
      b: `(n_l, 1)` biases.

    Returns:
      ``(Z, cache)``: ``Z`` of shape `(n_l, m)`, and ``LinearCache(A_prev, W, b)`` for
      :func:`linear_backward`.
    """
    Z = W @ A_prev + b  # (n_l, m)
    return Z, LinearCache(A_prev, W, b)


@checked(check_layer_args)
def linear_activation_forward(
    A_prev: ArrayLike, W: ArrayLike, b: ArrayLike, activation: str
) -> tuple[jax.Array, LayerCache]:
    """One whole layer: ``A = g(W A_prev + b)``.

    Args:
      A_prev: `(n_{l-1}, m)` activations of the previous layer.
      W: `(n_l, n_{l-1})` weights.
      b: `(n_l, 1)` biases.
      activation: the name of ``g``, one of :data:`jaxdnn.ACTIVATIONS`.

    Returns:
      ``(A, cache)``: ``A`` of shape `(n_l, m)`, and ``LayerCache(linear_cache, Z)`` for
      :func:`linear_activation_backward`.
    """
    Z, linear_cache = linear_forward(A_prev, W, b)
    A = _act.activation(activation)(Z)  # (n_l, m)
    return A, LayerCache(linear_cache, Z)


@checked(check_linear_backward_args)
def linear_backward(
    dZ: ArrayLike, cache: LinearCache
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The linear part of a layer backwards, from ``dZ`` to the gradients and ``dA_prev``.

    Args:
      dZ: `(n_l, m)` derivative of each example's loss with respect to ``Z``.
      cache: the ``LinearCache(A_prev, W, b)`` of :func:`linear_forward` (or the course's tuple).

    Returns:
      ``(dA_prev, dW, db)``: ``dA_prev = W^T dZ`` `(n_{l-1}, m)` (per example, no ``1/m``), and the
      mean cost's ``dW = dZ A_prev^T / m`` `(n_l, n_{l-1})` and ``db = sum(dZ) / m`` `(n_l, 1)`.
    """
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    if dZ.shape[0] == 1:  # a one-unit layer: the same products without copying A_prev^T
        dW = (A_prev @ dZ.T).T / m  # (1, n_{l-1})
    else:
        dW = dZ @ A_prev.T / m  # (n_l, n_{l-1})
    db = dZ.sum(axis=1, keepdims=True) / m  # (n_l, 1)
    # dA_prev = W^T dZ. The barrier makes XLA materialise W^T (small) so that its CPU backend runs
    # a plain GEMM rather than its slow transposed-operand path (wide net: 96 -> 49 ms).
    dA_prev = jax.lax.optimization_barrier(W.T) @ dZ  # (n_{l-1}, m)
    return dA_prev, dW, db


@checked(check_layer_backward_args)
def linear_activation_backward(
    dA: ArrayLike, cache: LayerCache, activation: str
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One whole layer backwards: ``dZ = dA * g'(Z)``, then :func:`linear_backward`.

    Args:
      dA: `(n_l, m)` derivative of each example's loss with respect to the layer's output ``A``.
      cache: the ``LayerCache`` of :func:`linear_activation_forward`.
      activation: the name of the layer's ``g``; for ``"softmax"`` the hand-written Jacobian-vector
        product ``dZ = A * (dA - sum(A * dA, axis=0))``.

    Returns:
      ``(dA_prev, dW, db)`` as :func:`linear_backward`.
    """
    dZ = _act.activation_backward(activation)(dA, cache.Z)  # (n_l, m)
    return linear_backward(dZ, cache.linear)
