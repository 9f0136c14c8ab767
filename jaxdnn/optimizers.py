"""Update rules.

``gd_update`` is the course's plain step ``W -= lr * dW``. ``gradient_descent``, ``momentum`` and
``adam`` are the course's three update rules written by hand as optax ``GradientTransformation``
pairs, so they plug into any optax-style loop (and into ``optax.chain``)::

    opt = adam(0.0007)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)

Contract every transformation here follows:

- ``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)`` are pure:
  no side effects, no Python state, so ``jit``, ``vmap`` and ``grad`` apply where they are called.
- ``updates`` is the step to *add* to the params (optax's sign convention): ``-lr * direction``.
- Every leaf keeps its dtype: hyperparameters are cast to the leaf's dtype before they touch it, so
  float32 params stay float32 even when the learning rate is a float64 tracer.
- Hyperparameters may be Python numbers or (traced) scalar arrays, so ``jax.vmap`` over learning
  rates works. Concrete values are checked at construction and raise ``ValueError`` when out of
  range; traced values cannot be checked (there is no host value) and are trusted.
- States are ``NamedTuple``\\s whose moment trees have the structure and dtypes of the params.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdnn.checks import check_same_structure, is_concrete
from jaxdnn.checks import check_scalar as _check_hyper


def gd_update(params, grads, learning_rate):
    """One gradient-descent step: ``p - learning_rate * g`` for every leaf.

    Args:
      params: any pytree of arrays (the library's list of ``{"W", "b"}`` dicts).
      grads: a pytree of the same structure and shapes.
      learning_rate: scalar step size (a Python float or a traced scalar, so it can be vmapped).

    Returns:
      the updated params, same structure and dtypes.
    """
    check_same_structure(params, grads, "params", "grads")
    for name, tree in (("params", params), ("grads", grads)):
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            if not isinstance(leaf, (jax.Array, np.ndarray, jax.core.Tracer)):
                raise TypeError(f"{name}{jax.tree_util.keystr(path)} must be an array, "
                                f"got {type(leaf).__name__}")
    _check_lr(learning_rate)
    return jax.tree.map(lambda p, g: p - (learning_rate * g).astype(p.dtype), params, grads)


# ----------------------------------------------------------------------------------------------
# hyperparameter checks


def _check_lr(learning_rate):
    return _check_hyper("learning_rate", learning_rate, low=0.0, low_inclusive=False)


def _check_beta(name, beta):
    return _check_hyper(name, beta, low=0.0, low_inclusive=True, high=1.0)


def _ema(decay, averages, values):
    """``decay * average + (1 - decay) * value`` leaf by leaf: momentum's v, Adam's v and s."""
    return jax.tree.map(
        lambda a, x: _as(decay, x.dtype) * a + _as(1 - decay, x.dtype) * x, averages, values)


def _as(x, dtype):
    """Scalar hyperparameter ``x`` in the leaf's dtype (computed first, cast second, as optax)."""
    return jnp.asarray(x).astype(dtype)


# ----------------------------------------------------------------------------------------------
# gradient descent


def gradient_descent(learning_rate) -> optax.GradientTransformation:
    """The course's gradient descent as an optax transformation: ``W -= lr * dW``.

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar).

    Returns:
      ``optax.GradientTransformation`` whose state is ``optax.EmptyState()`` and whose
      ``update(grads, state, params=None)`` returns ``-lr * grads``.

    Raises:
      ValueError: if ``learning_rate`` is concrete and not a finite positive number.
    """
    learning_rate = _check_lr(learning_rate)

    def init(params):
        del params
        return optax.EmptyState()

    def update(grads, state, params=None):
        del params
        updates = jax.tree.map(
            lambda g: -_as(learning_rate, g.dtype) * g,  # W -= lr * dW
            grads)
        return updates, state

    return optax.GradientTransformation(init, update)


# ----------------------------------------------------------------------------------------------
# momentum


class MomentumState(NamedTuple):
    """State of ``momentum``.

    Attributes:
      v: exponentially weighted average of the gradients; same structure, shapes and dtypes as
        the params (``v["W"]`` is ``(n_l, n_{l-1})``, ``v["b"]`` is ``(n_l, 1)``).
    """

    v: Any


def momentum(learning_rate, beta: float = 0.9) -> optax.GradientTransformation:
    """Gradient descent with momentum, the course's form (an average, not optax's sum).

    ``v = beta * v + (1 - beta) * dW``, then ``W -= lr * v``, with ``v`` starting at zero. Unlike
    ``optax.sgd(lr, momentum=beta)`` (``v = beta * v + dW``), the gradient is scaled by
    ``1 - beta``, so the step size does not grow by ``1 / (1 - beta)``.

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar).
      beta: momentum decay in ``[0, 1)``; ``beta = 0`` is plain gradient descent.

    Returns:
      ``optax.GradientTransformation`` with state ``MomentumState(v)``.

    Raises:
      ValueError: if a concrete hyperparameter is out of range.
    """
    learning_rate = _check_lr(learning_rate)
    beta = _check_beta("beta", beta)

    def init(params):
        return MomentumState(v=jax.tree.map(jnp.zeros_like, params))  # v_dW = 0, same shape as W

    def update(grads, state, params=None):
        del params
        check_same_structure(state.v, grads, "the momentum state", "grads")
        v = _ema(beta, state.v, grads)  # v = beta v + (1 - beta) dW
        updates = jax.tree.map(lambda v: -_as(learning_rate, v.dtype) * v, v)  # W -= lr * v
        return updates, MomentumState(v=v)

    return optax.GradientTransformation(init, update)


# ----------------------------------------------------------------------------------------------
# Adam


class AdamState(NamedTuple):
    """State of ``adam``.

    Attributes:
      count: number of updates taken so far, ``t``; an int32 scalar array.
      v: first moment, the average of the gradients; same structure, shapes and dtypes as params.
      s: second moment, the average of the squared gradients; same structure as params.
    """

    count: jax.Array
    v: Any
    s: Any


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam, as written in the course.

    With ``t`` the step number (1 on the first update) and ``v``, ``s`` starting at zero::

        v = b1 v + (1 - b1) dW            v_hat = v / (1 - b1^t)
        s = b2 s + (1 - b2) dW^2          s_hat = s / (1 - b2^t)
        W -= lr * v_hat / (sqrt(s_hat) + eps)

    This is the same rule as ``optax.adam(lr, b1, b2, eps)`` (with ``eps_root = 0``).

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar).
      b1: decay of the first moment, in ``[0, 1)``.
      b2: decay of the second moment, in ``[0, 1)``.
      eps: ``eps > 0`` added to ``sqrt(s_hat)`` so the division is safe.

    Returns:
      ``optax.GradientTransformation`` with state ``AdamState(count, v, s)``.

    Raises:
      ValueError: if a concrete hyperparameter is out of range.
    """
    learning_rate = _check_lr(learning_rate)
    b1 = _check_beta("b1", b1)
    b2 = _check_beta("b2", b2)
    eps = _check_hyper("eps", eps, low=0.0, low_inclusive=False)

    def init(params):
        zeros = lambda: jax.tree.map(jnp.zeros_like, params)  # noqa: E731
        return AdamState(count=jnp.zeros((), jnp.int32), v=zeros(), s=zeros())

    def update(grads, state, params=None):
        del params
        check_same_structure(state.v, grads, "the Adam state", "grads")
        v = _ema(b1, state.v, grads)  # v = b1 v + (1 - b1) dW
        s = _ema(b2, state.s, jax.tree.map(lambda g: g * g, grads))  # s = b2 s + (1 - b2) dW^2
        count = state.count + jnp.ones((), jnp.int32)  # t += 1
        # 1 - b^t in the default float (float64 under x64), cast per leaf only at the division:
        # computing b^t in a low precision could round it to 1 and divide by zero.
        bc1 = 1 - jnp.asarray(b1) ** count
        bc2 = 1 - jnp.asarray(b2) ** count

        def step(v, s):
            v_hat = v / bc1.astype(v.dtype)  # v_hat = v / (1 - b1^t)
            s_hat = s / bc2.astype(s.dtype)  # s_hat = s / (1 - b2^t)
            # W -= lr * v_hat / (sqrt(s_hat) + eps)
            return -_as(learning_rate, v.dtype) * (v_hat / (jnp.sqrt(s_hat) + _as(eps, v.dtype)))

        updates = jax.tree.map(step, v, s)
        return updates, AdamState(count=count, v=v, s=s)

    return optax.GradientTransformation(init, update)
