"""Input checks: what the public entry points run once, on entry, before any work.

The network-level entry points call :func:`check_network` or :func:`check_problem` first; the layer
blocks check their few shapes inline. Shapes, dtypes and names are static under ``jit``: checked in
Python, free at run time. Value checks (labels, NaN/Inf in X) run on concrete data, not tracers.
Every failure is a ``ValueError`` or ``TypeError`` naming what was expected and what came.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.activations import ACTIVATIONS, HIDDEN, OUTPUTS
from jaxdnn.summary import count_nonfinite, summarize


def is_traced(x) -> bool:
    """True when ``x`` is a tracer (under ``jit``/``vmap``/``grad``): it holds no value now."""
    return isinstance(x, jax.core.Tracer)


def is_array(x) -> bool:
    """True for a JAX or NumPy array, or an array JAX hands a traced function as a constant."""
    return isinstance(x, jax.Array | np.ndarray) or (  # values, not a ShapeDtypeStruct
        hasattr(x, "__array__") and hasattr(x, "dtype") and not isinstance(x, np.generic))


def is_float(dtype) -> bool:
    """True for every floating dtype, bfloat16 and float16 included."""
    return jnp.issubdtype(dtype, jnp.floating)


def check_scalar(name: str, value, *, low: float, low_inclusive: bool, high: float | None = None):
    """Check a real scalar hyperparameter (a Python or NumPy number or a 0-d array, maybe traced);
    its range only when it holds a value. Returns it unchanged, so traced values flow through."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}")
    if isinstance(value, (jax.Array, np.ndarray)):
        if jnp.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar, got an array of shape {jnp.shape(value)}; "
                             "to try several values, jax.vmap over them")
        if not (is_float(value.dtype) or jnp.issubdtype(value.dtype, jnp.integer)):
            raise TypeError(f"{name} must be a real number, got dtype {value.dtype}")
        if is_traced(value):
            return value  # no host value to check
    elif not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    x = float(value)
    if not (math.isfinite(x) and (x >= low if low_inclusive else x > low)
            and (high is None or x < high)):
        hi = f"{high:g})" if high is not None else "inf)"
        raise ValueError(f"{name} must lie in {'[' if low_inclusive else '('}{low:g}, {hi}, "
                         f"got {x!r}")
    return value


def check_regularization(l2, keep_prob, key, num_layers: int):
    """The L2 strength (a number >= 0, or a 0-d float array, maybe traced, so ``jax.vmap`` over L2
    strengths works) and the dropout keep probability (a Python number in (0, 1], or None)."""
    if isinstance(l2, jax.Array | np.ndarray):
        if jnp.ndim(l2) != 0 or not is_float(l2.dtype):
            raise TypeError(f"l2 must be a non-negative float scalar, got {l2!r}")
        if not is_traced(l2) and not (math.isfinite(float(l2)) and float(l2) >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {float(l2)}")
    elif isinstance(l2, bool) or not isinstance(l2, (int, float)):
        raise TypeError(f"l2 must be a non-negative float, got {l2!r}")
    elif not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2}")
    if keep_prob is None:
        return
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, (int, float)):
        raise TypeError(f"keep_prob must be a float in (0, 1] or None, got {keep_prob!r}")
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must lie in (0, 1], got {keep_prob}")
    if keep_prob < 1 and key is None:
        raise ValueError("dropout with keep_prob < 1 needs a PRNG key: "
                         "pass key=jax.random.key(...)")
    if keep_prob < 1 and num_layers < 2:
        raise ValueError("dropout applies to hidden layers, and this network has none")


def as_array(x, what: str):
    """``x`` as a JAX array; only arrays (NumPy, JAX, tracers) of numbers are accepted."""
    if not (is_array(x) or isinstance(x, np.generic)):
        raise TypeError(f"{what} must be an array (numpy or jax), got {type(x).__name__}")
    if not (jnp.issubdtype(x.dtype, jnp.number) or x.dtype == np.bool_):
        raise TypeError(f"{what} must hold numbers, got dtype {x.dtype}")
    return x if isinstance(x, jax.Array) else jnp.asarray(x)  # a JAX array as it is: no dispatch


