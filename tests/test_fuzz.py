"""Malformed input to every public entry point ends in a clear error; valid-but-extreme input works.

A specification in tables. Each row is ``(name, mutate, error, match)``: ``mutate`` turns one valid
base problem into a malformed one, and the call must raise ``error`` (``ValueError`` for a wrong
shape or value, ``TypeError`` for a wrong kind or dtype; ``jaxdnn.CheckpointError`` is a
``ValueError``) whose message matches ``match``, i.e. names the offending argument.

- Problem inputs (X, Y, params, activations) and the regularisation arguments go to the checks the
  entry points run (``jaxdnn.check_problem_args``, ``check_network_args``,
  ``check_prediction_args``), called directly: eagerly and, for rows whose fault is static (shape,
  dtype, tree structure), also on tracers under ``jax.eval_shape``, which is what ``jit`` sees.
  Nothing compiles. ``fit`` and ``gradient_check`` run ``checks.check_problem`` inline rather than
  through ``@checked``, so every problem row also goes through them end to end (each raises before
  any work is done).
- A few rows per entry point go end to end, eagerly and under ``jit``: each entry point runs its
  check.
- The arguments only one function takes (``fit``'s settings, ``gradient_check``'s, ``gd_update``'s,
  ``init_params``'s, ``save``'s) and crafted or corrupted files for ``load`` go end to end.
- Valid-but-extreme inputs (m = 1, width-1 layers, float32, NumPy inputs, tuple params, bool and
  soft labels, ...) are positive controls: every entry point succeeds with finite results.

``test_case_count`` prints how many cases the tables make.
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn
from jaxdnn import CheckpointError, checks
from jaxdnn import checkpoint as ckpt

ACTS = ("relu", "sigmoid")
F64 = jnp.float64
KEY = jax.random.key(0)


def check_problem_args(p, X, Y, A):  # what cost, the value-and-grads and accuracy check
    return checks.check_problem(p, X, Y, A)


def check_network_args(p, X, A):  # what forward checks
    return checks.check_network(p, X, A)


def check_prediction_args(p, X, A):  # what predict checks
    return checks.check_network(p, X, A, output=True)


# ----------------------------------------------------------------------------------------------
# the valid base problem and small helpers


def base():
    """params [3, 4, 1] (float64), X (3, 5), Y (1, 5) and ("relu", "sigmoid")."""
    rng = np.random.default_rng(0)
    params = [{"W": jnp.asarray(rng.standard_normal((4, 3)) / np.sqrt(3), F64),
               "b": jnp.asarray(0.1 * rng.standard_normal((4, 1)), F64)},
              {"W": jnp.asarray(rng.standard_normal((1, 4)) / 2, F64),
               "b": jnp.zeros((1, 1), F64)}]
    X = jnp.asarray(rng.standard_normal((3, 5)), F64)
    Y = jnp.asarray([[0.0, 1.0, 1.0, 0.0, 1.0]], F64)
    return params, X, Y, ACTS


def grads_of(params):
    X, Y = base()[1:3]
    return jaxdnn.manual_value_and_grad(params, X, Y, ACTS)[1]


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
    return [{"W": jnp.asarray(rng.standard_normal((n, n_prev)), dtype),
             "b": jnp.asarray(0.1 * rng.standard_normal((n, 1)), dtype)}
            for n_prev, n in zip(dims[:-1], dims[1:])]


def non_finite_leaves(result):
    """Paths of the numeric leaves inside ``result`` (pytrees, NamedTuples, reports) not finite."""
    if isinstance(result, jaxdnn.GradCheckReport):
        result = result.to_dict()
    bad = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(result):
        a = np.asarray(leaf)
        if np.issubdtype(a.dtype, np.number) and not np.all(np.isfinite(a)):
            bad.append(jax.tree_util.keystr(path))
    return bad


def assert_finite(result, what):
    bad = non_finite_leaves(result)
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
    match: str  # regex the message must match (case-insensitive)
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

MUTATIONS = [
    # X: rank, shape, dtype, values, kind
    Row("X 1-D", X_(lambda X: X[0]), ValueError, ON_X),
    Row("X 3-D", X_(lambda X: X[None]), ValueError, ON_X),
    Row("X 0-D", X_(lambda X: X[0, 0]), ValueError, ON_X),
    Row("X transposed", X_(lambda X: X.T), ValueError, ON_X),
    Row("X too few rows", X_(lambda X: X[:2]), ValueError, ON_X),
    Row("X too many rows", X_(lambda X: jnp.concatenate([X, X[:1]])), ValueError, ON_X),
    Row("X m = 0", lambda p, X, Y, A: (p, X[:, :0], Y[:, :0], A), ValueError, ON_X),
    Row("X int32", X_(lambda X: X.astype(jnp.int32)), TypeError, ON_X),
    Row("X int64", X_(lambda X: X.astype(jnp.int64)), TypeError, ON_X),
    Row("X uint8", X_(lambda X: jnp.abs(X).astype(jnp.uint8)), TypeError, ON_X),
    Row("X bool", X_(lambda X: X > 0), TypeError, ON_X),
    Row("X complex128", X_(lambda X: X.astype(jnp.complex128)), TypeError, ON_X),
    Row("X float32 (params float64)", X_(lambda X: X.astype(jnp.float32)), TypeError, ON_X),
    Row("X float16", X_(lambda X: X.astype(jnp.float16)), TypeError, ON_X),
    Row("X bfloat16", X_(lambda X: X.astype(jnp.bfloat16)), TypeError, ON_X),
    Row("X one NaN", X_(lambda X: X.at[1, 2].set(jnp.nan)), ValueError, ON_X, traced=False),
    Row("X one +Inf", X_(lambda X: X.at[0, 0].set(jnp.inf)), ValueError, ON_X, traced=False),
    Row("X one -Inf", X_(lambda X: X.at[2, 4].set(-jnp.inf)), ValueError, ON_X, traced=False),
    Row("X all NaN", X_(lambda X: jnp.full_like(X, jnp.nan)), ValueError, ON_X, traced=False),
    Row("X NumPy with NaN", X_(lambda X: np.where(np.eye(3, 5) > 0, np.nan, np.asarray(X))),
        ValueError, ON_X, traced=False),
    Row("X nested list", X_(lambda X: np.asarray(X).tolist()), TypeError, ON_X),
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
    # Y: rank, shape, dtype, labels, kind
    Row("Y 1-D (m,)", Y_(lambda Y: Y[0]), ValueError, ON_Y),
    Row("Y (m, 1)", Y_(lambda Y: Y.T), ValueError, ON_Y),
    Row("Y 3-D", Y_(lambda Y: Y[None]), ValueError, ON_Y),
    Row("Y 0-D", Y_(lambda Y: Y[0, 0]), ValueError, ON_Y),
    Row("Y m - 1 columns", Y_(lambda Y: Y[:, :4]), ValueError, ON_Y),
    Row("Y m + 1 columns", Y_(lambda Y: jnp.concatenate([Y, Y[:, :1]], axis=1)), ValueError, ON_Y),
    Row("Y two rows (n_L = 1)", Y_(lambda Y: jnp.concatenate([Y, Y])), ValueError, ON_Y),
    Row("Y label 2", Y_(lambda Y: Y.at[0, 1].set(2.0)), ValueError, ON_Y, traced=False),
    Row("Y label -1", Y_(lambda Y: Y.at[0, 1].set(-1.0)), ValueError, ON_Y, traced=False),
    Row("Y label 1 + 1e-9", Y_(lambda Y: Y.at[0, 1].set(1.0 + 1e-9)), ValueError, ON_Y,
        traced=False),
    Row("Y int label 2", Y_(lambda Y: Y.astype(jnp.int32).at[0, 0].set(2)), ValueError, ON_Y,
        traced=False),
    Row("Y uint8 label 255", Y_(lambda Y: Y.astype(jnp.uint8).at[0, 0].set(255)), ValueError, ON_Y,
        traced=False),
    Row("Y label NaN", Y_(lambda Y: Y.at[0, 1].set(jnp.nan)), ValueError, ON_Y, traced=False),
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
        ON_PARAMS),
    Row("params W1/b1 dict (old layout)",
        P_(lambda p: {"W1": p[0]["W"], "b1": p[0]["b"], "W2": p[1]["W"], "b2": p[1]["b"]}),
        TypeError, ON_PARAMS),
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
        ValueError, ON_PARAMS),
    Row("params mixed dtypes (b float32)",
        P_(lambda p: layer(p, 1, b=p[1]["b"].astype(jnp.float32))), TypeError, ON_PARAMS),
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
    Row("activation unknown", A_(("swish", "sigmoid")), ValueError, ON_ACTS),
    Row("activation upper case", A_(("RELU", "sigmoid")), ValueError, ON_ACTS),
    Row("activation trailing space", A_(("relu ", "sigmoid")), ValueError, ON_ACTS),
    Row("activation None entry", A_((None, "sigmoid")), ValueError, ON_ACTS),
    Row("activation int entry", A_((1, "sigmoid")), ValueError, ON_ACTS),
    Row("activation function entry", A_((jnp.tanh, "sigmoid")), ValueError, ON_ACTS),
    Row("activation list entry", A_((["relu"], "sigmoid")), ValueError, ON_ACTS, traced=False),
    Row("activations too few", A_(("sigmoid",)), ValueError, ON_ACTS),
    Row("activations too many", A_(("relu", "relu", "sigmoid")), ValueError, ON_ACTS),
    Row("activations empty", A_(()), ValueError, ON_ACTS),
    Row("activations non-sigmoid output", A_(("relu", "tanh")), ValueError, ON_ACTS),
    Row("activations softmax output", A_(("relu", "softmax")), ValueError, ON_ACTS),
    Row("activations one string", A_("relu,sigmoid"), TypeError, ON_ACTS),
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

# the checks, called as the entry points call them; "Y" rows go to the problem check only
CHECKS = {
    "check_problem_args": lambda p, X, Y, A: check_problem_args(p, X, Y, A),
    "check_network_args": lambda p, X, Y, A: check_network_args(p, X, A),
    "check_prediction_args": lambda p, X, Y, A: check_prediction_args(p, X, A),
}


def checks_for(row):
    return [n for n in CHECKS if n == "check_problem_args" or row.match != ON_Y]


def traced(check, A):
    """``check`` on tracers of (params, X, Y), as under ``jit``: traced, never compiled."""
    return lambda p, X, Y, _: jax.eval_shape(lambda p, X, Y: check(p, X, Y, A) and None, p, X, Y)


@pytest.mark.parametrize("row", MUTATIONS, ids=lambda r: r.name)
def test_the_checks_reject_malformed_problems(row):
    for name in checks_for(row):
        modes = [(CHECKS[name], row.error)]
        if row.traced:
            modes.append((traced(CHECKS[name], row.mutate(*base())[3]),
                          row.traced if isinstance(row.traced, type) else row.error))
        for call, error in modes:
            inputs = row.mutate(*base())
            if name == "check_network_args" and row.name in FORWARD_ACCEPTS:
                call(*inputs)
                continue
            with pytest.raises(error, match=row.match):
                call(*inputs)


# fit and gradient_check check the problem inline; each row raises before any work is done
INLINE = {
    "fit": lambda p, X, Y, A: _fit(p, X, Y, A, learning_rate=0.1),
    "gradient_check": lambda p, X, Y, A: jaxdnn.gradient_check(p, X, Y, A),
}


@pytest.mark.parametrize("row", MUTATIONS, ids=lambda r: r.name)
def test_fit_and_gradient_check_reject_malformed_problems(row):
    for call in INLINE.values():
        with pytest.raises(row.error, match=row.match):
            call(*row.mutate(*base()))


_JIT = {name: jax.jit(getattr(jaxdnn, name), static_argnames="activations")
        for name in ("forward", "cost", "manual_value_and_grad")}

# entry point -> (its check, call(p, X, Y, A))
ENTRY_POINTS = {
    "forward": (check_network_args, lambda p, X, Y, A: jaxdnn.forward(p, X, A)),
    "predict": (check_prediction_args, lambda p, X, Y, A: jaxdnn.predict(p, X, A)),
    **{name: (check_problem_args, lambda p, X, Y, A, f=f: f(p, X, Y, A))
       for name, f in ((n, getattr(jaxdnn, n))
                       for n in ("cost", "manual_value_and_grad", "autodiff_value_and_grad",
                                 "cost_with_manual_vjp", "accuracy"))},
    "jit(forward)": (check_network_args,
                     lambda p, X, Y, A: _JIT["forward"](p, X, activations=A)),
    "jit(cost)": (check_problem_args,
                  lambda p, X, Y, A: _JIT["cost"](p, X, Y, activations=A)),
    "jit(manual_value_and_grad)": (
        check_problem_args,
        lambda p, X, Y, A: _JIT["manual_value_and_grad"](p, X, Y, activations=A)),
}
# one row per kind of fault; the value checks (NaN, labels) need concrete values: eager only
END_TO_END = ["X transposed", "X one NaN", "Y (m, 1)", "Y label 2", "params W transposed",
              "params mixed dtypes (b float32)", "activations too few", "activations one string"]


def _end_to_end_cases():
    rows = {r.name: r for r in MUTATIONS}
    for entry, (check, _) in ENTRY_POINTS.items():
        for name in END_TO_END:
            row = rows[name]
            if (row.match == ON_Y and check is not check_problem_args) or (
                    entry.startswith("jit") and not row.traced):
                continue
            yield pytest.param(entry, row, id=f"{entry}: {name}")


@pytest.mark.parametrize("entry,row", list(_end_to_end_cases()))
def test_every_entry_point_runs_its_check(entry, row):
    check, call = ENTRY_POINTS[entry]
    p, X, Y, A = row.mutate(*base())
    with pytest.raises(row.error, match=row.match):
        call(p, X, Y, A)
    with pytest.raises(row.error, match=row.match):  # the same error as the entry point's check
        check(*((p, X, Y, A) if check is check_problem_args else (p, X, A)))


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
    "a non-sigmoid output, for forward only": A_(("relu", "tanh")),
}
CONTROL_ENTRIES = {  # entry -> (call, what in the result has the params' tree structure)
    **{name: (call, None) for name, (_, call) in ENTRY_POINTS.items()},
    "fit": (lambda p, X, Y, A: _fit(p, X, Y, A, learning_rate=0.1), lambda r: r[0]),
    "gradient_check": (lambda p, X, Y, A: jaxdnn.gradient_check(p, X, Y, A), None),
    "grad(cost_with_manual_vjp)": (  # jax.grad checks its own inputs first: valid input only
        lambda p, X, Y, A: jax.grad(jaxdnn.cost_with_manual_vjp)(p, X, Y, A), lambda r: r),
}
for _name in ("manual_value_and_grad", "autodiff_value_and_grad", "jit(manual_value_and_grad)"):
    CONTROL_ENTRIES[_name] = (CONTROL_ENTRIES[_name][0], lambda r: r[1])




def control_entries(control):
    if "forward only" in control:
        return ["forward", "jit(forward)"]
    if "labels" in control:  # each gradient check compiles anew; labels are checked above
        return [e for e in CONTROL_ENTRIES if e != "gradient_check"]
    return list(CONTROL_ENTRIES)


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
    ("l2 negative", dict(l2=-1.0), ValueError, r"l2", False),
    ("l2 NaN", dict(l2=float("nan")), ValueError, r"l2", False),
    ("l2 +Inf", dict(l2=float("inf")), ValueError, r"l2", False),
    ("l2 str", dict(l2="0.1"), TypeError, r"l2", False),
    ("l2 None", dict(l2=None), TypeError, r"l2", False),
    ("l2 bool", dict(l2=True), TypeError, r"l2", False),
    ("l2 list", dict(l2=[0.1]), TypeError, r"l2", False),
    ("l2 complex", dict(l2=1j), TypeError, r"l2", False),
    ("keep_prob 0", dict(keep_prob=0.0, key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob negative", dict(keep_prob=-0.5, key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob 1.5", dict(keep_prob=1.5, key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob NaN", dict(keep_prob=float("nan"), key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob Inf", dict(keep_prob=float("inf"), key=KEY), ValueError, r"keep_prob", True),
    ("keep_prob str", dict(keep_prob="0.5", key=KEY), TypeError, r"keep_prob", True),
    ("keep_prob bool", dict(keep_prob=True, key=KEY), TypeError, r"keep_prob", True),
    ("keep_prob array", dict(keep_prob=jnp.asarray([0.5, 0.5]), key=KEY), TypeError, r"keep_prob",
     True),
    ("keep_prob without key", dict(keep_prob=0.5), ValueError, r"key", True),
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
# result comes back); l2 and keep_prob by checks.check_regularization at the boundary
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
# 3. fit's own settings


def _other_run_dir(tmp):
    d = tmp / "run"
    _fit(*base(), learning_rate=0.1, checkpoint_dir=d)
    return d


def _corrupt_run_dir(tmp):
    d = tmp / "run"
    d.mkdir()
    (d / "ckpt_00000002.npz").write_bytes(b"PK\x03\x04 not a zip")
    return d


FIT_MUTATIONS = [  # (name, kwargs or tmp -> kwargs, error, match)
    ("learning_rate negative", dict(learning_rate=-0.1), ValueError, r"learning_rate"),
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
    ("learning_rate with optimizer", dict(learning_rate=0.1, optimizer=optax.sgd(0.1)), ValueError,
     r"learning_rate"),
    ("num_iterations 0", dict(num_iterations=0), ValueError, r"num_iterations"),
    ("num_iterations -1", dict(num_iterations=-1), ValueError, r"num_iterations"),
    ("num_iterations 2.0", dict(num_iterations=2.0), TypeError, r"num_iterations"),
    ("num_iterations str", dict(num_iterations="2"), TypeError, r"num_iterations"),
    ("num_iterations None", dict(num_iterations=None), TypeError, r"num_iterations"),
    ("num_iterations bool", dict(num_iterations=True), TypeError, r"num_iterations"),
    ("grad 'numeric'", dict(grad="numeric"), ValueError, r"grad"),
    ("grad None", dict(grad=None), ValueError, r"grad"),
    ("grad a function", dict(grad=jaxdnn.manual_value_and_grad), ValueError, r"grad"),
    ("grad list", dict(grad=["manual"]), ValueError, r"grad"),
    ("optimizer str", dict(optimizer="adam"), TypeError, r"optimizer"),
    ("optimizer object", dict(optimizer=object()), TypeError, r"optimizer"),
    ("optimizer int", dict(optimizer=1), TypeError, r"optimizer"),
    ("optimizer adam with bad lr", lambda tmp: dict(optimizer=jaxdnn.adam(-1.0)), ValueError,
     r"learning_rate"),
    ("batch_size 0", dict(batch_size=0, key=KEY), ValueError, r"batch_size"),
    ("batch_size -1", dict(batch_size=-1, key=KEY), ValueError, r"batch_size"),
    ("batch_size m + 1", dict(batch_size=6, key=KEY), ValueError, r"batch_size"),
    ("batch_size 2.0", dict(batch_size=2.0, key=KEY), TypeError, r"batch_size"),
    ("batch_size str", dict(batch_size="2", key=KEY), TypeError, r"batch_size"),
    ("batch_size bool", dict(batch_size=True, key=KEY), TypeError, r"batch_size"),
    ("batch_size without key", dict(batch_size=2), ValueError, r"key"),
    ("minibatch key int", dict(batch_size=2, key=0), TypeError, r"key"),
    ("minibatch key str", dict(batch_size=2, key="key"), TypeError, r"key"),
    ("minibatch key float array", dict(batch_size=2, key=jnp.zeros(2)), TypeError, r"key"),
    ("minibatch batch of keys", dict(batch_size=2, key=jax.random.split(KEY, 2)), ValueError,
     r"key"),
    ("unused key int", dict(key=5), TypeError, r"key"),
    ("chunk_size 0", dict(chunk_size=0), ValueError, r"chunk_size"),
    ("chunk_size -1", dict(chunk_size=-1), ValueError, r"chunk_size"),
    ("chunk_size 1.5", dict(chunk_size=1.5), ValueError, r"chunk_size"),
    ("chunk_size str", dict(chunk_size="1"), ValueError, r"chunk_size"),
    ("checkpoint_every without dir", dict(checkpoint_every=1), ValueError, r"checkpoint"),
    ("checkpoint_every 0", lambda tmp: dict(checkpoint_every=0, checkpoint_dir=tmp / "c"),
     ValueError, r"checkpoint_every"),
    ("checkpoint_every != chunk_size",
     lambda tmp: dict(checkpoint_every=1, chunk_size=2, checkpoint_dir=tmp / "c"),
     ValueError, r"chunk"),
    ("checkpoint_dir int", dict(checkpoint_dir=5), TypeError, r"str|path"),
    ("checkpoint_dir of another run", lambda tmp: dict(checkpoint_dir=_other_run_dir(tmp),
                                                       learning_rate=0.2),
     ValueError, r"different run"),
    ("checkpoint_dir with a corrupt checkpoint",
     lambda tmp: dict(checkpoint_dir=_corrupt_run_dir(tmp)), CheckpointError, r"ckpt_00000002"),
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
    ("optax optimizer", dict(optimizer=optax.sgd(0.1, momentum=0.9)), 5),
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


GC_CONTROLS = [("epsilon 1e-6", dict(epsilon=1e-6)),
               ("grad_fn = autodiff", dict(grad_fn=jaxdnn.autodiff_value_and_grad))]


@pytest.mark.parametrize("name,kw", GC_CONTROLS, ids=[r[0] for r in GC_CONTROLS])
def test_gradient_check_accepts_valid_arguments(name, kw):
    report = jaxdnn.gradient_check(*base(), **kw)
    assert report.passed, str(report)
    assert_finite(report, "gradient_check")


# ----------------------------------------------------------------------------------------------
# 5. gd_update


def _gd(grads_fn=lambda g: g, lr=0.1, params_fn=lambda p: p):
    def run():
        p = base()[0]
        return jaxdnn.gd_update(params_fn(p), grads_fn(grads_of(p)), lr)
    return run


GD_MUTATIONS = [  # (name, call, error, match)
    ("grads missing b", _gd(lambda g: layer(g, 1, b=None)), ValueError, r"grads"),
    ("grads extra key", _gd(lambda g: layer(g, 0, gamma=g[0]["b"])), ValueError, r"grads"),
    ("grads dW/db keys", _gd(lambda g: [{"dW": d["W"], "db": d["b"]} for d in g]), ValueError,
     r"grads"),
    ("grads W transposed", _gd(lambda g: layer(g, 0, W=g[0]["W"].T)), ValueError, r"grads"),
    ("grads b 1-D", _gd(lambda g: layer(g, 0, b=g[0]["b"][:, 0])), ValueError, r"grads"),
    ("grads one layer short", _gd(lambda g: g[:1]), ValueError, r"grads"),
    ("grads one layer too many", _gd(lambda g: g + g[:1]), ValueError, r"grads"),
    ("grads None", _gd(lambda g: None), ValueError, r"grads"),
    ("grads dict", _gd(lambda g: {"W1": g[0]["W"]}), ValueError, r"grads"),
    ("grads nested one level deeper", _gd(lambda g: [[d] for d in g]), ValueError, r"grads"),
    ("grads str leaf", _gd(lambda g: layer(g, 0, W="W")), ValueError, r"grads"),
    ("grads nested-list leaf", _gd(lambda g: layer(g, 0, W=np.asarray(g[0]["W"]).tolist())),
     ValueError, r"grads"),
    ("grads of a transposed W", _gd(params_fn=lambda p: layer(p, 0, W=p[0]["W"].T)), ValueError,
     r"grads"),
    ("learning_rate NaN", _gd(lr=float("nan")), ValueError, r"learning_rate"),
    ("learning_rate Inf", _gd(lr=float("inf")), ValueError, r"learning_rate"),
    ("learning_rate str", _gd(lr="0.1"), TypeError, r"learning_rate"),
    ("learning_rate None", _gd(lr=None), TypeError, r"learning_rate"),
    ("learning_rate complex", _gd(lr=0.1j), TypeError, r"learning_rate"),
    ("learning_rate shape (4, 1)", _gd(lr=jnp.ones((4, 1))), ValueError, r"learning_rate"),
    ("learning_rate shape (2,)", _gd(lr=jnp.ones(2)), ValueError, r"learning_rate"),
    ("learning_rate list", _gd(lr=[0.1]), TypeError, r"learning_rate"),
    ("python-float leaves", lambda: jaxdnn.gd_update([1.0, 2.0], [0.5, 0.5], 0.1), TypeError,
     r"array|params"),
]


@pytest.mark.parametrize("name,call,error,match", GD_MUTATIONS, ids=[r[0] for r in GD_MUTATIONS])
def test_gd_update_rejects_bad_arguments(name, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gd_update_accepts_float32_params_with_a_float64_rate_and_vmapped_rates():
    to32 = lambda t: jax.tree.map(lambda a: a.astype(jnp.float32), t)
    new = _gd(to32, lr=np.float64(0.1), params_fn=to32)()
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(new))
    assert_finite(new, "float32 params")
    p = base()[0]  # vmapped learning rates are documented to work
    stacked = jax.vmap(lambda lr: jaxdnn.gd_update(p, grads_of(p), lr))(jnp.asarray([0.1, 0.2]))
    assert stacked[0]["W"].shape == (2, 4, 3)
    assert_finite(stacked, "vmapped learning rates")


# ----------------------------------------------------------------------------------------------
# 6. init_params

INIT_MUTATIONS = [  # (name, kwargs for init_params(key, layer_dims, method, dtype), error, match)
    ("key int", dict(key=0), TypeError, r"key"),
    ("key None", dict(key=None), TypeError, r"key"),
    ("key str", dict(key="key"), TypeError, r"key"),
    ("key float array", dict(key=jnp.zeros(2)), TypeError, r"key"),
    ("batch of keys", dict(key=jax.random.split(KEY, 2)), ValueError, r"key"),
    ("layer_dims empty", dict(layer_dims=[]), ValueError, r"layer_dims"),
    ("layer_dims one entry", dict(layer_dims=[3]), ValueError, r"layer_dims"),
    ("layer_dims zero", dict(layer_dims=[3, 0]), ValueError, r"layer_dims"),
    ("layer_dims negative", dict(layer_dims=[3, -1]), ValueError, r"layer_dims"),
    ("layer_dims float", dict(layer_dims=[3.0, 1]), TypeError, r"layer_dims"),
    ("layer_dims str entries", dict(layer_dims=["3", "1"]), TypeError, r"layer_dims"),
    ("layer_dims bool", dict(layer_dims=[True, 1]), TypeError, r"layer_dims"),
    ("layer_dims None entry", dict(layer_dims=[3, None]), TypeError, r"layer_dims"),
    ("layer_dims None", dict(layer_dims=None), TypeError, r"layer_dims"),
    ("layer_dims int", dict(layer_dims=5), TypeError, r"layer_dims"),
    ("layer_dims str", dict(layer_dims="31"), TypeError, r"layer_dims"),
    ("layer_dims nested", dict(layer_dims=[[3], [1]]), TypeError, r"layer_dims"),
    ("layer_dims 2-D array", dict(layer_dims=np.array([[3, 1]])), ValueError, r"layer_dims"),
    ("layer_dims a set", dict(layer_dims={3, 1}), TypeError, r"layer_dims"),
    ("method unknown", dict(method="glorot"), ValueError, r"method"),
    ("method upper case", dict(method="HE"), ValueError, r"method"),
    ("method None", dict(method=None), ValueError, r"method"),
    ("method int", dict(method=1), ValueError, r"method"),
    ("method list", dict(method=["he"]), ValueError, r"method"),
    ("dtype int32", dict(dtype=jnp.int32), TypeError, r"dtype"),
    ("dtype bool", dict(dtype=bool), TypeError, r"dtype"),
    ("dtype complex64", dict(dtype=jnp.complex64), TypeError, r"dtype"),
    ("dtype object", dict(dtype=object), TypeError, r"dtype"),
    ("dtype 'banana'", dict(dtype="banana"), TypeError, r"dtype|data type"),
    ("dtype 5", dict(dtype=5), TypeError, r"dtype|data type"),
]



def _init(**kw):
    args = dict(key=KEY, layer_dims=[3, 4, 1], method="he", dtype=jnp.float32)
    args.update(kw)
    return jaxdnn.init_params(args["key"], args["layer_dims"], args["method"], args["dtype"])


@pytest.mark.parametrize("name,kw,error,match", INIT_MUTATIONS, ids=[r[0] for r in INIT_MUTATIONS])
def test_init_params_rejects_bad_arguments(name, kw, error, match):
    with pytest.raises(error, match=match):
        _init(**kw)


INIT_CONTROLS = [
    ("legacy uint32 key", dict(key=jax.random.PRNGKey(0))),
    ("NumPy layer_dims", dict(layer_dims=np.array([3, 1]))),
    ("tuple layer_dims of NumPy ints", dict(layer_dims=(np.int64(2), np.int8(1)))),
    ("float16", dict(dtype=jnp.float16, method="large")),
    ("dtype given as a string", dict(dtype="float64", method="xavier")),
    ("width 1", dict(layer_dims=[1, 1, 1, 1], method="small"))]


@pytest.mark.parametrize("name,kw", INIT_CONTROLS, ids=[r[0] for r in INIT_CONTROLS])
def test_init_params_accepts_valid_extreme_arguments(name, kw):
    assert_finite(_init(**kw), name)


# ----------------------------------------------------------------------------------------------
# 7. save


def _save(tmp, **kw):
    args = dict(path=tmp / "c.npz", params=base()[0], opt_state=None, config={"seed": 0},
                costs=np.zeros(3), iteration=3)
    args.update(kw)
    return ckpt.save(args["path"], args["params"], args["opt_state"], args["config"],
                     args["costs"], args["iteration"])



SAVE_MUTATIONS = [  # (name, kwargs, error, match)
    ("path None", dict(path=None), TypeError, r"str|path"),
    ("path int", dict(path=5), TypeError, r"str|path"),
    ("params str leaf", dict(params=[{"W": "W"}]), TypeError, r"params"),
    ("params object leaf", dict(params=[{"W": object()}]), TypeError, r"params"),
    ("params object array", dict(params=[{"W": np.array([object()])}]), TypeError, r"params"),
    ("params structured array", dict(params=[{"W": np.zeros(2, dtype=[("a", "f8")])}]), TypeError,
     r"params"),
    ("params str array", dict(params=[{"W": np.array(["a"])}]), TypeError, r"params"),
    ("params bytes array", dict(params=[{"W": np.array([b"ab"])}]), TypeError, r"params"),
    ("params datetime array", dict(params=[{"W": np.array(["2020-01-01"], "datetime64[D]")}]),
     TypeError, r"params"),
    ("params a set", dict(params={1, 2}), TypeError, r"params"),
    ("params PRNG key leaf", dict(params=[KEY]), TypeError, r"params"),
    ("params a function", dict(params=[jnp.tanh]), TypeError, r"params"),
    ("config NaN", dict(config={"a": float("nan")}), TypeError, r"config"),
    ("config object", dict(config={"a": object()}), TypeError, r"config"),
    ("config tuple key", dict(config={(1, 2): 3}), TypeError, r"config"),
    ("config list", dict(config=[1]), TypeError, r"config"),
    ("config None", dict(config=None), TypeError, r"config"),
    ("costs 3-D", dict(costs=np.zeros((1, 1, 1))), ValueError, r"costs"),
    ("costs 0-D", dict(costs=np.zeros(())), ValueError, r"costs"),
    ("costs str", dict(costs="abc"), TypeError, r"costs"),
    ("costs None", dict(costs=None), TypeError, r"costs"),
    ("costs list of str", dict(costs=["a"]), ValueError, r"costs"),
    ("costs complex", dict(costs=np.zeros(2, complex)), ValueError, r"costs"),
    ("costs bool", dict(costs=np.array([True])), ValueError, r"costs"),
    ("costs ragged list", dict(costs=[[1.0], [1.0, 2.0]]), ValueError, r"costs"),
    ("iteration -1", dict(iteration=-1), ValueError, r"iteration"),
    ("iteration float", dict(iteration=1.0), TypeError, r"iteration"),
    ("iteration bool", dict(iteration=True), TypeError, r"iteration"),
    ("iteration None", dict(iteration=None), TypeError, r"iteration"),
    ("iteration str", dict(iteration="3"), TypeError, r"iteration"),
]


@pytest.mark.parametrize("name,kw,error,match", SAVE_MUTATIONS, ids=[r[0] for r in SAVE_MUTATIONS])
def test_save_rejects_bad_arguments(name, kw, error, match, tmp_path):
    with pytest.raises(error, match=match):
        _save(tmp_path, **kw)


SAVE_CONTROLS = [
    ("adam state, 2-D costs", dict(opt_state=jaxdnn.adam(0.1).init(base()[0]),
                                   costs=np.zeros((2, 3)))),
    ("float32 params, list costs, NumPy int iteration",
     dict(params=jax.tree.map(lambda a: a.astype(jnp.float32), base()[0]), costs=[1.0, 2.0],
          iteration=np.int64(2))),
    ("None params and state", dict(params=None)),
    ("costs with NaN (a diverged run)", dict(costs=np.array([1.0, np.nan])))]


@pytest.mark.parametrize("name,kw", SAVE_CONTROLS, ids=[r[0] for r in SAVE_CONTROLS])
def test_save_round_trips_valid_extreme_input(name, kw, tmp_path):
    loaded = ckpt.load(_save(tmp_path, **kw))
    for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(kw.get("params", base()[0]))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(loaded.costs, np.asarray(kw.get("costs", np.zeros(3))))
    assert_finite((loaded.params, loaded.opt_state), name)  # (the costs may hold NaN on purpose)


# ----------------------------------------------------------------------------------------------
# 8. load: crafted manifests, broken files, every byte of the zip structure flipped


_GOOD = {}


def _good_file(tmp):
    """A valid checkpoint (params, Adam state) in ``tmp``; written by ``save`` once per process."""
    if "bytes" not in _GOOD:
        path = tmp / "first.npz"
        ckpt.save(path, base()[0], jaxdnn.adam(0.1).init(base()[0]), {"seed": 0}, np.zeros(3), 3)
        _GOOD["bytes"] = path.read_bytes()
        _GOOD["loaded"] = ckpt.load(path)
    path = tmp / "good.npz"
    path.write_bytes(_GOOD["bytes"])
    return path


def _rewrite(tmp, edit):
    """A copy of a good checkpoint whose manifest ``edit(manifest)`` changed (arrays untouched)."""
    arrays = dict(np.load(_good_file(tmp), allow_pickle=False))
    manifest = json.loads(arrays["manifest"].tobytes())
    text = edit(manifest)
    text = text if isinstance(text, str) else json.dumps(manifest)
    arrays["manifest"] = np.frombuffer(text.encode(), np.uint8)
    path = tmp / "edited.npz"
    np.savez(path, **arrays)
    return path


def _set(path, value):
    def edit(m):
        node = m
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return edit


def _write(tmp, data, name="bad.npz"):
    path = tmp / name
    path.write_bytes(data(tmp) if callable(data) else data)
    return path


LOAD_FILES = [  # (name, tmp -> path)
    ("missing file", lambda tmp: tmp / "nope.npz"),
    ("a directory", lambda tmp: tmp),
    ("empty file", lambda tmp: _write(tmp, b"")),
    ("text file", lambda tmp: _write(tmp, b"hello, world\n")),
    ("zip magic then garbage", lambda tmp: _write(tmp, b"PK\x03\x04" + b"\0" * 100)),
    ("first half of a checkpoint", lambda tmp: _write(tmp, lambda t: (
        lambda raw: raw[:len(raw) // 2])(_good_file(t).read_bytes()))),
    ("checkpoint minus its last byte",
     lambda tmp: _write(tmp, lambda t: _good_file(t).read_bytes()[:-1])),
    ("a .npy file", lambda tmp: (np.save(tmp / "a.npy", np.zeros(3)), tmp / "a.npy")[1]),
    ("a foreign .npz", lambda tmp: (np.savez(tmp / "f.npz", a=np.zeros(3)), tmp / "f.npz")[1]),
    ("a leaf changed, zip still valid", lambda tmp: (lambda arrays: (
        arrays.__setitem__("params_00000", arrays["params_00000"] + 1),
        np.savez(tmp / "changed.npz", **arrays), tmp / "changed.npz")[2])(
        dict(np.load(_good_file(tmp), allow_pickle=False)))),
    ("manifest not JSON", lambda tmp: _rewrite(tmp, lambda m: "{not json")),
    ("manifest a JSON list", lambda tmp: _rewrite(tmp, lambda m: "[1, 2]")),
    ("manifest nested 100000 deep", lambda tmp: _rewrite(tmp, lambda m: "[" * 100000)),
    ("format name", lambda tmp: _rewrite(tmp, _set(["format"], "other"))),
    ("version 3", lambda tmp: _rewrite(tmp, _set(["version"], 3))),
    ("version true", lambda tmp: _rewrite(tmp, _set(["version"], True))),
    ("arrays a str", lambda tmp: _rewrite(tmp, _set(["arrays"], "abc"))),
    ("array entry a str", lambda tmp: _rewrite(tmp, _set(["arrays", 0], "abc"))),
    ("array entry without key", lambda tmp: _rewrite(tmp, lambda m: m["arrays"][0].pop("key"))),
    ("array dtype object", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "dtype"], "object"))),
    ("array dtype a dict", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "dtype"], {"a": 1}))),
    ("array shape an int", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "shape"], 5))),
    ("array shape wrong", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "shape"], [3, 4]))),
    ("array key a list", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "key"], ["x"]))),
    ("array key unknown", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "key"], "nope"))),
    ("checksum an int", lambda tmp: _rewrite(tmp, _set(["checksum", "hex"], 5))),
    ("checksum algorithm md5", lambda tmp: _rewrite(tmp, _set(["checksum", "algorithm"], "md5"))),
    ("no checksum", lambda tmp: _rewrite(tmp, lambda m: m.pop("checksum"))),
    ("array path a list", lambda tmp: _rewrite(tmp, _set(["arrays", 0, "path"], ["x"]))),
    ("array entry without path", lambda tmp: _rewrite(tmp, lambda m: m["arrays"][0].pop("path"))),
    ("iteration a str", lambda tmp: _rewrite(tmp, _set(["iteration"], "3"))),
    ("iteration a float", lambda tmp: _rewrite(tmp, _set(["iteration"], 3.0))),
    ("iteration negative", lambda tmp: _rewrite(tmp, _set(["iteration"], -5))),
    ("config a list", lambda tmp: _rewrite(tmp, _set(["config"], [1]))),
    ("config missing", lambda tmp: _rewrite(tmp, lambda m: m.pop("config"))),
]


def _zip_offsets(raw):
    """Byte offsets worth flipping: every byte of the first local header, of the first
    central-directory record and of the end record, and every 97th byte of the members."""
    lh = raw.index(b"PK\x03\x04")
    cd = raw.index(b"PK\x01\x02")
    eocd = raw.rindex(b"PK\x05\x06")
    offsets = {f"local header +{i}": lh + i for i in range(4, 30)}
    offsets.update({f"central directory +{i}": cd + i for i in range(4, 46)})
    offsets.update({f"end record +{i}": eocd + i for i in range(4, 22)})
    taken = set(offsets.values())
    offsets.update({f"member byte {o}": o for o in range(30, cd, 97) if o not in taken})
    return offsets


def _probe_bytes():
    with tempfile.TemporaryDirectory() as d:
        return _good_file(pathlib.Path(d)).read_bytes()


FLIPS = _zip_offsets(_probe_bytes())
ON_FILE = r"\.npz|checkpoint|no such|directory"


@pytest.mark.parametrize("name,make", LOAD_FILES, ids=[r[0] for r in LOAD_FILES])
def test_load_rejects_broken_files(name, make, tmp_path):
    with pytest.raises(CheckpointError, match=ON_FILE):
        ckpt.load(make(tmp_path))


@pytest.mark.parametrize("path", [None, ["a.npz"]], ids=["None", "a list"])
def test_load_rejects_a_path_that_is_not_one(path):
    with pytest.raises(TypeError, match=r"str|path"):
        ckpt.load(path)


@pytest.mark.parametrize("offset", list(FLIPS.values()), ids=list(FLIPS))
def test_load_of_a_flipped_byte_fails_clearly_or_returns_the_saved_data(offset, tmp_path):
    raw = bytearray(_good_file(tmp_path).read_bytes())
    raw[offset] ^= 0xFF
    try:
        loaded = ckpt.load(_write(tmp_path, bytes(raw), "flipped.npz"))
    except CheckpointError as e:
        assert str(e).strip(), "CheckpointError without a message"
        return
    # a flip the zip format ignores (a timestamp, a field zipfile does not read) is harmless only
    # if exactly the saved data comes back
    good = _GOOD["loaded"]
    assert jax.tree.structure(loaded) == jax.tree.structure(good), "structure changed"
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(good)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg="data changed")


def test_load_round_trips_a_good_file(tmp_path):
    loaded = ckpt.load(_good_file(tmp_path))
    for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(base()[0])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ----------------------------------------------------------------------------------------------
# the count


def test_case_count(capsys):
    """How many (input, function) cases the tables make, printed to the terminal (also under
    xdist)."""
    problem = (sum(len(checks_for(r)) * (1 + (r.traced is not False)) for r in MUTATIONS)
               + len(INLINE) * len(MUTATIONS))
    cases = {
        "malformed problems (checks, eager and traced; fit; gradient_check)": problem,
        "end to end, per entry point": len(list(_end_to_end_cases())),
        "regularisation": sum(len(REG_ENTRIES) - 1 + r[4] for r in REG_MUTATIONS),
        "fit settings": len(FIT_MUTATIONS), "gradient_check": len(GC_MUTATIONS),
        "gd_update": len(GD_MUTATIONS), "init_params": len(INIT_MUTATIONS),
        "save": len(SAVE_MUTATIONS), "load files": len(LOAD_FILES) + 2,
        "load, flipped bytes": len(FLIPS),
        "positive controls": sum(len(control_entries(c)) for c in CONTROLS)
        + len(REG_CONTROLS) * len(REG_ENTRIES) + len(FIT_CONTROLS) + len(GC_CONTROLS) + 2
        + len(INIT_CONTROLS) + len(SAVE_CONTROLS) + 1,
    }
    total = sum(cases.values())
    with capsys.disabled():
        print(f"\n[test_fuzz] {total} cases: " + ", ".join(f"{v} {k}" for k, v in cases.items()),
              file=sys.stderr, flush=True)
    assert total >= 1000 and len(FLIPS) >= 100, cases
