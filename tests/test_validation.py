"""Bad input to the network-level entry points raises a clear ValueError/TypeError naming what was
expected and what came, before any work; valid-but-extreme input works.

A specification in tables. Each row ``(name, mutate, error, match)`` turns one valid base problem
into a malformed one; the call must raise ``error`` (``ValueError`` for a wrong shape or value,
``TypeError`` for a wrong kind or dtype) whose message matches ``match``: the exact wording where
a row pins it, else at least the name of the offending argument.

- Every malformed problem (X, Y, params, activations) goes to ``cost``, ``fit`` and
  ``gradient_check``, and every one without Y to ``forward`` and ``predict``: eagerly, and for
  rows whose fault is static (shape, dtype, tree structure) also on tracers under
  ``jax.eval_shape``, which is what ``jit`` sees. Nothing compiles: each raises before any work.
- The other entry points (the value-and-grads, ``cost_with_manual_vjp``, ``accuracy``, ``jit`` of
  them) get one row per kind of fault: each runs the same check.
- Then the regularisation arguments, ``fit``'s and ``gradient_check``'s own settings, the outputs'
  labels, the building blocks and the manual pass from dA_L.
- Valid-but-extreme inputs (m = 1, width-1 layers, float32, NumPy inputs, tuple params, bool and
  soft labels, ...) are positive controls: every entry point succeeds with finite results.

The arguments of one module's functions are tested in that module's file: ``init_params`` in
test_initializers, ``gd_update`` and the optimizers in test_optimizers, ``save`` and ``load`` in
test_checkpoint, fit's checkpoint directories in test_resume, ``one_hot`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn import checks, summary

from .conftest import as_jax, he_params

ACTS = ("relu", "sigmoid")
F64 = jnp.float64
KEY = jax.random.key(0)


# ----------------------------------------------------------------------------------------------
# the valid base problem and small helpers


def base():
    """params [3, 4, 1] (float64, b != 0), X (3, 5), Y (1, 5) and ("relu", "sigmoid")."""
    rng = np.random.default_rng(0)
    params = [{"W": as_jax(rng.standard_normal((4, 3)) / np.sqrt(3), F64),
               "b": as_jax(0.1 * rng.standard_normal((4, 1)), F64)},
              {"W": as_jax(rng.standard_normal((1, 4)) / 2, F64),
               "b": as_jax(np.zeros((1, 1)), F64)}]
    X = as_jax(rng.standard_normal((3, 5)), F64)
    Y = as_jax([[0.0, 1.0, 1.0, 0.0, 1.0]], F64)
    return params, X, Y, ACTS


def layer(p, l, **changes):
    """``p`` with layer ``l``'s dict updated (``None`` deletes a key)."""
    p = [dict(d) for d in p]
    for k, v in changes.items():
        if v is None:
            p[l].pop(k)
        else:
            p[l][k] = v
    return p


def narrow(dims, dtype=F64, seed=1):
    rng = np.random.default_rng(seed)
    return [{"W": as_jax(rng.standard_normal((n, n_prev)), dtype),
             "b": as_jax(0.1 * rng.standard_normal((n, 1)), dtype)}
            for n_prev, n in zip(dims[:-1], dims[1:])]


def assert_finite(result, what):
    """Every numeric leaf inside ``result`` (pytrees, NamedTuples, reports) is finite."""
    if isinstance(result, jaxdnn.GradCheckReport):
        result = result.to_dict()
    bad = [jax.tree_util.keystr(path)
           for path, leaf in jax.tree_util.tree_leaves_with_path(result)
           if np.issubdtype(np.asarray(leaf).dtype, np.number)
           and not np.all(np.isfinite(np.asarray(leaf)))]
    assert not bad, f"{what}: non-finite values at {bad}"


def _fit(p, X, Y, A, **kw):
    kw.setdefault("num_iterations", 2)
    return jaxdnn.fit(p, X, Y, A, progress=False, **kw)


# ----------------------------------------------------------------------------------------------
# 1. the problem inputs: (params, X, Y, activations)


class Row(NamedTuple):
    name: str
    mutate: Callable  # (p, X, Y, A) -> (p, X, Y, A)
    error: type
    match: str  # regex the message must match
    # True: the fault is static (shape, dtype, structure), caught under jit too; False: a fault of
    # values, caught eagerly only; an exception type: what jit raises instead (a Python scalar
    # becomes a 0-d array under jit: a shape fault)
    traced: bool | type = True


def X_(f):
    return lambda p, X, Y, A: (p, f(X), Y, A)


def Y_(f):
    return lambda p, X, Y, A: (p, X, f(Y), A)


def P_(f):
    return lambda p, X, Y, A: (f(p), X, Y, A)


def A_(acts):
    return lambda p, X, Y, _: (p, X, Y, acts)


def _str_array(shape):
    return np.full(shape, "a")


ON_X, ON_Y, ON_PARAMS, ON_ACTS = r"(?i)\bX\b", r"(?i)\bY\b|label", r"(?i)params|layer", (
    r"(?i)activation|sigmoid|layer")
NAN_X = r"X contains 1 NaN or Inf"