def check_layer_dims(layer_dims) -> tuple[int, ...]:
    """``layer_dims`` as a tuple of positive ints ``(n_x, n_1, ..., n_L)``, at least two of them."""
    if isinstance(layer_dims, (set, frozenset, dict, str)) or not hasattr(layer_dims, "__iter__"):
        raise TypeError("layer_dims must be an ordered sequence of ints like [n_x, n_1, ..., n_L], "
                        f"got a {type(layer_dims).__name__}")
    dims = tuple(layer_dims)
    if len(dims) < 2:
        raise ValueError("layer_dims needs at least two entries (input size and output size), "
                         f"got {list(dims)}")
    for i, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"layer_dims[{i}] must be an int, got {n!r} ({type(n).__name__})")
        if n <= 0:
            raise ValueError(f"layer_dims[{i}] must be positive, got {n} in {list(dims)}")
    return tuple(int(n) for n in dims)


def check_params(params) -> tuple[tuple[int, ...], jnp.dtype]:
    """The layer sizes ``(n_0, ..., n_L)`` and the one floating dtype of a params list of
    ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts whose shapes chain. A hidden layer may be
    batch-normalised instead: ``{"W", "gamma": (n_l, 1), "beta": (n_l, 1)}``, no ``b``."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise TypeError("params must be a non-empty list of {'W', 'b'} dicts (one per layer), "
                        f"got {type(params).__name__}"
                        + (" of length 0" if isinstance(params, (list, tuple)) else ""))
    dims, dtype = [], None
    for l, layer in enumerate(params):
        names = {frozenset(n): n for n in (("W", "b"), ("W", "gamma", "beta"))}.get(
            frozenset(layer) if isinstance(layer, dict) else None)
        if names is None:
            got = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            hint = ("; a batch-normalised layer has no 'b': 'beta' takes its place"
                    if isinstance(layer, dict) and {"gamma", "beta", "b"} <= set(layer) else "")
            raise TypeError(f"params[{l}] must be a dict with keys 'W' and 'b' (or 'W', 'gamma' "
                            f"and 'beta' for a batch-normalised layer), got {got}{hint}")
        if "gamma" in names and l == len(params) - 1:
            raise ValueError(
                f"params[{l}] is the output layer and cannot be batch-normalised: its Z_L are the "
                "logits the cost reads, and normalising them over the batch would fix their scale "
                "and tie each example's prediction to the others'; give it 'W' and 'b'")
        for name in names:
            leaf = layer[name]
            if not is_array(leaf):
                raise TypeError(f"params[{l}]['{name}'] must be an array, got "
                                f"{type(leaf).__name__}")
            if not is_float(leaf.dtype):
                raise TypeError(f"params[{l}]['{name}'] must have a floating dtype, got "
                                f"{leaf.dtype}")
            if dtype is not None and leaf.dtype != dtype:
                raise TypeError(f"all params must share one dtype; params[0]['W'] is {dtype} "
                                f"but params[{l}]['{name}'] is {leaf.dtype}")
            dtype = leaf.dtype
        W = layer["W"]
        if W.ndim != 2:
            raise ValueError(f"params[{l}]['W'] must be 2-D (n_l, n_prev), got shape {W.shape}")
        if 0 in W.shape:
            raise ValueError(f"params[{l}]['W'] has shape {W.shape}: every layer needs at "
                             "least one unit and one input")
        if l and W.shape[1] != dims[-1]:
            raise ValueError(f"params[{l}]['W'] has shape {W.shape}: expected "
                             f"{(W.shape[0], dims[-1])}, since params[{l - 1}]['W'] has "
                             f"{dims[-1]} rows")
        for name in names[1:]:
            if tuple(layer[name].shape) != (W.shape[0], 1):
                raise ValueError(f"params[{l}]['{name}'] must have shape {(W.shape[0], 1)} to "
                                 f"match W {W.shape}, got {tuple(layer[name].shape)}")
        dims += [W.shape[1], W.shape[0]] if l == 0 else [W.shape[0]]
    return tuple(dims), jnp.dtype(dtype)


def check_activations(activations, num_layers: int, *, output: bool) -> tuple[str, ...]:
    """``activations`` as a tuple of known names, one per layer; softmax only as the last, and with
    ``output=True`` the last names a cost (one of :data:`jaxdnn.activations.OUTPUTS`)."""
    if isinstance(activations, str) or not isinstance(activations, Sequence):
        raise TypeError("activations must be a tuple of names, one per layer, e.g. "
                        f"('relu', 'sigmoid'); got {activations!r}")
    acts = tuple(activations)
    if len(acts) != num_layers:
        raise ValueError(f"got {len(acts)} activations {acts} for {num_layers} layers; expected "
                         "one per layer")
    for i, a in enumerate(acts):
        if not isinstance(a, str) or a not in ACTIVATIONS:
            raise ValueError(f"unknown activation {a!r} for layer {i + 1}; expected one of "
                             f"{sorted(ACTIVATIONS)}")
        if a not in HIDDEN and i < num_layers - 1:
            raise ValueError(f"{a!r} can only be the output layer's activation, got it for hidden "
                             f"layer {i + 1} of {num_layers}; hidden layers take one of "
                             f"{list(HIDDEN)}")
    if output and acts[-1] not in OUTPUTS:
        raise ValueError(
            f"the output layer's activation names the cost and must be one of {list(OUTPUTS)} "
            "(sigmoid: binary cross-entropy, softmax: categorical cross-entropy, linear: squared "
            f"error), got {acts[-1]!r}")
    return acts


def check_X(X, n_x: int, dtype) -> jax.Array:
    """``X`` of shape ``(n_x, m)``, m >= 1, of the params' floating dtype, all finite."""
    X = as_array(X, "X")
    if not is_float(X.dtype):
        raise TypeError(f"X must be a floating array of dtype {dtype} (the params' dtype), got "
                        f"{X.dtype}; convert it with X.astype({str(dtype)!r})")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D with shape (n_x={n_x}, m), one example per column, got "
                         f"shape {X.shape}")
    if X.shape[0] != n_x:
        hint = " (did you pass X with examples in rows? use X.T)" if X.shape[1] == n_x else ""
        raise ValueError(f"X must have shape ({n_x}, m) to match params[0]['W'] with {n_x} "
                         f"columns, got {X.shape}{hint}")
    if X.shape[1] == 0:
        raise ValueError(f"X has no examples: shape {X.shape}, expected m >= 1 columns")
    if X.dtype != dtype:
        mixed = (f"; to compute in {X.dtype} with {dtype} params (mixed precision), pass X as "
                 f"{dtype} and compute_dtype={str(X.dtype)!r}"
                 if jnp.finfo(X.dtype).bits < jnp.finfo(dtype).bits else "")
        raise TypeError(f"X has dtype {X.dtype} but the params are {dtype}; convert X with "
                        f"X.astype({str(dtype)!r}) or the params to {X.dtype}{mixed}")
    if not is_traced(X) and (n_bad := count_nonfinite(X)):
        raise ValueError(f"X contains {n_bad} NaN or Inf values; expected only finite values")
    return X


