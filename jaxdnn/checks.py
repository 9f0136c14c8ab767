"""Input checks, and the one boundary where they run.

The library's maths is written as plain functions that trust their inputs. Each public entry point
is decorated with :func:`checked`, which runs its check once, when a user calls it; the calls one
entry point makes to another (``manual_value_and_grad`` calling ``forward`` calling
``linear_activation_forward``) run the maths alone. So every input is checked exactly once, at the
outermost call, and no function has a checked and an unchecked twin.

Shapes, dtypes, tree structure and activation names are static under ``jit``, so they are checked in
Python at function entry and cost nothing at run time. Value checks (labels, no NaN/Inf in X) need
concrete data: they run whenever the input is a concrete array (eager calls, and ``fit`` before it
compiles) and are skipped for tracers, where no host value exists.

Every failure raises ``ValueError`` (wrong shape or value) or ``TypeError`` (wrong kind or dtype)
whose message names what was expected and what came.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.activations import ACTIVATIONS, HIDDEN, OUTPUTS
from jaxdnn.regularization import check_regularization

_INSIDE = contextvars.ContextVar("jaxdnn_inside_a_checked_call", default=False)


def checked(check: Callable) -> Callable:
    """Decorator: run ``check`` on the arguments when the decorated function is called from outside.

    ``check`` is called with the function's arguments by name (defaults filled in) and returns a
    dict of arguments to replace (e.g. ``X`` converted to an array, ``activations`` as a tuple), or
    None. Inside the call (and in every call it makes to other checked functions) checks are off:
    the arguments were checked at the boundary. The decorated function keeps its signature, so
    ``jax.jit(f, static_argnames=...)`` works on it; ``f.check`` is the check it runs.
    """

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def boundary(*args, **kwargs):
            if _INSIDE.get():
                return fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            replaced = check(**bound.arguments)
            if replaced:
                bound.arguments.update(replaced)
            with trusted():
                return fn(*bound.args, **bound.kwargs)

        boundary.check = check
        return boundary

    return decorate


@contextlib.contextmanager
def trusted():
    """Within this block, checked functions skip their checks (their inputs are already checked).

    For code that runs the maths later, outside the call that checked its inputs: a custom VJP's
    backward rule, a compiled loop traced after ``fit`` checked its data.
    """
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def is_concrete(x) -> bool:
    """True when ``x`` holds values now (not a tracer under jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def check_scalar(name: str, value, *, low: float, low_inclusive: bool, high: float | None = None):
    """Check a scalar hyperparameter; range checks only when ``value`` is concrete.

    ``value`` must be a real scalar: a Python int/float, a NumPy scalar, or a 0-d array (NumPy,
    JAX or a tracer). Returns it unchanged, so traced values flow through.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        x = float(value)
    elif isinstance(value, (jax.Array, np.ndarray, jax.core.Tracer)):
        if jnp.ndim(value) != 0:
            raise ValueError(
                f"{name} must be a scalar, got an array of shape {jnp.shape(value)}; "
                "to try several values, jax.vmap over them")
        dtype = jnp.result_type(value)
        if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
            raise TypeError(f"{name} must be a real number, got dtype {dtype}")
        if not is_concrete(value):
            return value  # traced (jit/vmap): no host value to check
        x = float(np.asarray(value))
    else:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    ok_low = x >= low if low_inclusive else x > low
    ok_high = high is None or x < high
    if not (math.isfinite(x) and ok_low and ok_high):
        lo = "[" if low_inclusive else "("
        hi = f"{high:g})" if high is not None else "inf)"
        raise ValueError(f"{name} must lie in {lo}{low:g}, {hi}, got {x!r}")
    return value


class Summary(NamedTuple):
    """What a value check needs of an array: its non-finite count, range and column sums."""

    nonfinite: int
    lo: float  # min over the finite entries (0 when there are none)
    hi: float  # max over the finite entries
    column_sums: np.ndarray | None  # (m,) sums of each column's finite entries, when asked for


@functools.partial(jax.jit, static_argnames="column_sums")
def _device_summary(x, column_sums: bool):
    finite = jnp.isfinite(x)
    safe = jnp.where(finite, x, jnp.zeros_like(x))
    sums = jnp.sum(safe, axis=0, dtype=jnp.float32 if x.dtype != jnp.float64 else x.dtype)
    return (jnp.sum(~finite), jnp.min(safe), jnp.max(safe), sums if column_sums else None)


def summarize(x, *, values: bool = True, column_sums: bool = False) -> Summary:
    """The values of a concrete array, summarised where the array lives.

    NumPy arrays and arrays on the CPU are summarised by NumPy on the host (no copy, no compile);
    with ``values=False`` only the non-finite entries are counted (``lo = hi = 0``), in one pass
    without a temporary when all are finite, which is what checking X on every ``fit`` call needs.
    An array on an accelerator is reduced there by one small compiled program and only the summary
    comes back: copying X to the host on every call would cost more than the training step (40 ms
    for MNIST's 784 x 60,000 floats on an H100, against 0.6 ms on the device). A global array
    spread over several processes is summarised on its devices too; its column sums are skipped
    (they would not fit on one host).
    """
    on_host = not isinstance(x, jax.Array) or (
        x.is_fully_addressable and all(d.platform == "cpu" for d in x.devices()))
    if on_host:
        a = np.asarray(x)
        if not values and not column_sums:
            with np.errstate(over="ignore", invalid="ignore"):  # huge finite values may overflow
                if a.dtype.kind not in "fc" or np.isfinite(a.sum()):
                    return Summary(0, 0.0, 0.0, None)  # a finite sum: no NaN or Inf (one pass)
        finite = np.isfinite(a) if a.dtype.kind in "fc" else np.ones(a.shape, bool)
        n_bad = int(finite.size - np.count_nonzero(finite))
        if not values and not column_sums:
            return Summary(n_bad, 0.0, 0.0, None)
        safe = np.where(finite, a, 0) if n_bad else a
        return Summary(n_bad,
                       float(safe.min()) if safe.size else 0.0,
                       float(safe.max()) if safe.size else 0.0,
                       safe.sum(axis=0, dtype=np.float64) if column_sums and a.ndim == 2 else None)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    want_sums = column_sums and x.ndim == 2 and x.is_fully_addressable
    n_bad, lo, hi, sums = _device_summary(x, want_sums)
    return Summary(int(n_bad), float(lo), float(hi),
                   None if sums is None else np.asarray(sums, np.float64))


def as_array(x, what: str):
    """``x`` as a JAX array; only arrays (NumPy, JAX, tracers) and Python scalars are accepted."""
    if isinstance(x, (jax.Array, np.ndarray, np.generic, jax.core.Tracer)):
        if np.dtype(x.dtype).kind not in "biufc":
            raise TypeError(f"{what} must hold numbers, got dtype {x.dtype}")
        return jnp.asarray(x)
    raise TypeError(f"{what} must be an array (numpy or jax), got {type(x).__name__}")


def check_layer_dims(layer_dims) -> tuple[int, ...]:
    """``layer_dims`` as a tuple of positive ints, at least two of them."""
    if isinstance(layer_dims, (set, frozenset, dict, str)):
        raise TypeError("layer_dims must be an ordered sequence of ints like "
                        "[n_x, n_1, ..., n_L], "
                        f"got a {type(layer_dims).__name__}")
    try:
        dims = tuple(layer_dims)
    except TypeError:
        raise TypeError(
            f"layer_dims must be a sequence of ints like [n_x, n_1, ..., n_L], "
            f"got {type(layer_dims).__name__}"
        ) from None
    if len(dims) < 2:
        raise ValueError(
            f"layer_dims needs at least two entries (input size and output size), got {list(dims)}"
        )
    for i, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"layer_dims[{i}] must be an int, got {n!r} ({type(n).__name__})")
        if n <= 0:
            raise ValueError(f"layer_dims[{i}] must be positive, got {n} in {list(dims)}")
    return tuple(int(n) for n in dims)


def check_params(params) -> tuple[tuple[int, ...], jnp.dtype]:
    """Check the params tree; return its layer sizes ``(n_0, ..., n_L)`` and its dtype.

    ``params`` must be a list (or tuple) of ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts whose
    shapes chain, all of one floating dtype.
    """
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise TypeError(
            "params must be a non-empty list of {'W', 'b'} dicts (one per layer), "
            f"got {type(params).__name__}"
            + (" of length 0" if isinstance(params, (list, tuple)) else "")
        )
    dims = []
    dtype = None
    for l, layer in enumerate(params):
        if not isinstance(layer, dict) or set(layer) != {"W", "b"}:
            got = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise TypeError(f"params[{l}] must be a dict with keys 'W' and 'b', got {got}")
        W, b = layer["W"], layer["b"]
        for name, leaf in (("W", W), ("b", b)):
            if not isinstance(leaf, (jax.Array, np.ndarray, jax.core.Tracer)):
                raise TypeError(
                    f"params[{l}]['{name}'] must be an array, got {type(leaf).__name__}"
                )
            if not jnp.issubdtype(leaf.dtype, jnp.floating):
                raise TypeError(
                    f"params[{l}]['{name}'] must have a floating dtype, got {leaf.dtype}"
                )
        if W.ndim != 2:
            raise ValueError(f"params[{l}]['W'] must be 2-D (n_l, n_prev), got shape {W.shape}")
        if 0 in W.shape:
            raise ValueError(f"params[{l}]['W'] has shape {W.shape}: every layer needs at "
                             "least one unit and one input")
        if l == 0:
            dims.append(W.shape[1])
        elif W.shape[1] != dims[-1]:
            raise ValueError(
                f"params[{l}]['W'] has shape {W.shape}: expected {(W.shape[0], dims[-1])}, "
                f"since params[{l - 1}]['W'] has {dims[-1]} rows"
            )
        if tuple(b.shape) != (W.shape[0], 1):
            raise ValueError(
                f"params[{l}]['b'] must have shape {(W.shape[0], 1)} to match W {W.shape}, "
                f"got {tuple(b.shape)}"
            )
        for name, leaf in (("W", W), ("b", b)):
            if dtype is None:
                dtype = leaf.dtype
            elif leaf.dtype != dtype:
                raise TypeError(
                    f"all params must share one dtype; params[0]['W'] is {dtype} "
                    f"but params[{l}]['{name}'] is {leaf.dtype}"
                )
        dims.append(W.shape[0])
    return tuple(dims), jnp.dtype(dtype)


def check_activations(activations, num_layers: int, *, output: bool) -> tuple[str, ...]:
    """``activations`` as a tuple of known names, one per layer.

    Softmax may only be the last layer's; with ``output=True`` the last must also name a cost
    (one of :data:`jaxdnn.activations.OUTPUTS`).
    """
    if isinstance(activations, str) or not isinstance(activations, Sequence):
        raise TypeError(
            "activations must be a tuple of names, one per layer, e.g. ('relu', 'sigmoid'); "
            f"got {activations!r}"
        )
    acts = tuple(activations)
    if len(acts) != num_layers:
        raise ValueError(
            f"got {len(acts)} activations {acts} for {num_layers} layers; expected one per layer"
        )
    for i, a in enumerate(acts):
        if not isinstance(a, str) or a not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {a!r} for layer {i + 1}; expected one of {sorted(ACTIVATIONS)}"
            )
    for i, a in enumerate(acts[:-1]):
        if a not in HIDDEN:
            raise ValueError(f"{a!r} can only be the output layer's activation, got it for hidden "
                             f"layer {i + 1} of {num_layers}; hidden layers take one of "
                             f"{list(HIDDEN)}")
    if output and acts[-1] not in OUTPUTS:
        raise ValueError(
            f"the output layer's activation names the cost and must be one of {list(OUTPUTS)} "
            "(sigmoid: binary cross-entropy, softmax: categorical cross-entropy, linear: squared "
            f"error), got {acts[-1]!r}"
        )
    return acts


def check_X(X, n_x: int, dtype) -> jnp.ndarray:
    """``X`` of shape ``(n_x, m)``, m >= 1, of the params' floating dtype, all finite."""
    X = as_array(X, "X")
    if not jnp.issubdtype(X.dtype, jnp.floating):
        raise TypeError(
            f"X must be a floating array of dtype {dtype} (the params' dtype), got {X.dtype}; "
            f"convert it with X.astype({str(dtype)!r})"
        )
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D with shape (n_x={n_x}, m), one example per column, got shape {X.shape}"
        )
    if X.shape[0] != n_x:
        hint = " (did you pass X with examples in rows? use X.T)" if X.shape[1] == n_x else ""
        raise ValueError(
            f"X must have shape ({n_x}, m) to match params[0]['W'] with {n_x} columns, "
            f"got {X.shape}{hint}"
        )
    if X.shape[1] == 0:
        raise ValueError(f"X has no examples: shape {X.shape}, expected m >= 1 columns")
    if X.dtype != dtype:
        raise TypeError(
            f"X has dtype {X.dtype} but the params are {dtype}; convert one of them so they match"
        )
    if is_concrete(X):
        n_bad = summarize(X, values=False).nonfinite
        if n_bad:
            raise ValueError(f"X contains {n_bad} NaN or Inf values; expected only finite values")
    return X


def check_Y(Y, n_L: int, m: int, dtype, output: str = "sigmoid") -> jnp.ndarray:
    """``Y`` of shape ``(n_L, m)`` with labels that suit the ``output`` activation, cast to
    ``dtype``.

    ``sigmoid``: every entry in [0, 1]. ``softmax``: n_L >= 2 classes, entries in [0, 1], each
    column summing to 1 within ``sqrt(eps)`` of the dtype (one-hot, or class probabilities).
    ``linear``: any finite numbers.
    """
    Y = as_array(Y, "Y")
    if not (jnp.issubdtype(Y.dtype, jnp.floating) or jnp.issubdtype(Y.dtype, jnp.integer)
            or Y.dtype == jnp.bool_):
        raise TypeError(f"Y must hold numeric labels, got dtype {Y.dtype}")
    if tuple(Y.shape) != (n_L, m):
        hint = ""
        if Y.ndim == 1 and Y.shape[0] == m:
            if output == "softmax":
                hint = f"; for integer class labels use jaxdnn.one_hot(Y, {n_L})"
            elif n_L == 1:
                hint = f"; reshape it with Y.reshape({n_L}, {m})"
        raise ValueError(f"Y must have shape ({n_L}, {m}) (n_L, m), got {tuple(Y.shape)}{hint}")
    if is_concrete(Y):
        y = summarize(Y, column_sums=output == "softmax")
        expected = "real numbers" if output == "linear" else "labels in [0, 1]"
        if y.nonfinite:
            raise ValueError(f"Y contains NaN or Inf; expected {expected}")
        if output != "linear" and (y.lo < 0 or y.hi > 1):
            raise ValueError(
                f"labels in Y must lie in [0, 1], got values from {y.lo:g} to {y.hi:g}")
        if y.column_sums is not None:
            bad = np.abs(y.column_sums - 1) > math.sqrt(np.finfo(np.dtype(dtype)).eps)
            if bad.any():
                j = int(np.argmax(bad))
                raise ValueError(
                    f"softmax labels must be one-hot (or probabilities): each column of Y must "
                    f"sum to 1, but {int(bad.sum())} of {m} do not (column {j} sums to "
                    f"{y.column_sums[j]:g}); for integer class labels use jaxdnn.one_hot")
    return Y.astype(dtype)


def check_network(params, X, activations, *, output: bool = False):
    """Check params, activations and X together; return ``(dims, dtype, X, activations)``."""
    dims, dtype = check_params(params)
    acts = check_activations(activations, len(params), output=output)
    if acts[-1] == "softmax" and dims[-1] < 2:
        raise ValueError(f"a softmax output needs n_L >= 2 classes, got n_L = {dims[-1]}; for two "
                         "classes with one output unit use 'sigmoid'")
    X = check_X(X, dims[0], dtype)
    return dims, dtype, X, acts


def check_problem(params, X, Y, activations):
    """Check a whole supervised problem; return ``(X, Y, activations)``.

    The output activation must name a cost, and ``Y`` must suit it (see :func:`check_Y`).
    """
    dims, dtype, X, acts = check_network(params, X, activations, output=True)
    Y = check_Y(Y, dims[-1], X.shape[1], dtype, acts[-1])
    return X, Y, acts


def check_same_structure(a, b, what_a: str, what_b: str):
    """Raise if two pytrees differ in structure or leaf shapes."""
    sa, sb = jax.tree.structure(a), jax.tree.structure(b)
    if sa != sb:
        raise ValueError(f"{what_b} must have the same structure as {what_a}: {sb} vs {sa}")
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        if jnp.shape(x) != jnp.shape(y):
            raise ValueError(
                f"{what_b}{jax.tree_util.keystr(path)} has shape {jnp.shape(y)}, "
                f"expected {jnp.shape(x)} as in {what_a}"
            )


# ----------------------------------------------------------------------------------------------
# the checks each public entry point runs (passed to @checked); each returns the arguments it
# normalised


def check_network_args(params, X, activations, keep_prob=None, key=None, **_):
    """``forward``: a network and its inputs; any last activation, softmax only there."""
    _, _, X, acts = check_network(params, X, activations)
    check_regularization(0.0, keep_prob, key, len(params))
    return {"X": X, "activations": acts}


def check_prediction_args(params, X, activations, **_):
    """``predict``: a network whose output activation names a cost, and its inputs."""
    _, _, X, acts = check_network(params, X, activations, output=True)
    return {"X": X, "activations": acts}


def check_problem_args(params, X, Y, activations, l2=0.0, keep_prob=None, key=None, **_):
    """``cost``, the value-and-grads, ``accuracy``: a supervised problem and its regularisation."""
    X, Y, acts = check_problem(params, X, Y, activations)
    check_regularization(l2, keep_prob, key, len(params))
    return {"X": X, "Y": Y, "activations": acts}


def _floating_2d(x, what: str, dtype=None):
    """``x`` as a 2-D floating array (of ``dtype`` when given)."""
    x = as_array(x, what)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{what} must be a floating array, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{what} has dtype {x.dtype}, expected {dtype} like the layer's W")
    return x


def _expect_shape(x, shape, what: str, why: str):
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)} ({why}), got {tuple(x.shape)}")


