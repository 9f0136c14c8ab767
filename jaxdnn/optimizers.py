"""Update rules.

``gd_update`` is the course's plain step ``W -= lr * dW``. ``gradient_descent``, ``momentum``,
``rmsprop`` and ``adam`` are the course's update rules written by hand as optax
``GradientTransformation`` pairs, so they plug into any optax-style loop (and into
``optax.chain``)::

    opt = adam(0.0007)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)

Contract every transformation here follows:

- ``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)`` are pure:
  no side effects, no Python state, so ``jit``, ``vmap`` and ``grad`` apply where they are called.
- Hyperparameters are data, not constants baked into a closure: ``init`` puts them in the state
  (``state.hyperparams``, as ``optax.inject_hyperparams`` does) and ``update`` is one module-level
  function per rule that reads them from there. So ``adam(0.1).update is adam(0.01).update``: a
  jitted training loop keyed on the update function compiles once for every learning rate, and
  ``jax.vmap`` over learning rates, betas or eps works.
- A learning rate is a number, a (traced) scalar array, or a schedule ``count -> lr`` evaluated at
  the number of updates taken so far (0 on the first update, as optax does). Schedules from
  :mod:`jaxdnn.schedules` are pytrees of numbers, so they are data too; any other callable (an
  optax schedule) is kept in the update function instead, which then differs per schedule.
- ``updates`` is the step to *add* to the params (optax's sign convention): ``-lr * direction``.
- Every leaf keeps its dtype: hyperparameters are cast to the leaf's dtype before they touch it, so
  float32 params stay float32 even when the learning rate is a float64 tracer.
- Concrete hyperparameters are checked at construction and raise ``ValueError`` when out of range;
  traced values cannot be checked (there is no host value) and are trusted.
- States are ``NamedTuple``\\s whose moment trees have the structure and shapes of the params, and
  their dtypes widened to at least float32: in float16 ``(1 - b2) g^2`` underflows and an ``eps``
  of 1e-8 rounds to 0, so the moments and the step are computed in float32 and only the update is
  cast back to the leaf's dtype (optax's ``mu_dtype`` idea, for every moment).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdnn.checks import check_same_structure, check_scalar, is_array, is_traced


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
            if not is_array(leaf):  # a JAX or NumPy array, or a tracer (a jax.Array too)
                raise TypeError(f"{name}{jax.tree_util.keystr(path)} must be an array, "
                                f"got {type(leaf).__name__}")
    check_scalar("learning_rate", learning_rate, low=0.0, low_inclusive=False)
    return jax.tree.map(lambda p, g: p - (learning_rate * g).astype(p.dtype), params, grads)


# ----------------------------------------------------------------------------------------------
# hyperparameters as data


def _hyper(name, value, **bounds):
    """A checked scalar hyperparameter as a strongly typed array (the default float dtype): a
    NumPy one for a number (``init`` puts it on the device), a JAX one for a JAX array.

    Strong typing keeps the compiled program the same whether the value came from a Python float
    or back from a checkpoint file; tracers pass through unchanged.
    """
    value = check_scalar(name, value, **bounds)
    if is_traced(value):
        return value
    if isinstance(value, jax.Array):  # already on the device: no transfer
        return value.astype(jnp.result_type(float))
    return np.asarray(value, jnp.result_type(float))


def _learning_rate(learning_rate):
    """``(hyperparams entry, closed-over schedule)`` for a number, a data schedule or a callable."""
    if _is_data_schedule(learning_rate):
        return learning_rate, None  # a jaxdnn.schedules pytree: data in the state
    if callable(learning_rate):
        return None, learning_rate  # e.g. an optax schedule: kept in the update function
    return _hyper("learning_rate", learning_rate, low=0.0, low_inclusive=False), None


def _is_data_schedule(x) -> bool:
    """A callable NamedTuple of numbers (the schedules of :mod:`jaxdnn.schedules`)."""
    return callable(x) and isinstance(x, tuple) and hasattr(type(x), "_fields")


def _lr_at(state, schedule):
    """The learning rate of this update: a schedule is evaluated at ``state.count``."""
    lr = schedule if schedule is not None else state.hyperparams["learning_rate"]
    return lr(state.count) if callable(lr) else lr


def _make(init, update, hyperparams, schedule) -> optax.GradientTransformation:
    """The pair: ``init`` closes over the hyperparameters; ``update`` stays the shared function
    unless a callable schedule has to be closed over."""
    if schedule is not None:
        update = functools.partial(update, schedule=schedule)
    return optax.GradientTransformation(functools.partial(init, hyperparams=hyperparams), update)


def _ema(decay, averages, values):
    """``decay * average + (1 - decay) * value`` leaf by leaf, in the averages' dtype: momentum's
    v, Adam's v and s."""
    return jax.tree.map(
        lambda a, x: _as(decay, a.dtype) * a + _as(1 - decay, a.dtype) * x.astype(a.dtype),
        averages, values)


