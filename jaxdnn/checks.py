"""Input checks shared by every public entry point.

Shapes, dtypes, tree structure and activation names are static under ``jit``, so they are checked in
Python at function entry and cost nothing at run time. Value checks (labels in [0, 1], no NaN/Inf in
X) need concrete data: they run whenever the input is a concrete array (eager calls, and ``fit``
before it compiles) and are skipped for tracers, where no host value exists.

Every failure raises ``ValueError`` (wrong shape or value) or ``TypeError`` (wrong kind or dtype)
whose message names what was expected and what came.
"""

from __future__ import annotations

from typing import Sequence

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.activations import ACTIVATIONS


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


def host_values(x) -> np.ndarray:
    """``x`` on the host; for a global array spread over several processes, only a summary.

    A multi-host array cannot be copied to one host, so its values are summarised on the devices
    (finiteness and range, all a value check needs) and that small replicated result is fetched.
    """
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        summary = jax.jit(lambda a: jnp.stack([
            jnp.all(jnp.isfinite(a)).astype(jnp.float32),
            jnp.min(jnp.where(jnp.isfinite(a), a, 0)).astype(jnp.float32),
            jnp.max(jnp.where(jnp.isfinite(a), a, 0)).astype(jnp.float32)]))(x)
        ok, lo, hi = np.asarray(summary)
        return np.array([lo, hi]) if ok else np.array([np.nan])
    return np.asarray(x)


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
        raise TypeError(f"layer_dims must be an ordered sequence of ints like [n_x, n_1, ..., n_L], "
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
            f"got {type(params).__name__}" + (" of length 0" if isinstance(params, (list, tuple)) else "")
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
            raise ValueError(f"params[{l}]['W'] has shape {W.shape}: every layer needs at least one "
                             "unit and one input")
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


def check_activations(activations, num_layers: int, *, sigmoid_output: bool) -> tuple[str, ...]:
    """``activations`` as a tuple of known names, one per layer."""
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
    if sigmoid_output and acts[-1] != "sigmoid":
        raise ValueError(
            f"the output layer must be 'sigmoid' (the cost is binary cross-entropy), got {acts[-1]!r}"
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
        finite = np.isfinite(host_values(X))  # on the host: no trace, no device program
        if not finite.all():
            raise ValueError(
                f"X contains {finite.size - int(finite.sum())} NaN or Inf values; "
                "expected only finite values")
    return X


def check_Y(Y, n_L: int, m: int, dtype) -> jnp.ndarray:
    """``Y`` of shape ``(n_L, m)`` with labels in [0, 1], cast to ``dtype``."""
    Y = as_array(Y, "Y")
    if not (jnp.issubdtype(Y.dtype, jnp.floating) or jnp.issubdtype(Y.dtype, jnp.integer)
            or Y.dtype == jnp.bool_):
        raise TypeError(f"Y must hold numeric labels in [0, 1], got dtype {Y.dtype}")
    if tuple(Y.shape) != (n_L, m):
        hint = ""
        if Y.ndim == 1 and Y.shape[0] == m:
            hint = f"; reshape it with Y.reshape({n_L}, {m})" if n_L == 1 else ""
        raise ValueError(f"Y must have shape ({n_L}, {m}) (n_L, m), got {tuple(Y.shape)}{hint}")
    if is_concrete(Y):
        y = host_values(Y).astype(np.float64)  # on the host: no trace, no device program
        if not np.isfinite(y).all():
            raise ValueError("Y contains NaN or Inf; expected labels in [0, 1]")
        lo, hi = float(y.min()), float(y.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"labels in Y must lie in [0, 1], got values from {lo:g} to {hi:g}")
    return Y.astype(dtype)


def check_network(params, X, activations, *, sigmoid_output: bool = False):
    """Check params, activations and X together; return ``(dims, dtype, X, activations)``."""
    dims, dtype = check_params(params)
    acts = check_activations(activations, len(params), sigmoid_output=sigmoid_output)
    X = check_X(X, dims[0], dtype)
    return dims, dtype, X, acts


def check_problem(params, X, Y, activations):
    """Check a whole supervised problem (BCE, so a sigmoid output); return ``(X, Y, activations)``."""
    dims, dtype, X, acts = check_network(params, X, activations, sigmoid_output=True)
    Y = check_Y(Y, dims[-1], X.shape[1], dtype)
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