def check_linear_args(A_prev, W, b, **_):
    """``linear_forward``: ``A_prev (n_{l-1}, m)``, ``W (n_l, n_{l-1})``, ``b (n_l, 1)``, one
    dtype."""
    W = _floating_2d(W, "W")
    A_prev = _floating_2d(A_prev, "A_prev", W.dtype)
    b = _floating_2d(b, "b", W.dtype)
    n, n_prev = W.shape
    _expect_shape(A_prev, (n_prev, A_prev.shape[1]), "A_prev",
                  f"W is {W.shape}: n_prev = {n_prev} rows")
    _expect_shape(b, (n, 1), "b", f"W is {W.shape}: one bias per unit, as a column")
    return {"A_prev": A_prev, "W": W, "b": b}


def check_layer_args(A_prev, W, b, activation, **_):
    """``linear_activation_forward``: a layer's inputs and any known activation."""
    _lookup_activation(activation)
    return check_linear_args(A_prev, W, b)


def _lookup_activation(name):
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")


def check_linear_cache(cache, what: str = "cache"):
    """A ``LinearCache(A_prev, W, b)`` (or the course's tuple ``(A_prev, W, b)``) of one layer."""
    from jaxdnn.layers import LinearCache

    if not (isinstance(cache, tuple) and len(cache) == 3):
        raise TypeError(f"{what} must be the LinearCache (A_prev, W, b) that linear_forward "
                        f"returned, got {type(cache).__name__}")
    return LinearCache(**check_linear_args(*cache))


