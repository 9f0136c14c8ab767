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
``dA_prev`` does not. Caches unpack like the course's tuples: ``A_prev, W, b = linear_cache`` and
``linear_cache, activation_cache = cache`` (the activation cache is ``Z``).

Each block checks its own few shapes and dtypes on entry (static under ``jit``: free at run time).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdnn import activations as act
from jaxdnn.checks import is_array
from jaxdnn.typing import ArrayLike


class LinearCache(NamedTuple):
    """What :func:`linear_backward` needs of a layer: its input and parameters."""

    A_prev: jax.Array  # (n_{l-1}, m), the layer's input (after dropout, in a network)
    W: jax.Array  # (n_l, n_{l-1})
    b: jax.Array | None  # (n_l, 1); None in a batch-normalised layer (beta takes its place)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LayerCache:
    """What :func:`linear_activation_backward` needs: the linear cache and the pre-activation ``Z``.

    Unpacks as the course's pair: ``linear_cache, activation_cache = cache``. ``D`` is set by
    :func:`jaxdnn.forward` under dropout: the scaled mask ``D_l / keep_prob`` that was applied to
    this layer's output ``A_l``; None otherwise. In a batch-normalised layer (see
    :func:`jaxdnn.batchnorm.batchnorm_activation_forward`) ``Z`` is ``g``'s input ``Z_tilde``
    and ``bn`` the :class:`jaxdnn.BatchNormCache` of training mode (None at inference).
    """

    linear: LinearCache
    Z: jax.Array  # (n_l, m)
    D: jax.Array | None = None  # (n_l, m)
    bn: tuple | None = None  # a BatchNormCache (Z_norm, gamma, mean, var, inv_std)

    def __iter__(self):
        return iter((self.linear, self.Z))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (self.linear, self.Z)[i]


def _array(x, what: str, shape, dtype, why: str):
    """``x`` as a floating array of ``shape`` (None: any 2-D) and ``dtype`` (None: any float)."""
    if not is_array(x):
        raise TypeError(f"{what} must be an array (numpy or jax), got {type(x).__name__}")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{what} must be a floating array, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{what} has dtype {x.dtype}, expected {dtype} like the layer's W")
    if shape is not None and x.shape != shape:
        raise ValueError(f"{what} must have shape {shape} ({why}), got {x.shape}")
    return x


def _linear_cache(cache, what="cache") -> LinearCache:
    if not (isinstance(cache, tuple) and len(cache) == 3):
        raise TypeError(f"{what} must be the LinearCache (A_prev, W, b) that linear_forward "
                        f"returned, got {type(cache).__name__}")
    A_prev, W, b = cache
    W = _array(W, "W", None, None, "")
    n, n_prev = W.shape
    A_prev = _array(A_prev, "A_prev", (n_prev, jnp.shape(A_prev)[-1]), W.dtype,
                    f"W is {W.shape}: n_prev = {n_prev} rows")
    return LinearCache(A_prev, W, None if b is None else _array(
        b, "b", (n, 1), W.dtype, f"W is {W.shape}: one bias per unit, as a column"))


def linear_forward(
    A_prev: ArrayLike, W: ArrayLike, b: ArrayLike | None
) -> tuple[jax.Array, LinearCache]:
    """The linear part of a layer: ``Z = W A_prev + b``.

    Args:
      A_prev: `(n_{l-1}, m)` activations of the previous layer (``X`` for the first).
      W: `(n_l, n_{l-1})` weights.
      b: `(n_l, 1)` biases; None for ``Z = W A_prev`` (a batch-normalised layer, whose ``beta``
        takes the bias's place).

    Returns:
      ``(Z, cache)``: ``Z`` of shape `(n_l, m)`, and ``LinearCache(A_prev, W, b)`` for
      :func:`linear_backward`.
    """
    A_prev, W, b = cache = _linear_cache((A_prev, W, b))
    Z = W @ A_prev if b is None else W @ A_prev + b  # (n_l, m)
    return Z, cache


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
    g = act.activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    return g(Z), LayerCache(linear_cache, Z)  # A = g(Z): (n_l, m)


