"""The numeric side of a gradient check: compiled, batched finite differences of any function.

Every program here is a module-level ``jax.jit`` whose static arguments are the functions under
check and the mode; the point, the step, the keys and ``args`` (the data the function is
evaluated on) are traced. So a second check of the same function at another point, or on other
data of the same shapes, runs the compiled program again instead of compiling a new one (pass a
function defined once, not a new lambda per call, and its data through ``args``). Perturbations are
batched with ``lax.map(..., batch_size=...)``: a batch of perturbed points is one vectorised call.

Each perturbation ``h`` (``eps e_i``, or ``eps v`` for a unit direction ``v``) evaluates the
function at ``theta + h``, ``theta - h``, ``theta + 2h`` and ``theta - 2h``: the centred difference
is the course's ``(f(theta + h) - f(theta - h)) / (2 eps)``, and the four values with ``f(theta)``
tell a kink from a smooth function (:func:`kinks`) without knowing what the function is.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

EVALUATIONS_PER_BATCH = 2**21
"""About how many parameter entries one batch of perturbed points may hold."""

STEPS = (1, -1, 2, -2)
"""Each perturbation ``h`` is evaluated at ``theta + s h`` for these ``s``, as one batch."""


def _batch(n_cases: int, n_entries: int, most: int = 256) -> int:
    return int(max(1, min(most, n_cases, EVALUATIONS_PER_BATCH // max(n_entries, 1))))


def _unit_direction(key, leaf_id, leaf, dtype):
    """A direction uniform on the unit sphere of one leaf's entries, zero elsewhere."""
    z = jax.random.normal(key, leaf_id.shape, dtype) * (leaf_id == leaf)
    return z / jnp.linalg.norm(z)


def _stencil(F, theta, step):
    """``F`` at ``theta + s step`` for ``s`` in :data:`STEPS`, stacked on a leading axis of 4."""
    s = jnp.asarray(STEPS, theta.dtype)[:, None]  # (4, 1)
    return jax.vmap(F)(theta[None] + s * step[None])  # (4, n) points


@partial(jax.jit, static_argnames=("f",))
def value_and_grad(params, args, *, f):
    """``jax.value_and_grad(f)(params, *args)``: the automatic reference."""
    return jax.value_and_grad(f)(params, *args)


@partial(jax.jit, static_argnames=("f", "num_directions"))
def finite_differences(params, args, epsilon, directions_key, grads, *, f, num_directions):
    """``f`` around ``params`` along every coordinate, or along random unit directions per leaf.

    Args:
      params: the point, any pytree of arrays.
      args: a tuple of further arguments of ``f``, held fixed.
      epsilon: the step.
      directions_key: PRNG key of the random directions (unused in coordinate mode).
      grads: a stack of gradient trees to project on the directions, leading axis of size G
        (unused in coordinate mode).
      f: the scalar function ``f(params, *args)``, static.
      num_directions: None for every coordinate, else k directions per leaf, static.

    Returns:
      coordinates: ``(f(theta), values)``, with `(n, 4)` values ``f(theta + s eps e_i)`` for
      ``s`` in :data:`STEPS` over the n raveled entries.
      directions: ``(f(theta), values, projections)``, `(L, k, 4)` values along the j-th unit
      direction ``v`` of leaf l and `(G, L, k)` projections ``<grads, v>``.
    """
    theta, unravel = ravel_pytree(params)
    F = lambda t: f(unravel(t), *args)
    n = theta.size
    if num_directions is None:
        def coordinate(i):
            return _stencil(F, theta, jnp.zeros_like(theta).at[i].set(epsilon))
        return F(theta), jax.lax.map(coordinate, jnp.arange(n), batch_size=_batch(n, 4 * n))

    leaves = jax.tree.leaves(params)
    L, k = len(leaves), num_directions
    leaf_id = jnp.asarray(np.repeat(np.arange(L), [x.size for x in leaves]))
    G = jax.vmap(lambda g: ravel_pytree(g)[0])(grads)  # (G, n)

    def direction(idx):
        v = _unit_direction(jax.random.fold_in(directions_key, idx), leaf_id, idx // k,
                            theta.dtype)
        return _stencil(F, theta, epsilon * v), G @ v

    values, proj = jax.lax.map(direction, jnp.arange(L * k), batch_size=_batch(L * k, 4 * n, 16))
    return F(theta), values.reshape(L, k, len(STEPS)), proj.T.reshape(-1, L, k)