def check_layer_cache(cache, what: str = "cache"):
    """A ``LayerCache(linear, Z[, D])`` of one layer, its shapes consistent."""
    from jaxdnn.layers import LayerCache

    if not (isinstance(cache, tuple) and len(cache) in (2, 3)):
        raise TypeError(f"{what} must be the LayerCache (linear_cache, Z) that "
                        f"linear_activation_forward returned, got {type(cache).__name__}")
    linear = check_linear_cache(cache[0], f"{what}.linear")
    Z = _floating_2d(cache[1], f"{what}.Z", linear.W.dtype)
    m = linear.A_prev.shape[1]
    _expect_shape(Z, (linear.W.shape[0], m), f"{what}.Z",
                  f"the layer's W is {linear.W.shape} and its input has m = {m} columns")
    D = cache[2] if len(cache) == 3 else None
    if D is not None:
        D = _floating_2d(D, f"{what}.D", linear.W.dtype)
        _expect_shape(D, Z.shape, f"{what}.D", "the dropout mask is shaped like the layer's output")
    return LayerCache(linear, Z, D)


def check_delta(dZ, shape, dtype, what: str, why: str):
    """An upstream derivative ``dA`` or ``dZ`` of a layer's output shape."""
    dZ = _floating_2d(dZ, what, dtype)
    _expect_shape(dZ, shape, what, why)
    return dZ


