"""Gradient checking: hand-derived vs ``jax.grad`` vs centred finite differences, leaf by leaf.

The course's check: for every parameter theta_i,
``g_approx_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` with ``eps = 1e-7``, and
``difference = ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)``, which should be below ``1e-7``.
That coordinate-by-coordinate check is the default. Three more checks share its report and rule:

- :func:`gradient_check` with ``num_directions=k``: per leaf, k random unit directions ``v`` and
  ``(J(theta + eps v) - J(theta - eps v)) / (2 eps)`` against ``<g, v>`` (as
  ``jax.test_util.check_grads`` and PyTorch's fast gradcheck do): ``2 k`` cost evaluations per leaf
  instead of two per parameter, so it scales to the course's cat network;
- :func:`input_gradient_check`: ``dJ/dX`` of :func:`jaxdnn.cost_with_manual_vjp`;
- :func:`hessian_check`: Hessian-vector products of :func:`jaxdnn.cost_with_manual_vjp` (reverse
  over reverse) against autodiff's (forward over reverse) and finite differences of the gradient.

The pass rule and the tolerances (see :func:`tolerances` and :mod:`jaxdnn.gradcheck.report`): a leaf
passes when the gradient under test agrees with autodiff and with the finite differences, each in
relative terms (below ``threshold``) or in absolute terms (every entry within the reference's
round-off ``atol``). With ``u`` the unit round-off of the check's dtype (``finfo(dtype).eps``)::

    atol (finite differences) = 16 u max(|J|, 1) / eps
    atol (autodiff)           = 16 u max_i |autodiff_i|     (over all leaves)

Each evaluation of the cost carries a rounding error of a few ``u`` times the size of the terms it
sums, about ``max(|J|, 1)`` (the loss is a mean of non-negative terms, some of which cancel terms
of order 1); the centred difference divides two such errors by ``2 eps``; 16 is the margin for
rounding accumulated through the layers. Gradients below that cannot be told from 0 by differencing
the cost, so zero-gradient leaves (a dead relu layer) pass. A planted bug is still flagged unless
the whole wrong leaf is below ``atol`` in every entry.

Run it from the command line on a random network::

    python -m jaxdnn.gradcheck --layers 5,4,3,1 --activations relu,tanh,sigmoid
    python -m jaxdnn.gradcheck --output softmax --l2 0.7 --keep-prob 0.8 --directions 8 --json
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.backward import cost_with_manual_vjp, manual_value_and_grad
from jaxdnn.checks import check_problem, check_same_structure, check_scalar
from jaxdnn.gradcheck import numeric
from jaxdnn.gradcheck.numeric import numeric_grad, slip_probability
from jaxdnn.gradcheck.report import (
    GradCheckReport,
    LeafCheck,
    agrees,
    compare_leaf,
    relative_difference,
)

__all__ = ["EPSILON", "THRESHOLD", "ROUNDOFF_FACTOR", "GradCheckReport", "LeafCheck", "Tolerances",
           "agrees", "gradient_check", "hessian_check", "input_gradient_check", "numeric_grad",
           "relative_difference", "slip_probability", "tolerances"]

EPSILON = 1e-7
"""The course's finite-difference step (float64, first-order checks)."""
THRESHOLD = 1e-7
"""The course's threshold on the relative difference (float64)."""
ROUNDOFF_FACTOR = 16
"""Margin on the unit round-off in the absolute tolerances (see the module docstring)."""
DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


class Tolerances(NamedTuple):
    """The default step and threshold of a check in one dtype."""

    epsilon: float
    threshold: float


def tolerances(dtype="float64", *, second_order: bool = False) -> Tolerances:
    """The default ``epsilon`` and ``threshold`` for a check in ``dtype``, from its round-off ``u``.

    float64, first order: the course's ``eps = 1e-7`` and ``threshold = 1e-7``. Otherwise
    ``eps = u^(1/3)``, the step that balances the centred difference's truncation error
    ``eps^2 |J'''| / 6`` against its round-off ``u |J| / eps`` (both are then of order
    ``u^(2/3)``): float32 ``eps = 4.9e-3`` with ``threshold = 10 u^(2/3) = 2.4e-4``; float64
    Hessian-vector checks ``eps = 6.1e-6`` with the course's ``threshold = 1e-7``.
    """
    name = _dtype_name(dtype)
    u = float(jnp.finfo(DTYPES[name]).eps)
    if name == "float64":
        return Tolerances(u ** (1 / 3) if second_order else EPSILON, THRESHOLD)
    return Tolerances(u ** (1 / 3), 10 * u ** (2 / 3))