def check_Y(Y, n_L: int, m: int, dtype, output: str = "sigmoid") -> jax.Array:
    """``Y`` of shape ``(n_L, m)``, labels that suit the ``output`` activation, cast to ``dtype``.

    ``sigmoid``: every entry in [0, 1]. ``softmax``: n_L >= 2 classes, entries in [0, 1], each
    column summing to 1 within ``sqrt(eps)`` of the dtype (one-hot, or class probabilities).
    ``linear``: any finite numbers.
    """
    Y = as_array(Y, "Y")
    if jnp.issubdtype(Y.dtype, jnp.complexfloating):
        raise TypeError(f"Y must hold numeric labels, got dtype {Y.dtype}")
    if tuple(Y.shape) != (n_L, m):
        hint = ""
        if Y.ndim == 1 and Y.shape[0] == m:
            if output == "softmax":
                hint = f"; for integer class labels use jaxdnn.one_hot(Y, {n_L})"
            elif n_L == 1:
                hint = f"; reshape it with Y.reshape({n_L}, {m})"
        raise ValueError(f"Y must have shape ({n_L}, {m}) (n_L, m), got {tuple(Y.shape)}{hint}")
    if not is_traced(Y):
        y = summarize(Y, column_sums=output == "softmax")
        expected = "real numbers" if output == "linear" else "labels in [0, 1]"
        if y.nonfinite:
            raise ValueError(f"Y contains NaN or Inf; expected {expected}")
        if output != "linear" and (y.lo < 0 or y.hi > 1):
            raise ValueError(f"labels in Y must lie in [0, 1], got values from {y.lo:g} to "
                             f"{y.hi:g}")
        if y.column_sums is not None:
            bad = np.abs(y.column_sums - 1) > math.sqrt(float(jnp.finfo(dtype).eps))
            if bad.any():
                j = int(np.argmax(bad))
                raise ValueError(
                    f"softmax labels must be one-hot (or probabilities): each column of Y must "
                    f"sum to 1, but {int(bad.sum())} of {m} do not (column {j} sums to "
                    f"{y.column_sums[j]:g}); for integer class labels use jaxdnn.one_hot")
    return Y if Y.dtype == dtype else Y.astype(dtype)  # no dispatch when it is already