def linear_backward(
    dZ: ArrayLike, cache: LinearCache, *, grad_dtype=None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The linear part of a layer backwards, from ``dZ`` to the gradients and ``dA_prev``.

    Args:
      dZ: `(n_l, m)` derivative of each example's loss with respect to ``Z``.
      cache: the ``LinearCache(A_prev, W, b)`` of :func:`linear_forward` (or the course's tuple).
      grad_dtype: the dtype of ``dW`` and ``db``, their sums over the m examples accumulated in
        it; None (default): W's. Mixed precision passes float32 for a bfloat16 layer.

    Returns:
      ``(dA_prev, dW, db)``: ``dA_prev = W^T dZ`` `(n_{l-1}, m)` (per example, no ``1/m``), and the
      mean cost's ``dW = dZ A_prev^T / m`` `(n_l, n_{l-1})` and ``db = sum(dZ) / m`` `(n_l, 1)`
      (None when the cache's ``b`` is None).
    """
    A_prev, W, b = _linear_cache(cache)
    n, m = W.shape[0], A_prev.shape[1]
    dZ = _array(dZ, "dZ", (n, m), W.dtype,
                f"n_l = {n} units of W {W.shape} by m = {m} examples of the cache's A_prev")
    acc = None if grad_dtype is None or jnp.dtype(grad_dtype) == W.dtype else grad_dtype
    dW = jnp.matmul(dZ, A_prev.T, preferred_element_type=acc) / m  # (n_l, n_{l-1})
    db = None if b is None else dZ.sum(axis=1, keepdims=True, dtype=acc) / m  # (n_l, 1)
    dA_prev = W.T @ dZ  # (n_{l-1}, m)
    return dA_prev, dW, db


def linear_activation_backward(
    dA: ArrayLike, cache: LayerCache, activation: str, *, grad_dtype=None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One whole layer backwards: ``dZ = dA * g'(Z)``, then :func:`linear_backward`.

    Args:
      dA: `(n_l, m)` derivative of each example's loss with respect to the layer's output ``A``.
      cache: the ``LayerCache`` of :func:`linear_activation_forward`, or the course's pair
        ``(linear_cache, Z)``.
      activation: the name of the layer's ``g``; for ``"softmax"`` the hand-written Jacobian-vector
        product ``dZ = A * (dA - sum(A * dA, axis=0))``.
      grad_dtype: the dtype of ``dW`` and ``db``, as :func:`linear_backward`.

    Returns:
      ``(dA_prev, dW, db)`` as :func:`linear_backward`.
    """
    g_backward = act.activation_backward(activation)
    linear_cache, Z = as_layer_cache(cache)
    dA = _array(dA, "dA", Z.shape, Z.dtype, "the shape of the cache's Z")
    dZ = g_backward(dA, Z)  # (n_l, m)
    return linear_backward(dZ, linear_cache, grad_dtype=grad_dtype)


def as_layer_cache(cache, what: str = "cache") -> LayerCache:
    """A :class:`LayerCache` from one (or from the course's pair ``(linear_cache, Z)``), its shapes
    checked against each other."""
    if not (isinstance(cache, LayerCache | tuple) and len(cache) in (2, 3)):
        raise TypeError(f"{what} must be the LayerCache (linear_cache, Z) that "
                        f"linear_activation_forward returned, got {type(cache).__name__}")
    linear = _linear_cache(cache[0], f"{what}.linear")
    shape = (linear.W.shape[0], linear.A_prev.shape[1])
    Z = _array(cache[1], f"{what}.Z", shape, linear.W.dtype,
               f"the layer's W is {linear.W.shape} and its input has m = {shape[1]} columns")
    D, bn = (cache.D, cache.bn) if isinstance(cache, LayerCache) else (None, None)
    if D is not None:
        D = _array(D, f"{what}.D", shape, linear.W.dtype,
                   "the dropout mask is shaped like the layer's output")
    return LayerCache(linear, Z, D, bn)