@partial(jax.jit, static_argnames=("f", "grad_fn", "hvp", "num_directions"))
def hessian_vector_products(params, args, epsilon, directions_key, *, f, grad_fn, hvp,
                            num_directions):
    """``H v`` three ways for k random unit directions ``v`` over all parameters.

    Args:
      params, args, epsilon, directions_key: as for :func:`finite_differences`.
      f: the scalar function, static; autodiff's ``H v`` is ``jvp(grad f)`` (forward over reverse).
      grad_fn: its gradient under test, ``grad_fn(params, *args)`` -> a tree like params, static.
      hvp: how the product under test differentiates ``grad_fn``, static: ``"forward"``
        (``jvp(grad_fn)``) or ``"reverse"`` (``grad(<grad_fn, v>)``, the transposed product).

    Returns:
      ``(f(theta), g0, (manual, autodiff, values))``: ``g0`` the flat `(n,)` ``grad_fn(theta)``,
      `(k, n)` flat products, and `(k, 4, n)` values ``grad_fn(theta + s eps v)`` for ``s`` in
      :data:`STEPS`, whose centred difference is the numeric product.
    """
    theta, unravel = ravel_pytree(params)
    flat = lambda t: ravel_pytree(t)[0]
    G = lambda p: grad_fn(p, *args)
    grad_f = jax.grad(lambda p: f(p, *args))

    def one(j):
        v = jax.random.normal(jax.random.fold_in(directions_key, j), theta.shape, theta.dtype)
        v = v / jnp.linalg.norm(v)
        V = unravel(v)
        if hvp == "forward":
            manual = flat(jax.jvp(G, (params,), (V,))[1])
        else:
            manual = flat(jax.grad(lambda p: jnp.vdot(flat(G(p)), v))(params))
        auto = flat(jax.jvp(grad_f, (params,), (V,))[1])
        return manual, auto, _stencil(lambda t: flat(G(unravel(t))), theta, epsilon * v)

    products = jax.lax.map(one, jnp.arange(num_directions),
                           batch_size=_batch(num_directions, 4 * theta.size, 8))
    return f(params, *args), flat(G(params)), products


def centred(values, epsilon):
    """The course's centred difference ``(f(theta + h) - f(theta - h)) / (2 eps)`` from the
    `(..., 4)` values at :data:`STEPS`, in float64."""
    v = np.asarray(values, np.float64)
    return (v[..., 0] - v[..., 1]) / (2 * epsilon)


def kinks(f0, values, epsilon: float, atol: float):
    """Which centred differences straddle a kink of the function, without knowing the function.

    From ``f0 = f(theta)`` and ``f(theta + s h)`` for ``s = 1, -1, 2, -2`` (``values[..., :]``,
    ``|h| = eps``): the one-sided differences disagree by ``D = (f(+1) - 2 f0 + f(-1)) / eps``.
    For a smooth f that is ``eps f''``, for a kink inside the step with slopes differing by ``s``
    it is ``s (1 - delta / eps)`` (``delta`` the kink's distance from theta): a kink makes ``D`` a
    slope, not a curvature. A smooth f keeps two relations that a kink breaks:

        T1 = D(2 eps) - 2 D(eps) = eps^3 f'''' / 2            (kink: s (1.5 delta / eps - 1))
        T2 = C(2 eps) - C(eps)   = eps^2 f''' / 2             (kink: s delta / (4 eps))

    with ``C`` the centred difference. An entry is a kink when ``|D| > 2 atol`` and ``|T1| >
    |D| / 4 + atol`` or ``|T2| > |D| / 10 + atol / 4``: ``atol = 16 u max(|f|, 1) / eps`` is the
    round-off of one centred difference, a smooth part makes ``T1`` and ``T2`` a small fraction
    of ``D`` (``eps^2`` and ``eps`` times ratios of derivatives), and below ``2 atol`` a kink moves
    the centred difference by less than ``atol``. Between them the two tests flag a kink at every
    distance inside the step (``T1`` below ``delta = 0.6 eps``, ``T2`` above ``0.29 eps``). A kink
    between ``eps`` and ``2 eps``, which does not touch the centred difference, is flagged too when
    the curvature alone makes ``|D| > 2 atol``: five values cannot always tell it from one inside
    the step, and a flag only leaves the entry out of the comparison with the finite differences.

    Args:
      f0: ``f(theta)``, broadcastable against ``values[..., 0]``.
      values: `(..., 4)` the values at the steps.
      epsilon: the step ``|h|``.
      atol: the centred difference's round-off.

    Returns:
      a boolean array of shape ``values.shape[:-1]``.
    """
    v, f0 = np.asarray(values, np.float64), np.asarray(f0, np.float64)
    p1, m1, p2, m2 = (v[..., i] for i in range(4))
    D = (p1 - 2 * f0 + m1) / epsilon
    T1 = (p2 - 4 * p1 + 6 * f0 - 4 * m1 + m2) / (2 * epsilon)
    T2 = (p2 - 2 * p1 + 2 * m1 - m2) / (4 * epsilon)
    return (np.abs(D) > 2 * atol) & ((np.abs(T1) > np.abs(D) / 4 + atol)
                                     | (np.abs(T2) > np.abs(D) / 10 + atol / 4))


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