def check_network(params, X, activations, *, output: bool = False):
    """Check params, activations and X together; return ``(dims, dtype, X, activations)``."""
    dims, dtype = check_params(params)
    acts = check_activations(activations, len(params), output=output)
    if acts[-1] == "softmax" and dims[-1] < 2:
        raise ValueError(f"a softmax output needs n_L >= 2 classes, got n_L = {dims[-1]}; for two "
                         "classes with one output unit use 'sigmoid'")
    return dims, dtype, check_X(X, dims[0], dtype), acts


def check_problem(params, X, Y, activations, l2=0.0, keep_prob=None, key=None):
    """Check a supervised problem and its regularisation; return ``(X, Y, activations)``.

    The output activation must name a cost, and ``Y`` must suit it (see :func:`check_Y`).
    """
    dims, dtype, X, acts = check_network(params, X, activations, output=True)
    Y = check_Y(Y, dims[-1], X.shape[1], dtype, acts[-1])
    check_regularization(l2, keep_prob, key, len(params))
    return X, Y, acts


def check_compute_dtype(compute_dtype, dtype):
    """None, or the floating dtype products and activations are computed in while the params stay
    in ``dtype`` (mixed precision: float32 params, bfloat16 or float16 products)."""
    if compute_dtype is None:
        return None
    try:
        compute = jnp.dtype(compute_dtype)
    except TypeError:
        compute = None
    if compute is None or not is_float(compute):
        raise TypeError("compute_dtype must be None or a floating dtype such as jnp.bfloat16 or "
                        f"jnp.float16, got {compute_dtype!r}")
    return None if compute == dtype else compute


def check_same_structure(a, b, what_a: str, what_b: str):
    """Raise if two pytrees differ in structure or leaf shapes."""
    sa, sb = jax.tree.structure(a), jax.tree.structure(b)
    if sa != sb:
        raise ValueError(f"{what_b} must have the same structure as {what_a}: {sb} vs {sa}")
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        if jnp.shape(x) != jnp.shape(y):
            raise ValueError(f"{what_b}{jax.tree_util.keystr(path)} has shape {jnp.shape(y)}, "
                             f"expected {jnp.shape(x)} as in {what_a}")