def check_linear_backward_args(dZ, cache, **_):
    """``linear_backward``: ``dZ (n_l, m)`` matching the layer its cache came from."""
    cache = check_linear_cache(cache)
    shape = (cache.W.shape[0], cache.A_prev.shape[1])
    dZ = check_delta(dZ, shape, cache.W.dtype, "dZ", f"n_l = {shape[0]} units of W {cache.W.shape} "
                     f"by m = {shape[1]} examples of the cache's A_prev")
    return {"dZ": dZ, "cache": cache}


def check_layer_backward_args(dA, cache, activation, **_):
    """``linear_activation_backward``: ``dA`` shaped like the layer's output ``Z``."""
    _lookup_activation(activation)
    cache = check_layer_cache(cache)
    dA = check_delta(dA, cache.Z.shape, cache.Z.dtype, "dA", "the shape of the cache's Z")
    return {"dA": dA, "cache": cache}


def _check_caches(params, caches, activations, output: bool):
    """``caches`` of ``forward`` for these params: one per layer, each matching its layer."""
    dims, dtype = check_params(params)
    acts = check_activations(activations, len(params), output=output)
    if not isinstance(caches, (list, tuple)) or len(caches) != len(params):
        got = (f"{len(caches)} caches" if isinstance(caches, (list, tuple))
               else type(caches).__name__)
        raise ValueError(f"caches must be the list of {len(params)} layer caches that forward "
                         f"returned, got {got}")
    caches = [check_layer_cache(c, f"caches[{l}]") for l, c in enumerate(caches)]
    m = caches[0].linear.A_prev.shape[1]
    for l, (c, p) in enumerate(zip(caches, params)):
        if c.linear.W.shape != p["W"].shape or c.linear.A_prev.shape[1] != m:
            raise ValueError(
                f"caches[{l}] belongs to another network or batch: its W is {c.linear.W.shape} and "
                f"its input {c.linear.A_prev.shape}, expected W {p['W'].shape} as in "
                f"params[{l}] and m = {m} columns")
        if c.linear.W.dtype != dtype:
            raise TypeError(f"caches[{l}] has dtype {c.linear.W.dtype}, the params {dtype}")
    return dims, dtype, caches, acts, m


def check_backward_args(params, caches, Y, activations, l2=0.0, **_):
    """``backward``: caches of these params and labels that suit the output's cost."""
    dims, dtype, caches, acts, m = _check_caches(params, caches, activations, output=True)
    Y = check_Y(Y, dims[-1], m, dtype, acts[-1])
    check_regularization(l2, None, None, len(params))
    return {"caches": caches, "Y": Y, "activations": acts}


def check_backward_from_args(params, caches, dAL, activations, l2=0.0, **_):
    """``backward_from``: caches of these params and ``dAL`` shaped like the output ``A_L``."""
    dims, dtype, caches, acts, m = _check_caches(params, caches, activations, output=False)
    dAL = check_delta(dAL, (dims[-1], m), dtype, "dAL",
                      f"dL/dA_L of each example: n_L = {dims[-1]} outputs by m = {m} examples")
    check_regularization(l2, None, None, len(params))
    return {"caches": caches, "dAL": dAL, "activations": acts}