@jax.jit  # one dispatch for the whole tree, and no transfer of the fill value
def _moments(params):
    """Zeros shaped like the params, in their dtype widened to at least float32."""
    return jax.tree.map(lambda p: jnp.zeros_like(p, jnp.promote_types(p.dtype, jnp.float32)),
                        params)


def _wide(grads, moments):
    """The gradients in their moments' dtype (float32 for float16 and bfloat16 leaves)."""
    return jax.tree.map(lambda g, m: g.astype(m.dtype), grads, moments)


def _like(updates, grads):
    """The updates cast back to each gradient leaf's dtype."""
    return jax.tree.map(lambda u, g: u.astype(g.dtype), updates, grads)


def _as(x, dtype):
    """Scalar hyperparameter ``x`` in the leaf's dtype (computed first, cast second, as optax)."""
    return jnp.asarray(x).astype(dtype)


def _count_and_hyperparams(hyperparams):
    """``(count, hyperparams)`` of a new state: the count 0 from a compiled constant (a dispatch,
    no transfer), the NumPy numbers to the device in one explicit transfer (no implicit one); an
    optax schedule's ``None`` entry is left out."""
    hyperparams = {k: v for k, v in hyperparams.items() if v is not None}
    numpy = {k: v for k, v in hyperparams.items() if isinstance(v, np.ndarray)}
    return _zero_count(), {**hyperparams, **(jax.device_put(numpy) if numpy else {})}


_zero_count = jax.jit(lambda: jnp.zeros((), jnp.int32))


# ----------------------------------------------------------------------------------------------
# gradient descent


class GradientDescentState(NamedTuple):
    """State of ``gradient_descent``.

    Attributes:
      count: number of updates taken so far (an int32 scalar array); a schedule's step.
      hyperparams: ``{"learning_rate": scalar or schedule}`` (no entry for an optax schedule).
    """

    count: jax.Array
    hyperparams: dict


def gradient_descent(learning_rate) -> optax.GradientTransformation:
    """The course's gradient descent as an optax transformation: ``W -= lr * dW``.

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar), or a
        schedule ``count -> lr`` (:mod:`jaxdnn.schedules`, or an optax schedule).

    Returns:
      ``optax.GradientTransformation`` with state ``GradientDescentState(count, hyperparams)``
      whose ``update(grads, state, params=None)`` returns ``-lr * grads``.

    Raises:
      ValueError: if ``learning_rate`` is concrete and not a finite positive number.
    """
    lr, schedule = _learning_rate(learning_rate)
    return _make(_gd_init, _gd_update, {"learning_rate": lr}, schedule)


def _gd_init(params, *, hyperparams):
    del params
    return GradientDescentState(*_count_and_hyperparams(hyperparams))


def _gd_update(grads, state, params=None, *, schedule=None):
    del params
    lr = _lr_at(state, schedule)
    updates = jax.tree.map(lambda g: -_as(lr, g.dtype) * g, grads)  # W -= lr * dW
    return updates, state._replace(count=state.count + 1)


# ----------------------------------------------------------------------------------------------
# momentum


class MomentumState(NamedTuple):
    """State of ``momentum``.

    Attributes:
      count: number of updates taken so far (an int32 scalar array).
      v: exponentially weighted average of the gradients; same structure and shapes as the
        params, in at least float32 (``v["W"]`` is ``(n_l, n_{l-1})``, ``v["b"]`` is ``(n_l, 1)``).
      hyperparams: ``{"learning_rate", "beta"}``.
    """

    count: jax.Array
    v: Any
    hyperparams: dict