MUTATIONS = [
    # X: rank, shape, dtype, values, kind
    Row("X 1-D", X_(lambda X: X[0]), ValueError, r"X must be 2-D.*got shape \(5,\)"),
    Row("X 3-D", X_(lambda X: X[None]), ValueError, ON_X),
    Row("X 0-D", X_(lambda X: X[0, 0]), ValueError, ON_X),
    Row("X transposed", X_(lambda X: X.T), ValueError, r"got \(5, 3\).*use X.T"),
    Row("X too few rows", X_(lambda X: X[:2]), ValueError,
        r"X must have shape \(3, m\).*got \(2, 5\)"),
    Row("X too many rows", X_(lambda X: jnp.concatenate([X, X[:1]])), ValueError, ON_X),
    Row("X m = 0", lambda p, X, Y, A: (p, X[:, :0], Y[:, :0], A), ValueError,
        r"X has no examples"),
    Row("X int32", X_(lambda X: X.astype(jnp.int32)), TypeError,
        r"X must be a floating array.*got int32"),
    Row("X int64", X_(lambda X: X.astype(jnp.int64)), TypeError, ON_X),
    Row("X uint8", X_(lambda X: jnp.abs(X).astype(jnp.uint8)), TypeError, ON_X),
    Row("X bool", X_(lambda X: X > 0), TypeError, ON_X),
    Row("X complex128", X_(lambda X: X.astype(jnp.complex128)), TypeError, ON_X),
    Row("X float32 (params float64)", X_(lambda X: X.astype(jnp.float32)), TypeError,
        r"X has dtype float32 but the params are float64"),
    Row("X float16", X_(lambda X: X.astype(jnp.float16)), TypeError, ON_X),
    Row("X bfloat16", X_(lambda X: X.astype(jnp.bfloat16)), TypeError, ON_X),
    Row("X one NaN", X_(lambda X: X.at[1, 2].set(jnp.nan)), ValueError, NAN_X, traced=False),
    Row("X one +Inf", X_(lambda X: X.at[0, 0].set(jnp.inf)), ValueError, NAN_X, traced=False),
    Row("X one -Inf", X_(lambda X: X.at[2, 4].set(-jnp.inf)), ValueError, NAN_X, traced=False),
    Row("X all NaN", X_(lambda X: jnp.full_like(X, jnp.nan)), ValueError, ON_X, traced=False),
    Row("X NumPy with NaN", X_(lambda X: np.where(np.eye(3, 5) > 0, np.nan, np.asarray(X))),
        ValueError, ON_X, traced=False),
    Row("X nested list", X_(lambda X: np.asarray(X).tolist()), TypeError,
        r"X must be an array.*got list"),
    Row("X tuple of rows", X_(lambda X: tuple(map(tuple, np.asarray(X).tolist()))), TypeError,
        ON_X),
    Row("X None", X_(lambda X: None), TypeError, ON_X),
    Row("X str", X_(lambda X: "X"), TypeError, ON_X, traced=False),
    Row("X int", X_(lambda X: 3), TypeError, ON_X),
    Row("X float", X_(lambda X: 3.0), TypeError, ON_X, traced=ValueError),
    Row("X dict", X_(lambda X: {"X": X}), TypeError, ON_X),
    Row("X NumPy str array", X_(lambda X: _str_array((3, 5))), TypeError, ON_X, traced=False),
    Row("X NumPy object array", X_(lambda X: np.asarray(X).astype(object)), TypeError, ON_X,
        traced=False),
    # Y: rank, shape, dtype, labels, kind; (m,) against A (1, m) would broadcast to (m, m)
    Row("Y 1-D (m,)", Y_(lambda Y: Y[0]), ValueError,
        r"Y must have shape \(1, 5\) \(n_L, m\), got \(5,\); reshape"),
    Row("Y 1-D NumPy (m,)", Y_(lambda Y: np.asarray(Y)[0]), ValueError,
        r"Y must have shape \(1, 5\) \(n_L, m\), got \(5,\); reshape"),
    Row("Y (m, 1)", Y_(lambda Y: Y.T), ValueError, r"Y must have shape \(1, 5\).*got \(5, 1\)"),
    Row("Y 3-D", Y_(lambda Y: Y[None]), ValueError, ON_Y),
    Row("Y 0-D", Y_(lambda Y: Y[0, 0]), ValueError, ON_Y),
    Row("Y m - 1 columns", Y_(lambda Y: Y[:, :4]), ValueError, ON_Y),
    Row("Y m + 1 columns", Y_(lambda Y: jnp.concatenate([Y, Y[:, :1]], axis=1)), ValueError, ON_Y),
    Row("Y two rows (n_L = 1)", Y_(lambda Y: jnp.concatenate([Y, Y])), ValueError, ON_Y),
    Row("Y label 2", Y_(lambda Y: Y.at[0, 1].set(2.0)), ValueError,
        r"labels in Y must lie in \[0, 1\].*to 2", traced=False),
    Row("Y label -1", Y_(lambda Y: Y.at[0, 1].set(-1.0)), ValueError,
        r"\[0, 1\], got values from -1", traced=False),
    Row("Y label 1 + 1e-9", Y_(lambda Y: Y.at[0, 1].set(1.0 + 1e-9)), ValueError, ON_Y,
        traced=False),
    Row("Y int label 2", Y_(lambda Y: Y.astype(jnp.int32).at[0, 0].set(2)), ValueError, ON_Y,
        traced=False),
    Row("Y uint8 label 255", Y_(lambda Y: Y.astype(jnp.uint8).at[0, 0].set(255)), ValueError, ON_Y,
        traced=False),
    Row("Y label NaN", Y_(lambda Y: Y.at[0, 1].set(jnp.nan)), ValueError, r"Y contains NaN",
        traced=False),
    Row("Y label Inf", Y_(lambda Y: Y.at[0, 1].set(jnp.inf)), ValueError, ON_Y, traced=False),
    Row("Y complex", Y_(lambda Y: Y.astype(jnp.complex64)), TypeError, ON_Y),
    Row("Y nested list", Y_(lambda Y: np.asarray(Y).tolist()), TypeError, ON_Y),
    Row("Y None", Y_(lambda Y: None), TypeError, ON_Y),
    Row("Y str", Y_(lambda Y: "Y"), TypeError, ON_Y, traced=False),
    Row("Y int", Y_(lambda Y: 1), TypeError, ON_Y, traced=ValueError),
    Row("Y NumPy str array", Y_(lambda Y: _str_array((1, 5))), TypeError, ON_Y, traced=False),
    Row("Y NumPy object array", Y_(lambda Y: np.asarray(Y).astype(object)), TypeError, ON_Y,
        traced=False),
    # params: tree structure, shapes, dtypes, kinds
    Row("params missing b", P_(lambda p: layer(p, 1, b=None)), TypeError, ON_PARAMS),
    Row("params missing W", P_(lambda p: layer(p, 0, W=None)), TypeError, ON_PARAMS),
    Row("params extra key", P_(lambda p: layer(p, 0, gamma=p[0]["b"])), TypeError, ON_PARAMS),
    Row("params dW/db keys", P_(lambda p: [{"dW": d["W"], "db": d["b"]} for d in p]), TypeError,
        r"params\[0\] must be a dict with keys 'W' and 'b'"),
    Row("params W1/b1 dict (old layout)",
        P_(lambda p: {"W1": p[0]["W"], "b1": p[0]["b"], "W2": p[1]["W"], "b2": p[1]["b"]}),
        TypeError, r"params must be a non-empty list"),
    Row("params empty list", P_(lambda p: []), TypeError, ON_PARAMS),
    Row("params None", P_(lambda p: None), TypeError, ON_PARAMS),
    Row("params str", P_(lambda p: "params"), TypeError, ON_PARAMS, traced=False),
    Row("params int", P_(lambda p: 1), TypeError, ON_PARAMS),
    Row("params one array", P_(lambda p: p[0]["W"]), TypeError, ON_PARAMS),
    Row("params nested one level deeper", P_(lambda p: [[d] for d in p]), TypeError, ON_PARAMS),
    Row("params layer as [W, b]", P_(lambda p: [[d["W"], d["b"]] for d in p]), TypeError,
        ON_PARAMS),
    Row("params layer as (W, b)", P_(lambda p: [(d["W"], d["b"]) for d in p]), TypeError,
        ON_PARAMS),
    Row("params one layer short", P_(lambda p: p[1:]), ValueError, ON_PARAMS),
    Row("params one layer too many", P_(lambda p: p + [{"W": jnp.ones((1, 1), F64),
                                                       "b": jnp.zeros((1, 1), F64)}]),
        ValueError, ON_PARAMS),
    Row("params layers swapped", P_(lambda p: p[::-1]), ValueError, ON_PARAMS),
    Row("params W transposed", P_(lambda p: layer(p, 0, W=p[0]["W"].T)), ValueError, ON_PARAMS),
    Row("params last W transposed", P_(lambda p: layer(p, 1, W=p[1]["W"].T)), ValueError,
        ON_PARAMS),
    Row("params W 1-D", P_(lambda p: layer(p, 1, W=p[1]["W"][0])), ValueError, ON_PARAMS),
    Row("params W 3-D", P_(lambda p: layer(p, 0, W=p[0]["W"][None])), ValueError, ON_PARAMS),
    Row("params W 0-D", P_(lambda p: layer(p, 0, W=p[0]["W"][0, 0])), ValueError, ON_PARAMS),
    Row("params b 1-D", P_(lambda p: layer(p, 0, b=p[0]["b"][:, 0])), ValueError, ON_PARAMS),
    Row("params b row (1, n)", P_(lambda p: layer(p, 0, b=p[0]["b"].T)), ValueError, ON_PARAMS),
    Row("params b too long", P_(lambda p: layer(p, 0, b=jnp.zeros((5, 1), F64))), ValueError,
        ON_PARAMS),
    Row("params b scalar", P_(lambda p: layer(p, 1, b=jnp.zeros((), F64))), ValueError, ON_PARAMS),
    Row("params W shapes do not chain", P_(lambda p: layer(p, 1, W=jnp.ones((1, 7), F64))),
        ValueError, r"params\[1\]\['W'\] has shape \(1, 7\): expected \(1, 4\)"),
    Row("params mixed dtypes (b float32)",
        P_(lambda p: layer(p, 1, b=p[1]["b"].astype(jnp.float32))), TypeError,
        r"all params must share one dtype"),
    Row("params layer 2 float32", P_(lambda p: layer(p, 1, W=p[1]["W"].astype(jnp.float32),
                                                     b=p[1]["b"].astype(jnp.float32))),
        TypeError, ON_PARAMS),
    Row("params all float32 (X float64)",
        P_(lambda p: jax.tree.map(lambda a: a.astype(jnp.float32), p)), TypeError, ON_PARAMS),
    Row("params int W", P_(lambda p: layer(p, 0, W=p[0]["W"].astype(jnp.int32))), TypeError,
        ON_PARAMS),
    Row("params bool W", P_(lambda p: layer(p, 0, W=p[0]["W"] > 0)), TypeError, ON_PARAMS),
    Row("params complex W", P_(lambda p: layer(p, 0, W=p[0]["W"].astype(jnp.complex128))),
        TypeError, ON_PARAMS),
    Row("params W nested list", P_(lambda p: layer(p, 0, W=np.asarray(p[0]["W"]).tolist())),
        TypeError, ON_PARAMS),
    Row("params W None", P_(lambda p: [{"W": None, "b": p[0]["b"]}, p[1]]), TypeError, ON_PARAMS),
    Row("params W str", P_(lambda p: [{"W": "W", "b": p[0]["b"]}, p[1]]), TypeError, ON_PARAMS,
        traced=False),
    Row("params W ShapeDtypeStruct",
        P_(lambda p: layer(p, 0, W=jax.ShapeDtypeStruct((4, 3), F64))), TypeError, ON_PARAMS,
        traced=False),
    Row("params zero-width hidden layer",
        P_(lambda p: [{"W": jnp.zeros((0, 3), F64), "b": jnp.zeros((0, 1), F64)},
                      {"W": jnp.zeros((1, 0), F64), "b": p[1]["b"]}]), ValueError, ON_PARAMS),
    Row("params zero-width output layer",
        lambda p, X, Y, A: (layer(p, 1, W=jnp.zeros((0, 4), F64), b=jnp.zeros((0, 1), F64)), X,
                            Y[:0], A), ValueError, ON_PARAMS),
    Row("params zero inputs (n_x = 0)",
        lambda p, X, Y, A: (layer(p, 0, W=jnp.zeros((4, 0), F64)), X[:0], Y, A),
        ValueError, ON_PARAMS),
    # activations
    Row("activation unknown", A_(("swish", "sigmoid")), ValueError,
        r"unknown activation 'swish' for layer 1; expected one of"),
    Row("activation upper case", A_(("RELU", "sigmoid")), ValueError, ON_ACTS),
    Row("activation trailing space", A_(("relu ", "sigmoid")), ValueError, ON_ACTS),
    Row("activation None entry", A_((None, "sigmoid")), ValueError, ON_ACTS),
    Row("activation int entry", A_((1, "sigmoid")), ValueError, ON_ACTS),
    Row("activation function entry", A_((jnp.tanh, "sigmoid")), ValueError, ON_ACTS),
    Row("activation list entry", A_((["relu"], "sigmoid")), ValueError, ON_ACTS, traced=False),
    Row("activations too few", A_(("sigmoid",)), ValueError, r"got 1 activations.*for 2 layers"),
    Row("activations too many", A_(("relu", "relu", "sigmoid")), ValueError,
        r"got 3 activations.*for 2 layers"),
    Row("activations empty", A_(()), ValueError, ON_ACTS),
    Row("activations non-sigmoid output", A_(("relu", "tanh")), ValueError,
        r"output layer's activation names the cost and must be one of "
        r"\['sigmoid', 'softmax', 'linear'\].*got 'tanh'"),
    Row("activations softmax output", A_(("relu", "softmax")), ValueError, ON_ACTS),
    Row("activations one string", A_("relu,sigmoid"), TypeError, r"activations must be a tuple"),
    Row("activations str 'sigmoid'", A_("sigmoid"), TypeError, ON_ACTS),
    Row("activations None", A_(None), TypeError, ON_ACTS),
    Row("activations dict", A_({"relu": 1, "sigmoid": 2}), TypeError, ON_ACTS, traced=False),
    Row("activations set", A_(frozenset({"relu", "sigmoid"})), TypeError, ON_ACTS),
    Row("activations int", A_(2), TypeError, ON_ACTS),
    Row("activations NumPy array", A_(np.array(["relu", "sigmoid"])), TypeError, ON_ACTS,
        traced=False),
    Row("activations generator", lambda p, X, Y, A: (p, X, Y, (a for a in ACTS)), TypeError,
        ON_ACTS, traced=False),
]

