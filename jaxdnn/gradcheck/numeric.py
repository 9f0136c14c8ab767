"""The numeric side of a gradient check: compiled, batched centred differences.

Every program here is a module-level ``jax.jit`` whose static arguments are the activations, the
dropout keep probability and the mode; the epsilon, the L2 strength, the keys and the data are
traced. So a second check of a network with the same shapes runs the compiled program again
instead of compiling a new one. Perturbations are batched with ``lax.map(..., batch_size=...)``:
a batch of perturbed parameter vectors is evaluated as one vectorised cost.

Kinks: each evaluation also returns the sign pattern ``Z_l > 0`` of every relu/leaky_relu layer;
an entry's centred difference straddles a kink when the patterns at ``theta + eps v`` and
``theta - eps v`` differ (some pre-activation lies within the step of 0), and such entries are
reported as kinks, not compared.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxdnn.backward import manual_value_and_grad
from jaxdnn.forward import forward
from jaxdnn.loss import cost, cost_from_logits

KINKED = ("relu", "leaky_relu")
"""Activations with a kink at 0, where centred differences are not valid."""

EVALUATIONS_PER_BATCH = 2**21
"""About how many parameter entries one batch of perturbed vectors may hold."""


def _batch(n_cases: int, n_entries: int, most: int = 256) -> int:
    return int(max(1, min(most, n_cases, EVALUATIONS_PER_BATCH // max(n_entries, 1))))


def cost_and_kink_signs(params, X, Y, activations, l2=0.0, keep_prob=None, key=None):
    """``(J, signs)``: :func:`jaxdnn.cost` and the sign pattern ``Z_l > 0`` of each relu layer."""
    _, caches = forward(params, X, activations, keep_prob=keep_prob, key=key)
    J = cost_from_logits(params, caches[-1].Z, Y, activations[-1], l2)
    return J, tuple(c.Z > 0 for c, a in zip(caches, activations) if a in KINKED)


def _crossed(signs):
    """True when some relu pre-activation changed sign between the two evaluations: ``signs``
    holds each relu layer's pattern at theta + step and theta - step, stacked as ``(2, ...)``."""
    out = jnp.asarray(False)
    for s in signs:
        out = out | jnp.any(s[0] != s[1])
    return out


def _unit_direction(key, leaf_id, leaf, dtype):
    """A direction uniform on the unit sphere of one leaf's entries, zero elsewhere."""
    z = jax.random.normal(key, leaf_id.shape, dtype) * (leaf_id == leaf)
    return z / jnp.linalg.norm(z)


@partial(jax.jit, static_argnames=("activations", "keep_prob", "wrt"))
def autodiff(params, X, Y, l2, key, *, activations, keep_prob, wrt):
    """``jax.value_and_grad`` of :func:`jaxdnn.cost` with respect to ``params`` or ``X``."""
    def J(p, x):
        return cost(p, x, Y, activations, l2=l2, keep_prob=keep_prob, key=key)
    return jax.value_and_grad(J, argnums=0 if wrt == "params" else 1)(params, X)


@partial(jax.jit, static_argnames=("activations", "keep_prob"))
def manual_and_autodiff(params, X, Y, l2, key, *, activations, keep_prob):
    """``(manual, autodiff)``: :func:`jaxdnn.manual_value_and_grad` and :func:`autodiff` (with
    respect to ``params``), each ``(J, grads)``, as one compiled program."""
    manual = manual_value_and_grad(params, X, Y, activations, l2=l2, keep_prob=keep_prob,
                                   key=key)
    return manual, autodiff(params, X, Y, l2, key, activations=activations,
                            keep_prob=keep_prob, wrt="params")


@partial(jax.jit, static_argnames=("activations", "keep_prob", "wrt", "num_directions"))
def finite_differences(params, X, Y, l2, key, epsilon, directions_key, grads, *, activations,
                       keep_prob, wrt, num_directions):
    """Centred differences of the cost, in coordinates or along random directions, with kinks.

    Args:
      params, X, Y: the problem (``Y`` suited to the output activation).
      l2, key: the cost's L2 strength and dropout key (the masks depend on ``key`` and the shapes
        only, so every evaluation drops the same units).
      epsilon: the step.
      directions_key: PRNG key of the random directions (unused in coordinate mode).
      grads: a stack of gradient trees (of ``params``, or ``X``) to project on the directions,
        leading axis of size G (unused in coordinate mode).
      activations, keep_prob: static, as for :func:`jaxdnn.cost`.
      wrt: ``"params"`` or ``"X"``, static.
      num_directions: None for every coordinate, else k directions per leaf, static.

    Returns:
      coordinates: ``(numeric, kink)``, flat `(n,)` over the raveled variables.
      directions: ``(numeric, kink, projections)``, `(L, k)`, `(L, k)` and `(G, L, k)` for the L
      leaves: ``numeric[l, j] = (J(theta + eps v) - J(theta - eps v)) / (2 eps)`` for the j-th
      unit direction ``v`` of leaf l, and ``projections[:, l, j] = <grads, v>``.
    """
    variables = params if wrt == "params" else X
    theta, unravel = ravel_pytree(variables)

    def f(t):
        p, x = (unravel(t), X) if wrt == "params" else (params, unravel(t))
        return cost_and_kink_signs(p, x, Y, activations, l2, keep_prob, key)

    def centred(step):  # theta +- step as a batch of two: one cost program, not two
        J, signs = jax.vmap(f)(jnp.stack([theta + step, theta - step]))
        return (J[0] - J[1]) / (2 * epsilon), _crossed(signs)

    n = theta.size
    if num_directions is None:
        def coordinate(i):
            return centred(jnp.zeros_like(theta).at[i].set(epsilon))
        return jax.lax.map(coordinate, jnp.arange(n), batch_size=_batch(n, n))

    leaves = jax.tree.leaves(variables)
    L, k = len(leaves), num_directions
    leaf_id = jnp.asarray(np.repeat(np.arange(L), [x.size for x in leaves]))
    G = jax.vmap(lambda g: ravel_pytree(g)[0])(grads)  # (G, n)

    def direction(idx):
        v = _unit_direction(jax.random.fold_in(directions_key, idx), leaf_id, idx // k,
                            theta.dtype)
        num, kink = centred(epsilon * v)
        return num, kink, G @ v

    num, kink, proj = jax.lax.map(direction, jnp.arange(L * k), batch_size=_batch(L * k, n, 16))
    return num.reshape(L, k), kink.reshape(L, k), proj.T.reshape(-1, L, k)


