"""Gradient checking: a gradient under test vs ``jax.grad`` vs centred finite differences, per leaf.

The course's check: for every parameter theta_i,
``g_approx_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` with ``eps = 1e-7``, and
``difference = ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)``, which should be below ``1e-7``.

:func:`check` runs it for any scalar function ``f(params, *args)`` of any pytree and a gradient
written by hand, ``grad_fn(params, *args)`` (a tree like ``params``); every other check here is one
use of it:

- :func:`gradient_check`: a network's value-and-grad (by default the hand-derived
  :func:`jaxdnn.manual_value_and_grad`) against :func:`jaxdnn.cost`;
- :func:`input_gradient_check`: ``dJ/dX`` of :func:`jaxdnn.cost_with_manual_vjp`;
- :func:`hessian_check`: Hessian-vector products of :func:`jaxdnn.cost_with_manual_vjp` (reverse
  over its hand-derived reverse pass).

Modes: every coordinate (the course's check, the default), or ``num_directions=k`` random unit
directions ``v`` per leaf, comparing ``(f(theta + eps v) - f(theta - eps v)) / (2 eps)`` with
``<g, v>`` (as ``jax.test_util.check_grads`` and PyTorch's fast gradcheck do): ``4 k`` evaluations
per leaf instead of four per parameter, so it scales to the course's cat network. ``order=2``
checks Hessian-vector products of ``grad_fn`` in k random directions over all parameters.

The pass rule and the tolerances (see :func:`tolerances` and :mod:`jaxdnn.gradcheck.report`): a leaf
passes when the gradient under test agrees with autodiff and with the finite differences, each in
relative terms (below ``threshold``) or in absolute terms (every entry within the reference's
round-off ``atol``). With ``u`` the unit round-off of the check's dtype (``finfo(dtype).eps``)::

    atol (finite differences) = 16 u max(|f|, 1) / eps
    atol (autodiff)           = 16 u max_i |autodiff_i|     (over all leaves)

Each evaluation of f carries a rounding error of a few ``u`` times the size of the terms it sums,
about ``max(|f|, 1)`` (a loss is a mean of non-negative terms, some of which cancel terms of order
1); the centred difference divides two such errors by ``2 eps``; 16 is the margin for rounding
accumulated through the layers. Gradients below that cannot be told from 0 by differencing f, so
zero-gradient leaves (a dead relu layer) pass. A planted bug is still flagged unless the whole
wrong leaf is below ``atol`` in every entry.

Kinks (relu at 0, ``|x|``, ``max``): where the left and right one-sided differences disagree as a
kink makes them, not as a curvature does (:func:`jaxdnn.gradcheck.numeric.kinks`), the entry is
listed as a kink and left out of the comparison with the finite differences (and of the overall
figure); it is still compared with autodiff. This needs nothing from the function: f is evaluated
at ``theta +- eps e_i`` and ``theta +- 2 eps e_i``.

Run it from the command line on a random network::

    python -m jaxdnn.gradcheck --layers 5,4,3,1 --activations relu,tanh,sigmoid
    python -m jaxdnn.gradcheck --output softmax --l2 0.7 --keep-prob 0.8 --directions 8 --json
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.backward import cost_with_manual_vjp, manual_value_and_grad
from jaxdnn.checks import check_problem, check_regularization, check_same_structure, check_scalar
from jaxdnn.gradcheck import numeric
from jaxdnn.gradcheck.numeric import numeric_grad, slip_probability
from jaxdnn.gradcheck.report import (
    GradCheckReport,
    LeafCheck,
    agrees,
    compare_leaf,
    relative_difference,
)
from jaxdnn.loss import cost

__all__ = ["EPSILON", "THRESHOLD", "ROUNDOFF_FACTOR", "GradCheckReport", "LeafCheck",
           "NetworkCost", "Tolerances", "agrees", "check", "gradient_check", "hessian_check",
           "input_gradient_check", "numeric_grad", "relative_difference", "slip_probability",
           "tolerances"]

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
    name = dtype_name(dtype)
    u = float(jnp.finfo(DTYPES[name]).eps)
    if name == "float64":
        return Tolerances(u ** (1 / 3) if second_order else EPSILON, THRESHOLD)
    return Tolerances(u ** (1 / 3), 10 * u ** (2 / 3))


def dtype_name(dtype) -> str:
    """``"float64"`` or ``"float32"`` for a dtype or its name; ValueError for any other."""
    try:
        name = jnp.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return name


def _check_options(num_directions, directions_key, epsilon, threshold, fns):
    """The options every check takes; raises before any work."""
    for what, value in (("epsilon", epsilon), ("threshold", threshold)):
        if not (isinstance(value, str) and value == "auto"):
            check_scalar(what, value, low=0.0, low_inclusive=False)
    for what, fn in fns.items():
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


def _resolve(value, default: float) -> float:
    return default if isinstance(value, str) and value == "auto" else float(value)


def _cast(tree, dtype):
    """Every floating leaf (an array or a Python float) as a device array of ``dtype``, converted
    on the host: an eager ``astype`` would compile a program for every leaf shape. Keys, integers
    and None are left as they are."""
    def cast(x):
        if isinstance(x, float):
            return jax.device_put(np.asarray(x, dtype))
        if not hasattr(x, "dtype") or not jnp.issubdtype(x.dtype, jnp.floating):
            return x
        if isinstance(x, jax.Array) and x.dtype == dtype:
            return x
        return jax.device_put(np.asarray(x, dtype))
    return jax.tree.map(cast, tree)


def _u(dtype) -> float:
    return float(jnp.finfo(dtype).eps)


@dataclasses.dataclass(frozen=True)
class _Grad:
    """``jax.grad(f)`` as a hashable function, so that compiled checks of one f are reused."""

    f: object

    def __call__(self, params, *args):
        return jax.grad(self.f)(params, *args)


def check(f, params, *, grad_fn=None, args=(), order=1, num_directions=None,
          directions_key=None, dtype="float64", epsilon="auto",
          threshold="auto") -> GradCheckReport:
    """Check a hand-written gradient of any scalar function against ``jax.grad`` and finite
    differences, leaf by leaf.

    ``grad_fn(params, *args)`` is compared, leaf by leaf, with ``jax.grad(f)(params, *args)`` and
    with centred differences of ``f(params, *args)``; leaves are named by their pytree path
    (``['g']`` for ``{"g": ...}``, ``[1]['W']`` for a network's). Without ``grad_fn`` it checks
    ``jax.grad(f)`` itself against the finite differences.

    The pass rule (see :mod:`jaxdnn.gradcheck`): a leaf passes when it agrees with autodiff and
    with the finite differences, each either in relative difference (below ``threshold``) or with
    every entry within the reference's round-off, ``16 u max(|f|, 1) / eps`` for the finite
    differences and ``16 u max|autodiff|`` for autodiff. Entries at a kink of f (see
    :func:`jaxdnn.gradcheck.numeric.kinks`) are reported as kinks, not compared with the finite
    differences.

    Random directions (``num_directions=k``): per leaf, k directions ``v`` uniform on the unit
    sphere of the leaf's d entries; the k values ``(f(theta + eps v) - f(theta - eps v)) / (2 eps)``
    are compared with the k values ``<g, v>`` by the same rule (the comparison with autodiff stays
    entry by entry: it is cheap). A wrong leaf with error ``e = g - grad f`` slips through only if
    every ``|<e, v_j>|`` is within the tolerance ``tau = atol + threshold sqrt(k) (2||g|| +
    ||e||)``, which has chance ``I_{delta^2}(1/2, (d-1)/2)^k <= (delta sqrt(2 (d-1) / pi))^k`` with
    ``delta = tau / ||e||`` (:func:`slip_probability`). For the course's planted bug (dW2 doubled,
    ``||e|| = ||grad J||``) in float64 that is below ``(1e-5 sqrt(d))^k``: one direction already
    catches it.

    Second order (``order=2``): for k random unit directions ``v`` over all parameters (``k =
    num_directions``, default 4), the Hessian-vector product of ``grad_fn`` by forward mode
    (``jax.jvp(grad_fn)``, so ``grad_fn`` must be traceable) is compared with autodiff's
    ``jvp(grad f)`` and with the centred differences ``(grad_fn(theta + eps v) - grad_fn(theta -
    eps v)) / (2 eps)``, by the same rule with ``eps = u^(1/3)`` by default (:func:`tolerances`
    with ``second_order=True``). Each leaf holds its k blocks of ``H v``; indices in the report are
    ``(direction, entry of the leaf...)``.

    The compiled programs are keyed on ``f`` (and ``grad_fn`` for ``order=2``): a second check of
    the same function at another point, or on other ``args`` of the same shapes, compiles nothing.

    Args:
      f: the scalar function ``f(params, *args)``, differentiable by JAX.
      params: the point, any pytree of floating arrays (cast to ``dtype`` for the check).
      grad_fn: the gradient under test, ``grad_fn(params, *args)`` -> a pytree like ``params``
        (for ``order=1`` it is called once, as it is: it need not be jit-able). Default:
        ``jax.grad(f)``.
      args: further arguments of ``f`` and ``grad_fn``, held fixed (their floating leaves are
        cast to ``dtype`` too).
      order: 1 (the gradient) or 2 (Hessian-vector products of ``grad_fn``).
      num_directions: None for every coordinate (first order), or k random directions per leaf
        (per check for ``order=2``).
      directions_key: PRNG key of the random directions (default ``jax.random.key(0)``).
      dtype: ``"float64"`` (the course's check; ``jax_enable_x64`` is switched on for its
        duration) or ``"float32"`` (the working dtype, with tolerances from its round-off).
      epsilon: finite-difference step; ``"auto"``: :func:`tolerances` of ``dtype``.
      threshold: the relative-difference threshold; ``"auto"``: :func:`tolerances` of ``dtype``.

    Returns:
      a :class:`GradCheckReport` (``of`` is ``"gradient"`` or ``"Hessian-vector"``);
      ``print(report)`` shows the table, ``report.passed`` the verdict, ``report.to_json()`` the
      same as JSON.
    """
    name = dtype_name(dtype)
    _check_options(num_directions, directions_key, epsilon, threshold,
                   {"f": f, "grad_fn": grad_fn})
    if f is None:
        raise TypeError("f must be a function, got None")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of f's further arguments, got "
                        f"{type(args).__name__}")
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"order must be 1 (the gradient) or 2 (Hessian-vector products), "
                         f"got {order!r}")
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params must hold at least one array, got an empty pytree")
    for path, x in jax.tree_util.tree_leaves_with_path(params):
        if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
            raise TypeError(f"params{jax.tree_util.keystr(path)} must be floating point, got "
                            f"{jnp.result_type(x)}")
    dt = DTYPES[name]
    tol = tolerances(name, second_order=order == 2)
    eps, thr = _resolve(epsilon, tol.epsilon), _resolve(threshold, tol.threshold)
    key = jax.random.key(0) if directions_key is None else directions_key
    with jax.enable_x64(name == "float64"):
        params, args = _cast(params, dt), _cast(args, dt)
        out = jax.eval_shape(f, params, *args)
        if not (hasattr(out, "shape") and out.shape == () and jnp.issubdtype(out.dtype,
                                                                             jnp.floating)):
            raise ValueError(f"f must return a floating scalar, got {out}")
        if order == 2:
            return _second_order(f, params, args, grad_fn or _Grad(f), "forward",
                                 num_directions or 4, key, dt, eps, thr)
        J, g_auto = numeric.value_and_grad(params, args, f=f)
        if grad_fn is None:
            g_test = g_auto
        else:
            g_test = grad_fn(params, *args)
            check_same_structure(params, g_test, "params", "the grads of grad_fn")
            g_test = _cast(g_test, dt)
        return _first_order(f, params, args, g_test, g_auto, float(J), num_directions, key, dt,
                            eps, thr)


def _paths(tree):
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]


def _first_order(f, params, args, g_test, g_auto, J, num_directions, key, dt, eps, thr):
    u = _u(dt)
    atol_num = ROUNDOFF_FACTOR * u * max(abs(J), 1.0) / eps
    paths = _paths(params)
    tests = [np.asarray(x) for x in jax.tree.leaves(g_test)]
    autos = [np.asarray(x) for x in jax.tree.leaves(g_auto)]
    atol_auto = ROUNDOFF_FACTOR * u * float(max(np.abs(a).max() for a in autos))
    compare = partial(compare_leaf, threshold=thr, atol_autodiff=atol_auto,
                      atol_numeric=atol_num)
    if num_directions is None:
        f0, values = numeric.finite_differences(params, args, _cast(eps, dt), None, None, f=f,
                                                num_directions=None)
        values = np.asarray(values)  # (n, 4)
        num, kink = numeric.centred(values, eps), numeric.kinks(f0, values, eps, atol_num)
        sizes = np.cumsum([t.size for t in tests])[:-1]
        leaves = [compare(p, t.shape, t, a, n.reshape(t.shape), k.reshape(t.shape))
                  for p, t, a, n, k in zip(paths, tests, autos, np.split(num, sizes),
                                           np.split(kink, sizes))]
        flat_test = np.concatenate([t.ravel() for t in tests])
    else:
        stack = jax.device_put([np.stack([t, a]) for t, a in zip(tests, autos)])  # (2, *leaf)
        f0, values, proj = numeric.finite_differences(
            params, args, _cast(eps, dt), key, stack, f=f, num_directions=int(num_directions))
        values, proj = np.asarray(values), np.asarray(proj)  # (L, k, 4), (2, L, k)
        num, kink = numeric.centred(values, eps), numeric.kinks(f0, values, eps, atol_num)
        leaves = []
        for l, (p, t, a) in enumerate(zip(paths, tests, autos)):
            by_entry = compare(p, t.shape, t, a, a, np.zeros(t.shape, bool))
            by_direction = compare(p, t.shape, proj[0, l], proj[1, l], num[l], kink[l],
                                   index=lambda i: (int(i),))
            leaves.append(dataclasses.replace(  # autodiff: entry by entry; numeric: by direction
                by_direction, manual_vs_autodiff=by_entry.manual_vs_autodiff,
                max_abs_vs_autodiff=by_entry.max_abs_vs_autodiff,
                agrees_with_autodiff=by_entry.agrees_with_autodiff))
        flat_test = proj[0].ravel()
    valid = ~kink.ravel()
    return GradCheckReport(
        leaves=tuple(leaves),
        manual_vs_autodiff=relative_difference(np.concatenate([t.ravel() for t in tests]),
                                               np.concatenate([a.ravel() for a in autos])),
        manual_vs_numeric=relative_difference(flat_test[valid], num.ravel()[valid]),
        epsilon=eps, threshold=thr, of="gradient",
        mode="coordinates" if num_directions is None else "directions",
        num_directions=None if num_directions is None else int(num_directions),
        dtype=jnp.dtype(dt).name, cost=J)


def _second_order(f, params, args, grad_fn, hvp, k, key, dt, eps, thr):
    J, g0, (manual, auto, values) = numeric.hessian_vector_products(
        params, args, _cast(eps, dt), key, f=f, grad_fn=grad_fn, hvp=hvp, num_directions=int(k))
    J, g0, manual, auto = float(J), np.asarray(g0), np.asarray(manual), np.asarray(auto)
    values = np.moveaxis(np.asarray(values), 1, -1)  # (k, n, 4)
    u = _u(dt)
    atol_num = ROUNDOFF_FACTOR * u * max(abs(J), 1.0) / eps
    atol_auto = ROUNDOFF_FACTOR * u * float(np.abs(auto).max())
    num = numeric.centred(values, eps)
    # a kink of f is a jump of its gradient, in every entry at once: it spoils the direction
    kink = np.broadcast_to(numeric.kinks(g0, values, eps, atol_num).any(axis=1, keepdims=True),
                           num.shape)
    leaves, start = [], 0
    for path, leaf in zip(_paths(params), jax.tree.leaves(params)):
        sl = slice(start, start + leaf.size)
        start += leaf.size
        shape = (k, *leaf.shape)
        leaves.append(compare_leaf(
            path, leaf.shape, *(x[:, sl].reshape(shape) for x in (manual, auto, num, kink)),
            threshold=thr, atol_autodiff=atol_auto, atol_numeric=atol_num))
    valid = ~kink
    return GradCheckReport(
        leaves=tuple(leaves), manual_vs_autodiff=relative_difference(manual, auto),
        manual_vs_numeric=relative_difference(manual[valid], num[valid]), epsilon=eps,
        threshold=thr, of="Hessian-vector", mode="directions", num_directions=int(k),
        dtype=jnp.dtype(dt).name, cost=J)


# ----------------------------------------------------------------------------------------------
# the network's checks, each one use of `check`


@dataclasses.dataclass(frozen=True)
class NetworkCost:
    """:func:`jaxdnn.cost` as a function of the parameters (``wrt="params"``) or of the inputs
    (``wrt="X"``), the rest as arguments: ``f(variables, other, Y, l2, key)``. Hashable, so a
    second check of the same network compiles nothing."""

    activations: tuple
    keep_prob: float | None = None
    wrt: str = "params"

    def __call__(self, variables, other, Y, l2, key):
        params, X = (variables, other) if self.wrt == "params" else (other, variables)
        return cost(params, X, Y, self.activations, l2=l2, keep_prob=self.keep_prob, key=key)


@dataclasses.dataclass(frozen=True)
class _ManualVJPGrad:
    """``jax.grad(cost_fn)`` with respect to the parameters (``wrt="params"``) or to ``X``, in
    the argument order of :class:`NetworkCost`."""

    cost_fn: object
    activations: tuple
    wrt: str = "params"

    def __call__(self, variables, other, Y, l2, key):
        if self.wrt == "params":
            return jax.grad(self.cost_fn)(variables, other, Y, self.activations)
        return jax.grad(self.cost_fn, argnums=1)(other, variables, Y, self.activations)


_manual_value_and_grad = jax.jit(manual_value_and_grad, static_argnames=("activations",
                                                                          "keep_prob"))
_manual_vjp_grad = jax.jit(_ManualVJPGrad.__call__, static_argnums=0)


def _network(params, X, Y, activations, num_directions, directions_key, dtype, epsilon,
             threshold, **fns):
    """Check a problem and the options at entry; ``(X, Y, activations, dtype name)``."""
    X, Y, acts = check_problem(params, X, Y, activations)
    _check_options(num_directions, directions_key, epsilon, threshold, fns)
    return X, Y, acts, dtype_name(dtype)


def gradient_check(params, X, Y, activations, *, grad_fn=manual_value_and_grad, l2=0.0,
                   keep_prob=None, key=None, num_directions=None, directions_key=None,
                   dtype="float64", epsilon="auto", threshold="auto") -> GradCheckReport:
    """Check a network's value-and-grad against ``jax.grad`` and finite differences, leaf by leaf.

    :func:`check` of :func:`jaxdnn.cost` with the gradient ``grad_fn(params, X, Y, activations,
    **reg)[1]``, all with the same ``l2``, ``keep_prob`` and ``key`` (``reg`` holds those of them
    that are given, so a 4-argument ``grad_fn`` still works without regularisation). The dropout
    masks depend on ``key`` and the shapes only, so every evaluation drops the same units. The
    pass rule, the kinks and the random-direction mode are those of :func:`check`.

    Args:
      params: list of L ``{"W", "b"}`` dicts (cast to ``dtype`` for the check).
      X: `(n_x, m)` inputs.
      Y: `(n_L, m)` labels suited to the output activation (see :func:`jaxdnn.cost`).
      activations: L names; the last one of ``"sigmoid"``, ``"softmax"``, ``"linear"``.
      grad_fn: the value-and-grad under test, with the signature of
        :func:`jaxdnn.manual_value_and_grad` (the default); called once, as it is.
      l2: L2 regularisation strength, passed to ``grad_fn`` and the references.
      keep_prob: inverted-dropout keep probability, likewise (None = no dropout).
      key: PRNG key of the dropout masks.
      num_directions: None for every coordinate (the course's check), or k random directions per
        leaf.
      directions_key: PRNG key of the random directions (default ``jax.random.key(0)``).
      dtype: ``"float64"`` or ``"float32"``, as for :func:`check`.
      epsilon: finite-difference step; ``"auto"``: :func:`tolerances` of ``dtype``.
      threshold: the relative-difference threshold; ``"auto"``: :func:`tolerances` of ``dtype``.

    Returns:
      a :class:`GradCheckReport` with ``of == "dJ/dparams"``.
    """
    X, Y, acts, name = _network(params, X, Y, activations, num_directions, directions_key,
                                dtype, epsilon, threshold, grad_fn=grad_fn)
    check_regularization(l2, keep_prob, key, len(params))
    reg = {}
    if l2 != 0:
        reg["l2"] = l2
    if keep_prob is not None:
        reg.update(keep_prob=keep_prob, key=key)

    def grads_under_test(params, X, Y, l2_arr, key):
        if grad_fn is manual_value_and_grad:  # the default, compiled once per network
            return _manual_value_and_grad(params, X, Y, activations=acts, l2=l2_arr,
                                          keep_prob=keep_prob, key=key)[1]
        result = grad_fn(params, X, Y, acts, **reg)  # any function, run as it is
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError("grad_fn must return (cost, grads), like "
                            "jaxdnn.manual_value_and_grad")
        return result[1]

    report = check(NetworkCost(acts, keep_prob), params, grad_fn=grads_under_test,
                   args=(X, Y, float(l2), key), num_directions=num_directions,
                   directions_key=directions_key, dtype=name, epsilon=epsilon,
                   threshold=threshold)
    return dataclasses.replace(report, of="dJ/dparams", l2=float(l2), keep_prob=keep_prob)


def input_gradient_check(params, X, Y, activations, *, cost_fn=cost_with_manual_vjp,
                         num_directions=None, directions_key=None, dtype="float64",
                         epsilon="auto", threshold="auto") -> GradCheckReport:
    """Check ``dJ/dX`` of ``cost_fn`` (``jax.grad`` through its own VJP) like
    :func:`gradient_check`.

    ``cost_fn(params, X, Y, activations)`` is a scalar cost, by default
    :func:`jaxdnn.cost_with_manual_vjp`, whose ``dJ/dX = W_1^T dZ_1 / m`` is written by hand. Its
    ``jax.grad`` with respect to X is compared with ``jax.grad(jaxdnn.cost)`` and with centred
    differences of the cost over the entries of X (or k random directions), by the rule of
    :func:`check`; the report has one leaf, ``X``. Arguments as for :func:`gradient_check`.
    """
    X, Y, acts, name = _network(params, X, Y, activations, num_directions, directions_key,
                                dtype, epsilon, threshold, cost_fn=cost_fn)
    grad_X = _ManualVJPGrad(cost_fn, acts, wrt="X")
    report = check(NetworkCost(acts, wrt="X"), X, grad_fn=partial(_manual_vjp_grad, grad_X),
                   args=(params, Y, 0.0, None), num_directions=num_directions,
                   directions_key=directions_key, dtype=name, epsilon=epsilon,
                   threshold=threshold)
    (leaf,) = report.leaves
    return dataclasses.replace(report, leaves=(dataclasses.replace(leaf, path="X"),),
                               of="dJ/dX")


def hessian_check(params, X, Y, activations, *, cost_fn=cost_with_manual_vjp, num_directions=4,
                  directions_key=None, dtype="float64", epsilon="auto",
                  threshold="auto") -> GradCheckReport:
    """Check Hessian-vector products of ``cost_fn`` (reverse over reverse) leaf by leaf.

    For k random unit directions ``v`` over all parameters, ``H v`` of ``cost_fn`` by reverse over
    reverse (``jax.grad`` of ``<jax.grad(cost_fn), v>``: for the default
    :func:`jaxdnn.cost_with_manual_vjp` this differentiates the hand-derived backward pass, whose
    custom VJP has no forward mode) is compared with autodiff's forward-over-reverse
    ``jvp(grad(jaxdnn.cost))`` and with centred differences of ``jax.grad(cost_fn)`` along ``v``,
    by the rule of :func:`check` with ``order=2``. Indices in the report are ``(direction, entry
    of the leaf...)``.

    Returns:
      a :class:`GradCheckReport` with ``of == "Hessian-vector"``.
    """
    X, Y, acts, name = _network(params, X, Y, activations, num_directions, directions_key,
                                dtype, epsilon, threshold, cost_fn=cost_fn)
    dt = DTYPES[name]
    tol = tolerances(name, second_order=True)
    eps, thr = _resolve(epsilon, tol.epsilon), _resolve(threshold, tol.threshold)
    key = jax.random.key(0) if directions_key is None else directions_key
    with jax.enable_x64(name == "float64"):
        params, args = _cast(params, dt), _cast((X, Y, 0.0, None), dt)
        return _second_order(NetworkCost(acts), params, args, _ManualVJPGrad(cost_fn, acts),
                             "reverse", int(num_directions or 4), key, dt, eps, thr)