FORWARD_ACCEPTS = {"activations non-sigmoid output"}  # forward computes any last activation


def on_tracers(call, A):
    """``call`` on tracers of (params, X, Y), as under ``jit``: traced, never compiled."""
    return lambda p, X, Y, _: jax.eval_shape(lambda p, X, Y: call(p, X, Y, A) and None, p, X, Y)


def expect(call, inputs, row, error=None):
    with pytest.raises(error or row.error, match=row.match):
        call(*inputs)


def traced_error(row):
    return row.traced if isinstance(row.traced, type) else row.error


@pytest.mark.parametrize("row", MUTATIONS, ids=lambda r: r.name)
def test_cost_fit_and_gradient_check_reject_malformed_problems(row):
    cost = lambda p, X, Y, A: jaxdnn.cost(p, X, Y, A)
    for call in (cost, lambda p, X, Y, A: _fit(p, X, Y, A, learning_rate=0.1),
                 jaxdnn.gradient_check):
        expect(call, row.mutate(*base()), row)
    if row.traced:
        inputs = row.mutate(*base())
        expect(on_tracers(cost, inputs[3]), inputs, row, traced_error(row))


NETWORK_ROWS = [r for r in MUTATIONS if r.match != ON_Y and not r.name.startswith("Y")]


@pytest.mark.parametrize("row", NETWORK_ROWS, ids=lambda r: r.name)
def test_forward_and_predict_reject_malformed_inputs(row):
    forward = lambda p, X, Y, A: jaxdnn.forward(p, X, A)
    predict = lambda p, X, Y, A: jaxdnn.predict(p, X, A)
    for call in (forward, predict):
        inputs = row.mutate(*base())
        if call is forward and row.name in FORWARD_ACCEPTS:
            assert_finite(call(*inputs)[0], row.name)
            continue
        expect(call, inputs, row)
        if row.traced:
            expect(on_tracers(call, inputs[3]), row.mutate(*base()), row, traced_error(row))
    for name in FORWARD_ACCEPTS & {row.name}:  # ... under jit too
        p, X, _, A = row.mutate(*base())
        assert_finite(_JIT["forward"](p, X, activations=A)[0], f"jit(forward): {name}")