def _dtype_name(dtype) -> str:
    try:
        name = jnp.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return name


def _resolve(value, default: float, name: str) -> float:
    if isinstance(value, str) and value == "auto":
        return default
    return float(check_scalar(name, value, low=0.0, low_inclusive=False))


def check_gradient_check_args(params, X, Y, activations, grad_fn=None, cost_fn=None, l2=0.0,
                              keep_prob=None, key=None, num_directions=None,
                              directions_key=None, dtype="float64", epsilon="auto",
                              threshold="auto", **_):
    """The checks' inputs: a problem, its regularisation, and the check's own options."""
    X, Y, acts = check_problem(params, X, Y, activations, l2, keep_prob, key)
    name = _dtype_name(dtype)
    for what, value in (("epsilon", epsilon), ("threshold", threshold)):
        if not (isinstance(value, str) and value == "auto"):
            check_scalar(what, value, low=0.0, low_inclusive=False)
    for what, fn in (("grad_fn", grad_fn), ("cost_fn", cost_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{what} must be a function, got {type(fn).__name__}")
    if num_directions is not None and (isinstance(num_directions, bool) or not isinstance(
            num_directions, (int, np.integer)) or num_directions < 1):
        raise ValueError(f"num_directions must be None (every coordinate) or an int >= 1, "
                         f"got {num_directions!r}")
    if directions_key is not None and not (isinstance(directions_key, jax.Array)
                                           and jnp.issubdtype(directions_key.dtype,
                                                              jax.dtypes.prng_key)):
        raise TypeError(f"directions_key must be a PRNG key from jax.random.key, got "
                        f"{type(directions_key).__name__}")
    return X, Y, acts, name


def _cast(tree, dtype):
    """Every leaf (a pytree, an array or a number) as a device array of ``dtype``, converted on
    the host: an eager ``astype`` would compile a program for every leaf shape."""
    def cast(x):
        if isinstance(x, jax.Array) and x.dtype == dtype:
            return x
        return jax.device_put(np.asarray(x, dtype))
    return jax.tree.map(cast, tree)


def _u(dtype) -> float:
    return float(jnp.finfo(dtype).eps)


def _paths(tree):
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]


def _directions_key(directions_key):
    return jax.random.key(0) if directions_key is None else directions_key


def gradient_check(params, X, Y, activations, *, grad_fn=manual_value_and_grad, l2=0.0,
                   keep_prob=None, key=None, num_directions=None, directions_key=None,
                   dtype="float64", epsilon="auto", threshold="auto") -> GradCheckReport:
    """Check a value-and-grad function against ``jax.grad`` and finite differences, leaf by leaf.

    ``grad_fn(params, X, Y, activations, **reg)`` is compared, leaf by leaf, with
    ``jax.value_and_grad(jaxdnn.cost)`` and with centred differences of :func:`jaxdnn.cost`, all
    with the same ``l2``, ``keep_prob`` and ``key`` (``reg`` holds those of them that are given,
    so a 4-argument ``grad_fn`` still works without regularisation). The dropout masks depend on
    ``key`` and the shapes only, so every evaluation drops the same units.

    The pass rule (see :mod:`jaxdnn.gradcheck`): a leaf passes when it agrees with autodiff and
    with the finite differences, each either in relative difference (below ``threshold``) or with
    every entry within the reference's round-off, ``16 u max(|J|, 1) / eps`` for the finite
    differences and ``16 u max|autodiff|`` for autodiff. Entries whose centred difference
    straddles a relu/leaky_relu kink are reported as kinks, not compared with the differences.

    Random directions (``num_directions=k``): per leaf, k directions ``v`` uniform on the unit
    sphere of the leaf's d entries; the k values ``(J(theta + eps v) - J(theta - eps v)) / (2 eps)``
    are compared with the k values ``<g, v>`` by the same rule (the comparison with autodiff stays
    entry by entry: it is cheap). A wrong leaf with error ``e = g - grad J`` slips through only if
    every ``|<e, v_j>|`` is within the tolerance ``tau = atol + threshold sqrt(k) (2||g|| +
    ||e||)``, which has chance ``I_{delta^2}(1/2, (d-1)/2)^k <= (delta sqrt(2 (d-1) / pi))^k`` with
    ``delta = tau / ||e||`` (:func:`slip_probability`). For the course's planted bug (dW2 doubled,
    ``||e|| = ||grad J||``) in float64 that is below ``(1e-5 sqrt(d))^k``: one direction already
    catches it; the default k of the command line is 4.

    Args:
      params: list of L ``{"W", "b"}`` dicts (cast to ``dtype`` for the check).
      X: `(n_x, m)` inputs.
      Y: `(n_L, m)` labels suited to the output activation (see :func:`jaxdnn.cost`).
      activations: L names; the last one of ``"sigmoid"``, ``"softmax"``, ``"linear"``.
      grad_fn: the value-and-grad under test, with the signature of
        :func:`jaxdnn.manual_value_and_grad` (the default).
      l2: L2 regularisation strength, passed to ``grad_fn`` and the references.
      keep_prob: inverted-dropout keep probability, likewise (None = no dropout).
      key: PRNG key of the dropout masks.
      num_directions: None for every coordinate (the course's check), or k random directions per
        leaf.
      directions_key: PRNG key of the random directions (default ``jax.random.key(0)``).
      dtype: ``"float64"`` (the course's check; ``jax_enable_x64`` is switched on for its
        duration) or ``"float32"`` (the working dtype, with tolerances from its round-off).
      epsilon: finite-difference step; ``"auto"``: :func:`tolerances` of ``dtype``.
      threshold: the relative-difference threshold; ``"auto"``: :func:`tolerances` of ``dtype``.

    Returns:
      a :class:`GradCheckReport`; ``print(report)`` shows the table, ``report.passed`` the verdict,
      ``report.to_json()`` the same as JSON.
    """
    X, Y, activations, dtype = check_gradient_check_args(
        params, X, Y, activations, grad_fn=grad_fn, l2=l2, keep_prob=keep_prob, key=key,
        num_directions=num_directions, directions_key=directions_key, dtype=dtype,
        epsilon=epsilon, threshold=threshold)
    dt = DTYPES[dtype]
    eps = _resolve(epsilon, tolerances(dtype).epsilon, "epsilon")
    thr = _resolve(threshold, tolerances(dtype).threshold, "threshold")
    with jax.enable_x64(dtype == "float64"):
        params, X, Y = _cast(params, dt), _cast(X, dt), _cast(Y, dt)
        l2_arr = _cast(l2, dt)
        if grad_fn is manual_value_and_grad:  # the default: with autodiff, one compiled program
            (_, g_test), (J, g_auto) = numeric.manual_and_autodiff(
                params, X, Y, l2_arr, key, activations=activations, keep_prob=keep_prob)
        else:  # any function, run as it is (it may not be jit-able)
            reg = {}
            if l2 != 0:
                reg["l2"] = l2
            if keep_prob is not None:
                reg.update(keep_prob=keep_prob, key=key)
            result = grad_fn(params, X, Y, activations, **reg)
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError("grad_fn must return (cost, grads), like "
                                "jaxdnn.manual_value_and_grad")
            g_test = result[1]
            check_same_structure(params, g_test, "params", "the grads of grad_fn")
            g_test = _cast(g_test, dt)
            J, g_auto = numeric.autodiff(params, X, Y, l2_arr, key, activations=activations,
                                         keep_prob=keep_prob, wrt="params")
        return _first_order_report(
            "dJ/dparams", params, X, Y, l2_arr, key, g_test, g_auto, float(J),
            activations=activations, keep_prob=keep_prob, wrt="params", dt=dt,
            num_directions=num_directions, directions_key=directions_key, eps=eps, thr=thr,
            l2=float(l2))


def input_gradient_check(params, X, Y, activations, *, cost_fn=cost_with_manual_vjp,
                         num_directions=None, directions_key=None, dtype="float64",
                         epsilon="auto", threshold="auto") -> GradCheckReport:
    """Check ``dJ/dX`` of ``cost_fn`` (``jax.grad`` through its own VJP) like
    :func:`gradient_check`.

    ``cost_fn(params, X, Y, activations)`` is a scalar cost, by default
    :func:`jaxdnn.cost_with_manual_vjp`, whose ``dJ/dX = W_1^T dZ_1 / m`` is written by hand. Its
    ``jax.grad`` with respect to X is compared with ``jax.grad(jaxdnn.cost)`` and with centred
    differences of the cost over the entries of X (or k random directions), by the same rule; the
    report has one leaf, ``X``. Arguments as for :func:`gradient_check`.
    """
    X, Y, activations, dtype = check_gradient_check_args(
        params, X, Y, activations, cost_fn=cost_fn, num_directions=num_directions,
        directions_key=directions_key, dtype=dtype, epsilon=epsilon, threshold=threshold)
    dt = DTYPES[dtype]
    eps = _resolve(epsilon, tolerances(dtype).epsilon, "epsilon")
    thr = _resolve(threshold, tolerances(dtype).threshold, "threshold")
    with jax.enable_x64(dtype == "float64"):
        params, X, Y = _cast(params, dt), _cast(X, dt), _cast(Y, dt)
        zero = _cast(0.0, dt)
        g_test, (J, g_auto) = numeric.input_gradient(params, X, Y, activations=activations,
                                                     cost_fn=cost_fn)
        return _first_order_report(
            "dJ/dX", params, X, Y, zero, None, g_test, g_auto, float(J), activations=activations,
            keep_prob=None, wrt="X", dt=dt, num_directions=num_directions,
            directions_key=directions_key, eps=eps, thr=thr, l2=0.0)


def _first_order_report(of, params, X, Y, l2_arr, key, g_test, g_auto, J, *, activations,
                        keep_prob, wrt, dt, num_directions, directions_key, eps, thr, l2):
    u = _u(dt)
    atol_num = ROUNDOFF_FACTOR * u * max(abs(J), 1.0) / eps
    paths = _paths(g_test) if wrt == "params" else ["X"]
    tests = [np.asarray(x) for x in jax.tree.leaves(g_test)]
    autos = [np.asarray(x) for x in jax.tree.leaves(g_auto)]
    atol_auto = ROUNDOFF_FACTOR * u * float(max(np.abs(a).max() for a in autos))
    if num_directions is None:
        num, kink = numeric.finite_differences(
            params, X, Y, l2_arr, key, _cast(eps, dt), None, None,
            activations=activations, keep_prob=keep_prob, wrt=wrt, num_directions=None)
        num, kink = np.asarray(num), np.asarray(kink)
        sizes = np.cumsum([t.size for t in tests])[:-1]
        nums, kinks = np.split(num, sizes), np.split(kink, sizes)
        leaves = [compare_leaf(p, t.shape, t, a, n.reshape(t.shape), k.reshape(t.shape),
                               threshold=thr, atol_autodiff=atol_auto, atol_numeric=atol_num)
                  for p, t, a, n, k in zip(paths, tests, autos, nums, kinks)]
        flat_test, flat_num = np.concatenate([t.ravel() for t in tests]), num
    else:
        stack = jax.device_put([np.stack([t, a]) for t, a in zip(tests, autos)])  # (2, *leaf)
        num, kink, proj = numeric.finite_differences(
            params, X, Y, l2_arr, key, _cast(eps, dt), _directions_key(directions_key),
            stack, activations=activations, keep_prob=keep_prob, wrt=wrt,
            num_directions=int(num_directions))
        num, kink, proj = np.asarray(num), np.asarray(kink), np.asarray(proj)
        leaves = []
        for l, (p, t, a) in enumerate(zip(paths, tests, autos)):
            by_entry = compare_leaf(p, t.shape, t, a, a, np.zeros(t.shape, bool), threshold=thr,
                                    atol_autodiff=atol_auto, atol_numeric=atol_num)
            by_direction = compare_leaf(p, t.shape, proj[0, l], proj[1, l], num[l], kink[l],
                                        threshold=thr, atol_autodiff=atol_auto,
                                        atol_numeric=atol_num, index=lambda i: (int(i),))
            leaves.append(dataclasses.replace(  # autodiff: entry by entry; numeric: by direction
                by_direction, manual_vs_autodiff=by_entry.manual_vs_autodiff,
                max_abs_vs_autodiff=by_entry.max_abs_vs_autodiff,
                agrees_with_autodiff=by_entry.agrees_with_autodiff))
        flat_test, flat_num = proj[0].ravel(), num.ravel()
    flat_auto = np.concatenate([a.ravel() for a in autos])
    return GradCheckReport(
        leaves=tuple(leaves),
        manual_vs_autodiff=relative_difference(np.concatenate([t.ravel() for t in tests]),
                                               flat_auto),
        manual_vs_numeric=relative_difference(flat_test, flat_num),
        epsilon=eps, threshold=thr, of=of,
        mode="coordinates" if num_directions is None else "directions",
        num_directions=None if num_directions is None else int(num_directions),
        dtype=jnp.dtype(dt).name, cost=J, l2=l2, keep_prob=keep_prob)


def hessian_check(params, X, Y, activations, *, cost_fn=cost_with_manual_vjp, num_directions=4,
                  directions_key=None, dtype="float64", epsilon="auto",
                  threshold="auto") -> GradCheckReport:
    """Check Hessian-vector products of ``cost_fn`` (reverse over reverse) leaf by leaf.

    For k random unit directions ``v`` over all parameters, ``H v`` of ``cost_fn`` by reverse over
    reverse (``jax.grad`` of ``<jax.grad(cost_fn), v>``: for the default
    :func:`jaxdnn.cost_with_manual_vjp` this differentiates the hand-derived backward pass) is
    compared with autodiff's forward-over-reverse ``jvp(grad(jaxdnn.cost))`` and with centred
    differences of autodiff's gradient along ``v``. Each leaf's k blocks of ``H v`` are compared by
    the rule of :func:`gradient_check`, with the finite differences' ``atol = 16 u max(|J|, 1) /
    eps`` and ``eps = u^(1/3)`` by default (:func:`tolerances` with ``second_order=True``).
    Indices in the report are ``(direction, entry of the leaf...)``.

    Returns:
      a :class:`GradCheckReport` with ``of == "Hessian-vector"``.
    """
    X, Y, activations, dtype = check_gradient_check_args(
        params, X, Y, activations, cost_fn=cost_fn, num_directions=num_directions,
        directions_key=directions_key, dtype=dtype, epsilon=epsilon, threshold=threshold)
    dt = DTYPES[dtype]
    tol = tolerances(dtype, second_order=True)
    eps, thr = _resolve(epsilon, tol.epsilon, "epsilon"), _resolve(threshold, tol.threshold,
                                                                   "threshold")
    k = int(num_directions if num_directions is not None else 4)
    with jax.enable_x64(dtype == "float64"):
        params, X, Y = _cast(params, dt), _cast(X, dt), _cast(Y, dt)
        J, products = numeric.hessian_vector_products(
            params, X, Y, _cast(eps, dt), _directions_key(directions_key),
            activations=activations, cost_fn=cost_fn, num_directions=k)
        J, (manual, auto, num, kink) = float(J), (np.asarray(x) for x in products)
    u = _u(dt)
    atol_num = ROUNDOFF_FACTOR * u * max(abs(J), 1.0) / eps
    atol_auto = ROUNDOFF_FACTOR * u * float(np.abs(auto).max())
    leaves, start = [], 0
    for path, leaf in zip(_paths(params), jax.tree.leaves(params)):
        sl = slice(start, start + leaf.size)
        start += leaf.size
        shape = (k, *leaf.shape)
        leaves.append(compare_leaf(
            path, leaf.shape, manual[:, sl].reshape(shape), auto[:, sl].reshape(shape),
            num[:, sl].reshape(shape),
            np.broadcast_to(kink[:, None], (k, leaf.size)).reshape(shape),
            threshold=thr, atol_autodiff=atol_auto, atol_numeric=atol_num))
    return GradCheckReport(
        leaves=tuple(leaves), manual_vs_autodiff=relative_difference(manual, auto),
        manual_vs_numeric=relative_difference(manual, num), epsilon=eps, threshold=thr,
        of="Hessian-vector", mode="directions", num_directions=k, dtype=jnp.dtype(dt).name,
        cost=J)