def momentum(learning_rate, beta: float = 0.9) -> optax.GradientTransformation:
    """Gradient descent with momentum, the course's form (an average, not optax's sum).

    ``v = beta * v + (1 - beta) * dW``, then ``W -= lr * v``, with ``v`` starting at zero. Unlike
    ``optax.sgd(lr, momentum=beta)`` (``v = beta * v + dW``), the gradient is scaled by
    ``1 - beta``, so the step size does not grow by ``1 / (1 - beta)``.

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar), or a
        schedule ``count -> lr``.
      beta: momentum decay in ``[0, 1)``; ``beta = 0`` is plain gradient descent.

    Returns:
      ``optax.GradientTransformation`` with state ``MomentumState(count, v, hyperparams)``.

    Raises:
      ValueError: if a concrete hyperparameter is out of range.
    """
    lr, schedule = _learning_rate(learning_rate)
    hyperparams = {"learning_rate": lr,
                   "beta": _hyper("beta", beta, low=0.0, low_inclusive=True, high=1.0)}
    return _make(_momentum_init, _momentum_update, hyperparams, schedule)


def _momentum_init(params, *, hyperparams):
    count, hyperparams = _count_and_hyperparams(hyperparams)
    return MomentumState(count=count,
                         v=_moments(params),  # v_dW = 0, same shape as W
                         hyperparams=hyperparams)


def _momentum_update(grads, state, params=None, *, schedule=None):
    del params
    check_same_structure(state.v, grads, "the momentum state", "grads")
    lr = _lr_at(state, schedule)
    v = _ema(state.hyperparams["beta"], state.v, grads)  # v = beta v + (1 - beta) dW
    updates = jax.tree.map(lambda v: -_as(lr, v.dtype) * v, v)  # W -= lr * v
    return _like(updates, grads), state._replace(count=state.count + 1, v=v)


# ----------------------------------------------------------------------------------------------
# RMSprop


class RMSpropState(NamedTuple):
    """State of ``rmsprop``.

    Attributes:
      count: number of updates taken so far (an int32 scalar array).
      s: the average of the squared gradients; same structure and shapes as the params, in at
        least float32.
      hyperparams: ``{"learning_rate", "beta", "eps"}``.
    """

    count: jax.Array
    s: Any
    hyperparams: dict


def rmsprop(learning_rate, beta: float = 0.9, eps: float = 1e-8) -> optax.GradientTransformation:
    """RMSprop, as written in the course.

    With ``s`` starting at zero::

        s = beta s + (1 - beta) dW^2
        W -= lr * dW / (sqrt(s) + eps)

    This is the same rule as ``optax.rmsprop(lr, decay=beta, eps=eps, eps_in_sqrt=False)``.

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar), or a
        schedule ``count -> lr``.
      beta: decay of the squared-gradient average, in ``[0, 1)``.
      eps: ``eps > 0`` added to ``sqrt(s)`` so the division is safe.

    Returns:
      ``optax.GradientTransformation`` with state ``RMSpropState(count, s, hyperparams)``.

    Raises:
      ValueError: if a concrete hyperparameter is out of range.
    """
    lr, schedule = _learning_rate(learning_rate)
    hyperparams = {"learning_rate": lr,
                   "beta": _hyper("beta", beta, low=0.0, low_inclusive=True, high=1.0),
                   "eps": _hyper("eps", eps, low=0.0, low_inclusive=False)}
    return _make(_rmsprop_init, _rmsprop_update, hyperparams, schedule)


def _rmsprop_init(params, *, hyperparams):
    count, hyperparams = _count_and_hyperparams(hyperparams)
    return RMSpropState(count=count,
                        s=_moments(params),  # s_dW = 0, same shape as W
                        hyperparams=hyperparams)