_JIT = {name: jax.jit(getattr(jaxdnn, name), static_argnames="activations")
        for name in ("forward", "cost", "manual_value_and_grad")}

# the entry points not run above, each with one row per kind of fault (the rows above are the
# checks' own specification); the value checks (NaN, labels) need concrete values: eager only
ENTRY_POINTS = {
    "manual_value_and_grad": jaxdnn.manual_value_and_grad,
    "autodiff_value_and_grad": jaxdnn.autodiff_value_and_grad,
    "cost_with_manual_vjp": jaxdnn.cost_with_manual_vjp,
    "accuracy": jaxdnn.accuracy,
    "jit(forward)": lambda p, X, Y, A: _JIT["forward"](p, X, activations=A),
    "jit(cost)": lambda p, X, Y, A: _JIT["cost"](p, X, Y, activations=A),
    "jit(manual_value_and_grad)":
        lambda p, X, Y, A: _JIT["manual_value_and_grad"](p, X, Y, activations=A),
}
END_TO_END = ["X transposed", "X one NaN", "Y 1-D (m,)", "Y (m, 1)", "Y label 2",
              "params W transposed", "params mixed dtypes (b float32)", "activations too few",
              "activations non-sigmoid output", "activations one string"]


def _end_to_end_cases():
    rows = {r.name: r for r in MUTATIONS}
    for entry in ENTRY_POINTS:
        for name in END_TO_END:
            row = rows[name]
            if entry == "jit(forward)" and (name.startswith("Y") or name in FORWARD_ACCEPTS):
                continue
            if entry.startswith("jit") and not row.traced:
                continue
            yield pytest.param(entry, row, id=f"{entry}: {name}")