@partial(jax.jit, static_argnames=("activations", "cost_fn"))
def input_gradient(params, X, Y, *, activations, cost_fn):
    """``(dX, (J, dX_autodiff))``: ``dJ/dX`` of ``cost_fn(params, X, Y, activations)`` by
    ``jax.grad`` (its own VJP), and :func:`autodiff` with respect to ``X``, in one program."""
    reference = autodiff(params, X, Y, jnp.zeros((), X.dtype), None, activations=activations,
                         keep_prob=None, wrt="X")
    return jax.grad(cost_fn, argnums=1)(params, X, Y, activations), reference


@partial(jax.jit, static_argnames=("activations", "cost_fn", "num_directions"))
def hessian_vector_products(params, X, Y, epsilon, directions_key, *, activations, cost_fn,
                            num_directions):
    """``H v`` three ways for k random unit directions ``v`` over all parameters.

    Returns:
      ``(J, (manual, autodiff, numeric, kink))``: :func:`jaxdnn.cost` at ``params``, and `(k, n)`
      flat products and `(k,)` kink flags, where
      manual is reverse over reverse of ``cost_fn`` (``grad(<grad cost_fn, v>)``), autodiff is
      forward over reverse of :func:`jaxdnn.cost` (``jvp(grad cost)``) and numeric the centred
      difference ``(grad J(theta + eps v) - grad J(theta - eps v)) / (2 eps)`` of autodiff's
      gradient.
    """
    theta, unravel = ravel_pytree(params)
    grad_cost = jax.grad(lambda p: cost(p, X, Y, activations))
    flat = lambda t: ravel_pytree(t)[0]
    grad_and_signs = jax.grad(lambda t: cost_and_kink_signs(unravel(t), X, Y, activations),
                              has_aux=True)

    def one(j):
        v = jax.random.normal(jax.random.fold_in(directions_key, j), theta.shape, theta.dtype)
        v = v / jnp.linalg.norm(v)
        V = unravel(v)
        inner = lambda p: sum(jnp.vdot(a, b) for a, b in zip(
            jax.tree.leaves(jax.grad(cost_fn)(p, X, Y, activations)), jax.tree.leaves(V)))
        manual = flat(jax.grad(inner)(params))
        auto = flat(jax.jvp(grad_cost, (params,), (V,))[1])
        # theta +- eps v as a batch of two: one gradient (and sign pattern) program, not four
        g, signs = jax.vmap(grad_and_signs)(jnp.stack([theta + epsilon * v,
                                                       theta - epsilon * v]))
        numeric = (g[0] - g[1]) / (2 * epsilon)
        kink = _crossed(signs)
        return manual, auto, numeric, kink

    return cost(params, X, Y, activations), jax.lax.map(
        one, jnp.arange(num_directions), batch_size=_batch(num_directions, theta.size, 8))


def numeric_grad(f, params, epsilon=1e-7, batch_size=256):
    """Centred finite differences of any scalar ``f(params)`` for every entry, as a params tree.

    The course's ``gradapprox``: ``(f(theta + eps e_i) - f(theta - eps e_i)) / (2 eps)``, batched
    with ``lax.map`` under one ``jit``.
    """
    theta, unravel = ravel_pytree(params)

    @jax.jit
    def all_coordinates(theta):
        def centred(i):
            e = jnp.zeros_like(theta).at[i].set(epsilon)
            return (f(unravel(theta + e)) - f(unravel(theta - e))) / (2 * epsilon)
        return jax.lax.map(centred, jnp.arange(theta.size),
                           batch_size=min(batch_size, theta.size))

    return unravel(all_coordinates(theta))


def slip_probability(d: int, k: int, delta: float) -> float:
    """Chance that k random unit directions all miss an error: ``I_{delta^2}(1/2, (d-1)/2)^k``.

    For an error vector ``e`` in a leaf of ``d`` entries and ``v`` uniform on the unit sphere,
    ``t = <e, v> / ||e||`` has ``t^2 ~ Beta(1/2, (d - 1)/2)``, so ``P(|<e, v>| <= delta ||e||)`` is
    the regularised incomplete beta function ``I_{delta^2}(1/2, (d-1)/2)``, at most
    ``delta sqrt(2 (d - 1) / pi)``; independent directions multiply. For ``d = 1`` the direction
    is ``+-1`` and the chance is 1 if ``delta >= 1`` else 0.
    """
    if d == 1:
        return 1.0 if delta >= 1 else 0.0
    x = min(float(delta) ** 2, 1.0)
    with jax.enable_x64(True):
        p = float(jax.scipy.special.betainc(0.5, (d - 1) / 2, jnp.float64(x)))
    return p ** k