def _rmsprop_update(grads, state, params=None, *, schedule=None):
    del params
    check_same_structure(state.s, grads, "the RMSprop state", "grads")
    hp = state.hyperparams
    lr, eps = _lr_at(state, schedule), hp["eps"]
    g = _wide(grads, state.s)
    s = _ema(hp["beta"], state.s, jax.tree.map(lambda g: g * g, g))  # beta s + (1-beta) dW^2

    def step(g, s):  # W -= lr * dW / (sqrt(s) + eps)
        return -_as(lr, g.dtype) * (g / (jnp.sqrt(s) + _as(eps, g.dtype)))

    updates = jax.tree.map(step, g, s)
    return _like(updates, grads), state._replace(count=state.count + 1, s=s)


# ----------------------------------------------------------------------------------------------
# Adam


class AdamState(NamedTuple):
    """State of ``adam``.

    Attributes:
      count: number of updates taken so far, ``t``; an int32 scalar array.
      v: first moment, the average of the gradients; same structure and shapes as the params, in
        at least float32.
      s: second moment, the average of the squared gradients; likewise.
      hyperparams: ``{"learning_rate", "b1", "b2", "eps"}``.
    """

    count: jax.Array
    v: Any
    s: Any
    hyperparams: dict


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam, as written in the course.

    With ``t`` the step number (1 on the first update) and ``v``, ``s`` starting at zero::

        v = b1 v + (1 - b1) dW            v_hat = v / (1 - b1^t)
        s = b2 s + (1 - b2) dW^2          s_hat = s / (1 - b2^t)
        W -= lr * v_hat / (sqrt(s_hat) + eps)

    This is the same rule as ``optax.adam(lr, b1, b2, eps)`` (with ``eps_root = 0``).

    Args:
      learning_rate: scalar step size ``lr > 0`` (a Python float or a traced scalar), or a
        schedule ``count -> lr``.
      b1: decay of the first moment, in ``[0, 1)``.
      b2: decay of the second moment, in ``[0, 1)``.
      eps: ``eps > 0`` added to ``sqrt(s_hat)`` so the division is safe.

    Returns:
      ``optax.GradientTransformation`` with state ``AdamState(count, v, s, hyperparams)``.

    Raises:
      ValueError: if a concrete hyperparameter is out of range.
    """
    lr, schedule = _learning_rate(learning_rate)
    hyperparams = {"learning_rate": lr,
                   "b1": _hyper("b1", b1, low=0.0, low_inclusive=True, high=1.0),
                   "b2": _hyper("b2", b2, low=0.0, low_inclusive=True, high=1.0),
                   "eps": _hyper("eps", eps, low=0.0, low_inclusive=False)}
    return _make(_adam_init, _adam_update, hyperparams, schedule)


def _adam_init(params, *, hyperparams):
    count, hyperparams = _count_and_hyperparams(hyperparams)
    return AdamState(count=count, v=_moments(params), s=_moments(params),
                     hyperparams=hyperparams)


def _adam_update(grads, state, params=None, *, schedule=None):
    del params
    check_same_structure(state.v, grads, "the Adam state", "grads")
    hp = state.hyperparams
    lr, b1, b2, eps = _lr_at(state, schedule), hp["b1"], hp["b2"], hp["eps"]
    g = _wide(grads, state.s)  # float32 for float16 leaves: g^2 and eps do not underflow
    v = _ema(b1, state.v, g)  # v = b1 v + (1 - b1) dW
    s = _ema(b2, state.s, jax.tree.map(lambda g: g * g, g))  # s = b2 s + (1 - b2) dW^2
    count = state.count + jnp.ones((), jnp.int32)  # t += 1
    # 1 - b^t in the hyperparameters' float (float64 under x64), cast per leaf only at the
    # division: computing b^t in a low precision could round it to 1 and divide by zero.
    bc1 = 1 - b1 ** count
    bc2 = 1 - b2 ** count

    def step(v, s):
        v_hat = v / bc1.astype(v.dtype)  # v_hat = v / (1 - b1^t)
        s_hat = s / bc2.astype(s.dtype)  # s_hat = s / (1 - b2^t)
        # W -= lr * v_hat / (sqrt(s_hat) + eps)
        return -_as(lr, v.dtype) * (v_hat / (jnp.sqrt(s_hat) + _as(eps, v.dtype)))

    updates = jax.tree.map(step, v, s)
    return _like(updates, grads), AdamState(count=count, v=v, s=s, hyperparams=hp)