@pytest.mark.parametrize("entry,row", list(_end_to_end_cases()))
def test_every_entry_point_checks_at_entry(entry, row):
    expect(ENTRY_POINTS[entry], row.mutate(*base()), row)


# valid-but-extreme inputs: every entry point must succeed with finite results. Each control is
# one test running every entry point, so the eager programs of one shape compile once for it.
CONTROLS = {
    "float32, width-1 deep net, three outputs, m = 1, X of 1e3":
        lambda p, X, Y, A: (narrow([1, 1, 1, 1, 3], jnp.float32),
                            (1e3 * X[:1, :1]).astype(jnp.float32),
                            jnp.asarray([[1.0], [0.0], [1.0]], jnp.float32),
                            ("tanh", "relu", "leaky_relu", "sigmoid")),
    "NumPy inputs": lambda p, X, Y, A: (jax.tree.map(np.asarray, p), np.asarray(X),
                                        np.asarray(Y), A),
    "params a tuple of dicts": P_(tuple),
    "bool labels": Y_(lambda Y: Y > 0.5),
    "soft labels": Y_(lambda Y: jnp.full_like(Y, 0.5)),
}
CONTROL_ENTRIES = {  # entry -> (call, what in the result has the params' tree structure)
    "forward": (lambda p, X, Y, A: jaxdnn.forward(p, X, A), None),
    "predict": (lambda p, X, Y, A: jaxdnn.predict(p, X, A), None),
    "cost": (lambda p, X, Y, A: jaxdnn.cost(p, X, Y, A), None),
    **{name: (call, None) for name, call in ENTRY_POINTS.items()},
    "fit": (lambda p, X, Y, A: _fit(p, X, Y, A, learning_rate=0.1), lambda r: r[0]),
    "gradient_check": (lambda p, X, Y, A: jaxdnn.gradient_check(p, X, Y, A), None),
    "grad(cost_with_manual_vjp)": (  # jax.grad checks its own inputs first: valid input only
        lambda p, X, Y, A: jax.grad(jaxdnn.cost_with_manual_vjp)(p, X, Y, A), lambda r: r),
}
for _name in ("manual_value_and_grad", "autodiff_value_and_grad", "jit(manual_value_and_grad)"):
    CONTROL_ENTRIES[_name] = (CONTROL_ENTRIES[_name][0], lambda r: r[1])


def control_entries(control):
    if "labels" in control:  # each gradient check compiles anew; labels are checked above
        return [e for e in CONTROL_ENTRIES if e != "gradient_check"]
    return list(CONTROL_ENTRIES)


def test_a_jax_arrays_values_are_scanned_once_while_it_lives():
    """A JAX array's values never change, so its summary is kept; once the array is gone, a new
    one (which may take its id) is scanned anew, whatever it holds; NumPy arrays always are."""
    x = jnp.ones((3, 4))
    assert summary.summarize(x) is summary.summarize(x)
    assert summary.summarize(x, column_sums=True).column_sums.tolist() == [3.0] * 4
    for i in range(40):  # fresh arrays, finite and not by turns, at reused addresses
        y = jnp.ones((3, 4)).at[1, 2].set(jnp.nan) if i % 2 else jnp.ones((3, 4))
        assert (summary.count_nonfinite(y), summary.summarize(y).nonfinite) == (i % 2, i % 2)
        with pytest.raises(ValueError, match="X contains 1 NaN") if i % 2 else nullcontext():
            checks.check_X(y, 3, y.dtype)
        del y
    a = np.ones((3, 4))
    assert summary.count_nonfinite(a) == 0
    a[1, 2] = np.nan  # changed in place: seen
    assert summary.count_nonfinite(a) == 1 and summary.summarize(a).nonfinite == 1


@pytest.mark.parametrize("control", list(CONTROLS))
def test_every_entry_point_accepts_valid_extreme_input(control):
    for entry in control_entries(control):
        call, params_like = CONTROL_ENTRIES[entry]
        p, X, Y, A = CONTROLS[control](*base())
        result = call(p, X, Y, A)
        what = f"{entry}: {control}"
        assert_finite(result, what)
        if entry == "predict":
            assert np.isin(np.asarray(result), [0.0, 1.0]).all(), f"{what}: predict gave {result}"
        if params_like is not None:  # grads (and fit's params) have the params' structure
            assert jax.tree.structure(params_like(result)) == jax.tree.structure(p), what


# ----------------------------------------------------------------------------------------------
# 2. regularisation: cost, both value-and-grads, forward (keep_prob and key only) and fit

REG_MUTATIONS = [  # (name, kwargs, error, match, forward takes it)
    ("l2 negative", dict(l2=-1.0), ValueError, r"l2 must be a finite number >= 0, got -1.0", False),
    ("l2 NaN", dict(l2=float("nan")), ValueError, r"l2 must be a finite number >= 0, got nan",
     False),
    ("l2 +Inf", dict(l2=float("inf")), ValueError, r"l2", False),
    ("l2 str", dict(l2="0.1"), TypeError, r"l2", False),
    ("l2 None", dict(l2=None), TypeError, r"l2", False),
    ("l2 bool", dict(l2=True), TypeError, r"l2", False),
    ("l2 list", dict(l2=[0.1]), TypeError, r"l2", False),
    ("l2 complex", dict(l2=1j), TypeError, r"l2", False),
    ("keep_prob 0", dict(keep_prob=0.0, key=KEY), ValueError, r"keep_prob must lie in \(0, 1\]",
     True),
    ("keep_prob negative", dict(keep_prob=-0.5, key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob 1.5", dict(keep_prob=1.5, key=KEY), ValueError, r"keep_prob must lie in \(0, 1\]",
     True),
    ("keep_prob NaN", dict(keep_prob=float("nan"), key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob Inf", dict(keep_prob=float("inf"), key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob str", dict(keep_prob="0.5", key=KEY), TypeError, r"keep_prob", True),
    ("keep_prob bool", dict(keep_prob=True, key=KEY), TypeError, r"keep_prob", True),
    ("keep_prob array", dict(keep_prob=jnp.asarray([0.5, 0.5]), key=KEY), TypeError, r"keep_prob",
     True),
    ("keep_prob without key", dict(keep_prob=0.5), ValueError, r"needs a PRNG key", True),
    ("dropout key int", dict(keep_prob=0.5, key=0), TypeError, r"key", True),
    ("dropout key str", dict(keep_prob=0.5, key="key"), TypeError, r"key", True),
    ("dropout key float array", dict(keep_prob=0.5, key=jnp.zeros(2)), TypeError, r"key", True),
    ("dropout key uint32 of shape (3,)", dict(keep_prob=0.5, key=jnp.zeros(3, jnp.uint32)),
     TypeError, r"key", True),
    ("dropout batch of keys", dict(keep_prob=0.5, key=jax.random.split(KEY, 2)), ValueError, r"key",
     True),
]


REG_ENTRIES = {
    "forward": lambda p, X, Y, A, kw: jaxdnn.forward(p, X, A, **kw),
    "cost": lambda p, X, Y, A, kw: jaxdnn.cost(p, X, Y, A, **kw),
    "manual_value_and_grad": lambda p, X, Y, A, kw: jaxdnn.manual_value_and_grad(p, X, Y, A, **kw),
    "autodiff_value_and_grad":
        lambda p, X, Y, A, kw: jaxdnn.autodiff_value_and_grad(p, X, Y, A, **kw),
    "fit": lambda p, X, Y, A, kw: _fit(p, X, Y, A, learning_rate=0.1, **kw),
}


# end to end: the key's kind is checked by jax.random itself, inside the call (still before any
# result comes back); l2 and keep_prob at the boundary
@pytest.mark.parametrize("name,kw,error,match,forward_too", REG_MUTATIONS,
                         ids=[r[0] for r in REG_MUTATIONS])
def test_bad_regularisation_arguments_are_rejected(name, kw, error, match, forward_too):
    for entry, call in REG_ENTRIES.items():
        if entry == "forward" and not forward_too:
            continue
        with pytest.raises(error, match=match):
            call(*base(), kw)


REG_CONTROLS = [("l2 and dropout", dict(l2=0.7, keep_prob=0.5, key=KEY)),
                ("keep_prob 1 without key", dict(keep_prob=1.0)),
                ("legacy uint32 key", dict(keep_prob=0.9, key=jax.random.PRNGKey(3)))]


@pytest.mark.parametrize("name,kw", REG_CONTROLS, ids=[r[0] for r in REG_CONTROLS])
def test_valid_regularisation_runs_everywhere(name, kw):
    for entry, call in REG_ENTRIES.items():
        args = {k: v for k, v in kw.items() if entry != "forward" or k != "l2"}
        assert_finite(call(*base(), args), f"{entry}: {name}")


# ----------------------------------------------------------------------------------------------
# 3. fit's own settings (those test_train does not already reject: there, one bad value of each
# setting; here, the other kinds of bad value)

FIT_MUTATIONS = [  # (name, kwargs or tmp -> kwargs, error, match)
    ("learning_rate 0", dict(learning_rate=0.0), ValueError, r"learning_rate"),
    ("learning_rate NaN", dict(learning_rate=float("nan")), ValueError, r"learning_rate"),
    ("learning_rate Inf", dict(learning_rate=float("inf")), ValueError, r"learning_rate"),
    ("learning_rate NumPy float32 NaN", dict(learning_rate=np.float32("nan")), ValueError,
     r"learning_rate"),
    ("learning_rate jax NaN", dict(learning_rate=jnp.asarray(jnp.nan)), ValueError,
     r"learning_rate"),
    ("learning_rate jax negative", dict(learning_rate=jnp.asarray(-1.0)), ValueError,
     r"learning_rate"),
    ("learning_rate str", dict(learning_rate="0.1"), TypeError, r"learning_rate"),
    ("learning_rate bool", dict(learning_rate=True), TypeError, r"learning_rate"),
    ("learning_rate complex", dict(learning_rate=0.1j), TypeError, r"learning_rate"),
    ("learning_rate list", dict(learning_rate=[0.1]), TypeError, r"learning_rate"),
    ("learning_rate vector", dict(learning_rate=jnp.ones(2)), ValueError, r"learning_rate"),
    ("num_iterations str", dict(num_iterations="2"), TypeError, r"num_iterations"),
    ("num_iterations None", dict(num_iterations=None), TypeError, r"num_iterations"),
    ("num_iterations bool", dict(num_iterations=True), TypeError, r"num_iterations"),
    ("grad None", dict(grad=None), ValueError, r"grad"),
    ("grad a function", dict(grad=jaxdnn.manual_value_and_grad), ValueError, r"grad"),
    ("grad list", dict(grad=["manual"]), ValueError, r"grad"),
    ("optimizer object", dict(optimizer=object()), TypeError, r"optimizer"),
    ("optimizer int", dict(optimizer=1), TypeError, r"optimizer"),
    ("optimizer adam with bad lr", lambda tmp: dict(optimizer=jaxdnn.adam(-1.0)), ValueError,
     r"learning_rate"),
    ("batch_size 2.0", dict(batch_size=2.0, key=KEY), TypeError, r"batch_size"),
    ("batch_size str", dict(batch_size="2", key=KEY), TypeError, r"batch_size"),
    ("batch_size bool", dict(batch_size=True, key=KEY), TypeError, r"batch_size"),
    ("minibatch key int", dict(batch_size=2, key=0), TypeError, r"key"),
    ("minibatch key str", dict(batch_size=2, key="key"), TypeError, r"key"),
    ("minibatch key float array", dict(batch_size=2, key=jnp.zeros(2)), TypeError, r"key"),
    ("minibatch batch of keys", dict(batch_size=2, key=jax.random.split(KEY, 2)), ValueError,
     r"key"),
    ("chunk_size -1", dict(chunk_size=-1), ValueError, r"chunk_size"),
    ("chunk_size 1.5", dict(chunk_size=1.5), ValueError, r"chunk_size"),
    ("chunk_size str", dict(chunk_size="1"), ValueError, r"chunk_size"),
    ("checkpoint_every 0", lambda tmp: dict(checkpoint_every=0, checkpoint_dir=tmp / "c"),
     ValueError, r"checkpoint_every"),
    ("checkpoint_every != chunk_size",
     lambda tmp: dict(checkpoint_every=1, chunk_size=2, checkpoint_dir=tmp / "c"),
     ValueError, r"chunk"),
    ("checkpoint_dir int", dict(checkpoint_dir=5), TypeError, r"str|path"),
    ("mesh str", dict(mesh="data"), TypeError, r"mesh"),
]


@pytest.mark.parametrize("name,kw,error,match", FIT_MUTATIONS, ids=[r[0] for r in FIT_MUTATIONS])
def test_fit_rejects_bad_settings(name, kw, error, match, tmp_path):
    with pytest.raises(error, match=match):
        _fit(*base(), **(kw(tmp_path) if callable(kw) else kw))


FIT_CONTROLS = [  # (name, settings, m)
    ("minibatch + dropout + adam, batch_size 1, m = 1",
     dict(batch_size=1, keep_prob=0.5, key=KEY, optimizer=jaxdnn.adam(0.01)), 1),
    ("batch_size m, autodiff, check_finite",
     dict(batch_size=5, key=KEY, grad="autodiff", check_finite=True, learning_rate=0.1), 5),
    ("NumPy int settings", dict(num_iterations=np.int64(2), batch_size=np.int32(2), key=KEY), 5),
    ("chunk_size larger than num_iterations", dict(chunk_size=10), 5),
    ("minibatch with a legacy uint32 key", dict(batch_size=3, key=jax.random.PRNGKey(1)), 5),
]


@pytest.mark.parametrize("name,kw,m", FIT_CONTROLS, ids=[r[0] for r in FIT_CONTROLS])
def test_fit_accepts_valid_extreme_settings(name, kw, m):
    p, X, Y, A = base()
    assert_finite(_fit(p, X[:, :m], Y[:, :m], A, **kw), name)


# ----------------------------------------------------------------------------------------------
# 4. gradient_check's own arguments


def _transposed_grads(p, X, Y, A):
    J, g = jaxdnn.manual_value_and_grad(p, X, Y, A)
    return J, [{"W": d["W"].T, "b": d["b"]} for d in g]


GC_MUTATIONS = [  # (name, kwargs, error, match)
    ("epsilon 0", dict(epsilon=0.0), ValueError, r"epsilon"),
    ("epsilon NaN", dict(epsilon=float("nan")), ValueError, r"epsilon"),
    ("epsilon Inf", dict(epsilon=float("inf")), ValueError, r"epsilon"),
    ("epsilon str", dict(epsilon="1e-7"), TypeError, r"epsilon"),
    ("epsilon None", dict(epsilon=None), TypeError, r"epsilon"),
    ("threshold NaN", dict(threshold=float("nan")), ValueError, r"threshold"),
    ("threshold str", dict(threshold="1e-7"), TypeError, r"threshold"),
    ("grad_fn int", dict(grad_fn=3), TypeError, r"grad_fn|callable"),
    ("grad_fn returns (0, None)", dict(grad_fn=lambda *a: (0.0, None)), ValueError,
     r"grad_fn|grad"),
    ("grad_fn returns transposed W", dict(grad_fn=_transposed_grads), ValueError, r"grad_fn|grad"),
]


@pytest.mark.parametrize("name,kw,error,match", GC_MUTATIONS, ids=[r[0] for r in GC_MUTATIONS])
def test_gradient_check_rejects_bad_arguments(name, kw, error, match):
    with pytest.raises(error, match=match):
        jaxdnn.gradient_check(*base(), **kw)


# ----------------------------------------------------------------------------------------------
# 5. the softmax and linear outputs


def softmax_problem():
    params = he_params([3, 4, 3], seed=1)
    X = as_jax(np.random.RandomState(1).randn(3, 5), F64)
    Y = as_jax(np.eye(3)[:, [0, 2, 1, 1, 0]], F64)
    return params, X, Y, ("relu", "softmax")


OUTPUT_CASES = {
    "negative softmax label": (lambda Y: Y.at[0, 0].set(-1.0), ("relu", "softmax"), ValueError,
                               r"labels in Y must lie in \[0, 1\], got values from -1"),
    "softmax column not summing to 1": (
        lambda Y: Y.at[:, 3].set(0.0), ("relu", "softmax"), ValueError,
        r"each column of Y must sum to 1, but 1 of 5 do not \(column 3 sums to 0\)"),
    "integer class labels for softmax": (
        lambda Y: jnp.argmax(Y, axis=0), ("relu", "softmax"), ValueError,
        r"Y must have shape \(3, 5\).*got \(5,\); for integer class labels use jaxdnn.one_hot"),
    "softmax hidden layer": (lambda Y: Y, ("softmax", "softmax"), ValueError,
                             r"'softmax' can only be the output layer's activation"
                             r".*hidden layer 1"),
    "relu output": (lambda Y: Y, ("relu", "relu"), ValueError,
                    r"must be one of \['sigmoid', 'softmax', 'linear'\].*got 'relu'"),
    "NaN regression target": (lambda Y: Y.at[1, 1].set(jnp.nan), ("relu", "linear"), ValueError,
                              r"Y contains NaN or Inf; expected real numbers"),
}


@pytest.mark.parametrize("case", sorted(OUTPUT_CASES))
def test_labels_must_suit_the_output(case):
    p, X, Y, _ = softmax_problem()
    change, acts, error, match = OUTPUT_CASES[case]
    with pytest.raises(error, match=match):
        jaxdnn.cost(p, X, change(Y), acts)


def test_regression_targets_may_be_any_real_numbers():
    p, X, Y, _ = softmax_problem()
    targets = 10 * np.asarray(Y) - 3.5
    _, checked_Y, _ = checks.check_problem(p, X, targets, ("relu", "linear"))
    np.testing.assert_array_equal(np.asarray(checked_Y), targets)


def test_a_one_unit_softmax_is_an_error_that_points_to_sigmoid():
    p, X, _, _ = base()
    with pytest.raises(ValueError, match=r"softmax output needs n_L >= 2.*use 'sigmoid'"):
        jaxdnn.cost(p, X, as_jax(np.ones((1, 5)), F64), ("relu", "softmax"))


def test_accuracy_of_a_regression_says_to_use_the_cost():
    p, X, Y, _ = softmax_problem()
    with pytest.raises(ValueError, match=r"linear output is a regression.*jaxdnn.cost"):
        jaxdnn.accuracy(p, X, Y, ("relu", "linear"))


@pytest.mark.parametrize("labels,k,error,match", [
    ([0, 3], 3, ValueError, r"labels must lie in \[0, 3\), got values from 0 to 3"),
    ([-1, 0], 3, ValueError, r"got values from -1 to 0"),
    ([0.0, 1.0], 3, TypeError, r"labels must be integer class indices, got dtype float"),
    ([[0, 1], [1, 0]], 3, ValueError, r"labels must have shape \(m,\) or \(1, m\), got \(2, 2\)"),
    ([0, 1], 1, ValueError, r"num_classes must be >= 2, got 1"),
])
def test_one_hot_rejects_bad_labels(labels, k, error, match):
    with pytest.raises(error, match=match):
        jaxdnn.one_hot(np.asarray(labels), k)


# ----------------------------------------------------------------------------------------------
# 6. the building blocks and the manual pass from dA_L


def blocks():
    A_prev = jnp.ones((4, 6), jnp.float64)
    W, b = jnp.ones((3, 4), jnp.float64), jnp.ones((3, 1), jnp.float64)
    Z, linear_cache = jaxdnn.linear_forward(A_prev, W, b)
    _, cache = jaxdnn.linear_activation_forward(A_prev, W, b, "relu")
    return A_prev, W, b, Z, linear_cache, cache


BLOCK_CASES = {
    "A_prev rows do not match W": (
        lambda A, W, b, Z, lc, c: jaxdnn.linear_forward(A[:3], W, b), ValueError,
        r"A_prev must have shape \(4, 6\) \(W is \(3, 4\): n_prev = 4 rows\), got \(3, 6\)"),
    "b a row": (lambda A, W, b, Z, lc, c: jaxdnn.linear_forward(A, W, b.T), ValueError,
                r"b must have shape \(3, 1\).*got \(1, 3\)"),
    "A_prev of another dtype": (
        lambda A, W, b, Z, lc, c: jaxdnn.linear_forward(A.astype(jnp.float32), W, b), TypeError,
        r"A_prev has dtype float32, expected float64"),
    "unknown activation": (
        lambda A, W, b, Z, lc, c: jaxdnn.linear_activation_forward(A, W, b, "gelu"), ValueError,
        r"unknown activation 'gelu'"),
    "dZ of another layer": (lambda A, W, b, Z, lc, c: jaxdnn.linear_backward(Z[:2], lc), ValueError,
                            r"dZ must have shape \(3, 6\).*got \(2, 6\)"),
    "a cache of another layer shape": (
        lambda A, W, b, Z, lc, c: jaxdnn.linear_backward(Z, (A, W[:, :3], b)), ValueError,
        r"A_prev must have shape \(3, 6\) \(W is \(3, 3\).*got \(4, 6\)"),
    "a linear cache where a layer cache belongs": (
        lambda A, W, b, Z, lc, c: jaxdnn.linear_activation_backward(Z, lc, "relu"), TypeError,
        r"cache.linear must be the LinearCache"),
    "dA of another shape": (
        lambda A, W, b, Z, lc, c: jaxdnn.linear_activation_backward(Z.T, c, "relu"), ValueError,
        r"dA must have shape \(3, 6\) \(the shape of the cache's Z\), got \(6, 3\)"),
}


@pytest.mark.parametrize("case", sorted(BLOCK_CASES))
def test_the_building_blocks_reject_bad_input(case):
    call, error, match = BLOCK_CASES[case]
    with pytest.raises(error, match=match):
        call(*blocks())


def test_backward_from_rejects_a_mismatched_dAL_and_foreign_caches():
    p, X, Y, acts = softmax_problem()
    _, caches = jaxdnn.forward(p, X, acts)
    with pytest.raises(ValueError, match=r"dAL must have shape \(3, 5\) \(dL/dA_L of each example: "
                                         r"n_L = 3 outputs by m = 5 examples\), got \(3, 4\)"):
        jaxdnn.backward_from(p, caches, Y[:, :4], acts)
    other = he_params([3, 2, 3], seed=2)
    with pytest.raises(ValueError, match=r"caches\[0\] belongs to another network or batch"):
        jaxdnn.backward_from(other, caches, Y, acts)
    with pytest.raises(ValueError, match=r"list of 2 layer caches that forward returned, got 1"):
        jaxdnn.backward(p, caches[:1], Y, acts)
