"""Fuzz the public entry points with malformed input: every case ends in a clear error.

The cases are generated systematically: a list of mutations of one valid base problem (wrong ranks,
shapes and dtypes, NaN/Inf, m = 0, bad labels, non-arrays, broken params trees, bad activations)
crossed with every entry point that takes that input, plus per-function lists for the
hyperparameters of ``fit``, ``gradient_check``, ``gd_update``, ``init_params``, ``save`` and
``load`` (crafted manifests, flipped bytes). A malformed case passes when the call raises
``ValueError`` or ``TypeError`` (``jaxdnn.CheckpointError`` is a ``ValueError``; ``load`` must raise
exactly that) whose message is non-empty and names the offending argument (a regex per mutation).
It fails when the call returns (silently: the failure says whether the result held NaN), raises
anything else (``AttributeError``, ``NotImplementedError``, ``FloatingPointError``, ...), or takes
longer than ``CASE_SECONDS``; a hang is cut off by ``faulthandler`` after ``HANG_SECONDS``, which
aborts the (worker) process with every thread's traceback.

Valid-but-extreme inputs (m = 1, width-1 layers, float32, NumPy inputs, soft or bool labels, ...)
are positive controls: they must succeed with finite results.

Each case is its own test, so a library bug is one ``xfail(strict=True)`` case whose reason says
what goes wrong (``BUGS``; ``pytest --runxfail`` shows each case's own failure); a fixed bug turns
its cases into XPASS failures, so the markers go with the fix. ``test_fuzz_case_count`` prints how
many cases there are (to the terminal, also under xdist) and checks the count.
"""

from __future__ import annotations

import collections
import dataclasses
import faulthandler
import json
import pathlib
import re
import sys
import tempfile
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn
from jaxdnn import checkpoint as ckpt

CASE_SECONDS = 60.0  # one case (a fit or a gradient check compiles) must end within this
HANG_SECONDS = 300  # faulthandler aborts the process if a single case runs this long
MIN_CASES = 1000

ACTS = ("relu", "sigmoid")
F64 = jnp.float64


# ----------------------------------------------------------------------------------------------
# the valid base problem


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


# ----------------------------------------------------------------------------------------------
# cases


@dataclasses.dataclass(frozen=True)
class Case:
    """One call: ``run(tmp_path)``; ``expect`` is "error" (with ``mentions``) or "ok"."""

    id: str
    run: Callable[[Any], Any]
    expect: str = "error"
    mentions: str | None = None  # regex the error message must match (case-insensitive)
    errors: tuple = (ValueError, TypeError)
    needs_tmp: bool = False  # run gets a fresh directory (else None)


def finite_leaves(result):
    """Every numeric array/scalar inside ``result`` (pytrees, NamedTuples, reports) is finite."""
    if isinstance(result, jaxdnn.GradCheckReport):
        result = result.to_dict()
    bad = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(result):
        if isinstance(leaf, (bool, str, type(None))) or not np.issubdtype(np.asarray(leaf).dtype,
                                                                         np.number):
            continue
        if not np.all(np.isfinite(np.asarray(leaf, np.complex128 if np.iscomplexobj(leaf)
                                             else np.float64))):
            bad.append(jax.tree_util.keystr(path))
    return bad


# --- mutations of (params, X, Y, activations) -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mut:
    name: str
    fn: Callable  # (p, X, Y, A) -> (p, X, Y, A)
    group: str  # X, Y, params, acts, control
    jit: bool = True  # also under jit (shape/dtype/structure: static, checked when traced)
    ok_for: frozenset = frozenset()  # entry points for which this input is valid


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


MUTATIONS = [
    # X: rank, shape, dtype, values, kind
    Mut("X 1-D", X_(lambda X: X[0]), "X"),
    Mut("X 3-D", X_(lambda X: X[None]), "X"),
    Mut("X 0-D", X_(lambda X: X[0, 0]), "X"),
    Mut("X transposed", X_(lambda X: X.T), "X"),
    Mut("X too few rows", X_(lambda X: X[:2]), "X"),
    Mut("X too many rows", X_(lambda X: jnp.concatenate([X, X[:1]])), "X"),
    Mut("X m = 0", lambda p, X, Y, A: (p, X[:, :0], Y[:, :0], A), "X"),
    Mut("X int32", X_(lambda X: X.astype(jnp.int32)), "X"),
    Mut("X int64", X_(lambda X: X.astype(jnp.int64)), "X"),
    Mut("X uint8", X_(lambda X: jnp.abs(X).astype(jnp.uint8)), "X"),
    Mut("X bool", X_(lambda X: X > 0), "X"),
    Mut("X complex128", X_(lambda X: X.astype(jnp.complex128)), "X"),
    Mut("X float32 (params float64)", X_(lambda X: X.astype(jnp.float32)), "X"),
    Mut("X float16", X_(lambda X: X.astype(jnp.float16)), "X"),
    Mut("X bfloat16", X_(lambda X: X.astype(jnp.bfloat16)), "X"),
    Mut("X one NaN", X_(lambda X: X.at[1, 2].set(jnp.nan)), "X", jit=False),
    Mut("X one +Inf", X_(lambda X: X.at[0, 0].set(jnp.inf)), "X", jit=False),
    Mut("X one -Inf", X_(lambda X: X.at[2, 4].set(-jnp.inf)), "X", jit=False),
    Mut("X all NaN", X_(lambda X: jnp.full_like(X, jnp.nan)), "X", jit=False),
    Mut("X NumPy with NaN", X_(lambda X: np.where(np.eye(3, 5) > 0, np.nan, np.asarray(X))), "X",
        jit=False),
    Mut("X nested list", X_(lambda X: np.asarray(X).tolist()), "X"),
    Mut("X tuple of rows", X_(lambda X: tuple(map(tuple, np.asarray(X).tolist()))), "X"),
    Mut("X None", X_(lambda X: None), "X"),
    Mut("X str", X_(lambda X: "X"), "X", jit=False),
    Mut("X int", X_(lambda X: 3), "X"),
    Mut("X float", X_(lambda X: 3.0), "X"),
    Mut("X dict", X_(lambda X: {"X": X}), "X"),
    Mut("X NumPy str array", X_(lambda X: _str_array((3, 5))), "X", jit=False),
    Mut("X NumPy object array", X_(lambda X: np.asarray(X).astype(object)), "X", jit=False),
    # Y: rank, shape, dtype, labels, kind
    Mut("Y 1-D (m,)", Y_(lambda Y: Y[0]), "Y"),
    Mut("Y (m, 1)", Y_(lambda Y: Y.T), "Y"),
    Mut("Y 3-D", Y_(lambda Y: Y[None]), "Y"),
    Mut("Y 0-D", Y_(lambda Y: Y[0, 0]), "Y"),
    Mut("Y m - 1 columns", Y_(lambda Y: Y[:, :4]), "Y"),
    Mut("Y m + 1 columns", Y_(lambda Y: jnp.concatenate([Y, Y[:, :1]], axis=1)), "Y"),
    Mut("Y two rows (n_L = 1)", Y_(lambda Y: jnp.concatenate([Y, Y])), "Y"),
    Mut("Y label 2", Y_(lambda Y: Y.at[0, 1].set(2.0)), "Y", jit=False),
    Mut("Y label -1", Y_(lambda Y: Y.at[0, 1].set(-1.0)), "Y", jit=False),
    Mut("Y label 1 + 1e-9", Y_(lambda Y: Y.at[0, 1].set(1.0 + 1e-9)), "Y", jit=False),
    Mut("Y int label 2", Y_(lambda Y: Y.astype(jnp.int32).at[0, 0].set(2)), "Y", jit=False),
    Mut("Y uint8 label 255", Y_(lambda Y: Y.astype(jnp.uint8).at[0, 0].set(255)), "Y", jit=False),
    Mut("Y label NaN", Y_(lambda Y: Y.at[0, 1].set(jnp.nan)), "Y", jit=False),
    Mut("Y label Inf", Y_(lambda Y: Y.at[0, 1].set(jnp.inf)), "Y", jit=False),
    Mut("Y complex", Y_(lambda Y: Y.astype(jnp.complex64)), "Y"),
    Mut("Y nested list", Y_(lambda Y: np.asarray(Y).tolist()), "Y"),
    Mut("Y None", Y_(lambda Y: None), "Y"),
    Mut("Y str", Y_(lambda Y: "Y"), "Y", jit=False),
    Mut("Y int", Y_(lambda Y: 1), "Y"),
    Mut("Y NumPy str array", Y_(lambda Y: _str_array((1, 5))), "Y", jit=False),
    Mut("Y NumPy object array", Y_(lambda Y: np.asarray(Y).astype(object)), "Y", jit=False),
    # params: tree structure, shapes, dtypes, kinds
    Mut("params missing b", P_(lambda p: layer(p, 1, b=None)), "params"),
    Mut("params missing W", P_(lambda p: layer(p, 0, W=None)), "params"),
    Mut("params extra key", P_(lambda p: layer(p, 0, gamma=p[0]["b"])), "params"),
    Mut("params dW/db keys", P_(lambda p: [{"dW": d["W"], "db": d["b"]} for d in p]), "params"),
    Mut("params W1/b1 dict (old layout)",
        P_(lambda p: {"W1": p[0]["W"], "b1": p[0]["b"], "W2": p[1]["W"], "b2": p[1]["b"]}),
        "params"),
    Mut("params empty list", P_(lambda p: []), "params"),
    Mut("params None", P_(lambda p: None), "params"),
    Mut("params str", P_(lambda p: "params"), "params", jit=False),
    Mut("params int", P_(lambda p: 1), "params"),
    Mut("params one array", P_(lambda p: p[0]["W"]), "params"),
    Mut("params nested one level deeper", P_(lambda p: [[d] for d in p]), "params"),
    Mut("params layer as [W, b]", P_(lambda p: [[d["W"], d["b"]] for d in p]), "params"),
    Mut("params layer as (W, b)", P_(lambda p: [(d["W"], d["b"]) for d in p]), "params"),
    Mut("params one layer short", P_(lambda p: p[1:]), "params"),
    Mut("params one layer too many", P_(lambda p: p + [{"W": jnp.ones((1, 1), F64),
                                                       "b": jnp.zeros((1, 1), F64)}]), "params"),
    Mut("params layers swapped", P_(lambda p: p[::-1]), "params"),
    Mut("params W transposed", P_(lambda p: layer(p, 0, W=p[0]["W"].T)), "params"),
    Mut("params last W transposed", P_(lambda p: layer(p, 1, W=p[1]["W"].T)), "params"),
    Mut("params W 1-D", P_(lambda p: layer(p, 1, W=p[1]["W"][0])), "params"),
    Mut("params W 3-D", P_(lambda p: layer(p, 0, W=p[0]["W"][None])), "params"),
    Mut("params W 0-D", P_(lambda p: layer(p, 0, W=p[0]["W"][0, 0])), "params"),
    Mut("params b 1-D", P_(lambda p: layer(p, 0, b=p[0]["b"][:, 0])), "params"),
    Mut("params b row (1, n)", P_(lambda p: layer(p, 0, b=p[0]["b"].T)), "params"),
    Mut("params b too long", P_(lambda p: layer(p, 0, b=jnp.zeros((5, 1), F64))), "params"),
    Mut("params b scalar", P_(lambda p: layer(p, 1, b=jnp.zeros((), F64))), "params"),
    Mut("params W shapes do not chain", P_(lambda p: layer(p, 1, W=jnp.ones((1, 7), F64))),
        "params"),
    Mut("params mixed dtypes (b float32)",
        P_(lambda p: layer(p, 1, b=p[1]["b"].astype(jnp.float32))), "params"),
    Mut("params layer 2 float32", P_(lambda p: layer(p, 1, W=p[1]["W"].astype(jnp.float32),
                                                     b=p[1]["b"].astype(jnp.float32))), "params"),
    Mut("params all float32 (X float64)",
        P_(lambda p: jax.tree.map(lambda a: a.astype(jnp.float32), p)), "params"),
    Mut("params int W", P_(lambda p: layer(p, 0, W=p[0]["W"].astype(jnp.int32))), "params"),
    Mut("params bool W", P_(lambda p: layer(p, 0, W=p[0]["W"] > 0)), "params"),
    Mut("params complex W", P_(lambda p: layer(p, 0, W=p[0]["W"].astype(jnp.complex128))),
        "params"),
    Mut("params W nested list", P_(lambda p: layer(p, 0, W=np.asarray(p[0]["W"]).tolist())),
        "params"),
    Mut("params W None", P_(lambda p: [{"W": None, "b": p[0]["b"]}, p[1]]), "params"),
    Mut("params W str", P_(lambda p: [{"W": "W", "b": p[0]["b"]}, p[1]]), "params", jit=False),
    Mut("params W ShapeDtypeStruct",
        P_(lambda p: layer(p, 0, W=jax.ShapeDtypeStruct((4, 3), F64))), "params", jit=False),
    Mut("params zero-width hidden layer",
        P_(lambda p: [{"W": jnp.zeros((0, 3), F64), "b": jnp.zeros((0, 1), F64)},
                      {"W": jnp.zeros((1, 0), F64), "b": p[1]["b"]}]), "params"),
    Mut("params zero-width output layer",
        lambda p, X, Y, A: (layer(p, 1, W=jnp.zeros((0, 4), F64), b=jnp.zeros((0, 1), F64)), X,
                            Y[:0], A), "params"),
    Mut("params zero inputs (n_x = 0)",
        lambda p, X, Y, A: (layer(p, 0, W=jnp.zeros((4, 0), F64)), X[:0], Y, A), "params"),
    # activations
    Mut("activation unknown", A_(("swish", "sigmoid")), "acts"),
    Mut("activation upper case", A_(("RELU", "sigmoid")), "acts"),
    Mut("activation trailing space", A_(("relu ", "sigmoid")), "acts"),
    Mut("activation None entry", A_((None, "sigmoid")), "acts"),
    Mut("activation int entry", A_((1, "sigmoid")), "acts"),
    Mut("activation function entry", A_((jnp.tanh, "sigmoid")), "acts"),
    Mut("activation list entry", A_((["relu"], "sigmoid")), "acts", jit=False),
    Mut("activations too few", A_(("sigmoid",)), "acts"),
    Mut("activations too many", A_(("relu", "relu", "sigmoid")), "acts"),
    Mut("activations empty", A_(()), "acts"),
    Mut("activations non-sigmoid output", A_(("relu", "tanh")), "acts",
        ok_for=frozenset({"forward", "jit(forward)"})),
    Mut("activations softmax output", A_(("relu", "softmax")), "acts"),
    Mut("activations one string", A_("relu,sigmoid"), "acts"),
    Mut("activations str 'sigmoid'", A_("sigmoid"), "acts"),
    Mut("activations None", A_(None), "acts"),
    Mut("activations dict", A_({"relu": 1, "sigmoid": 2}), "acts", jit=False),
    Mut("activations set", A_(frozenset({"relu", "sigmoid"})), "acts"),
    Mut("activations int", A_(2), "acts"),
    Mut("activations NumPy array", A_(np.array(["relu", "sigmoid"])), "acts", jit=False),
    Mut("activations generator", lambda p, X, Y, A: (p, X, Y, (a for a in ACTS)), "acts",
        jit=False),
]

MENTIONS = {"X": r"\bX\b", "Y": r"\bY\b|label", "params": r"params|layer",
            "acts": r"activation|sigmoid|layer"}

# valid-but-extreme inputs: every entry point must succeed with finite results (few new shapes:
# each one compiles every entry point once)
CONTROLS = [
    Mut("float32, width-1 deep net, three outputs, m = 1, X of 1e3",
        lambda p, X, Y, A: (narrow([1, 1, 1, 1, 3], jnp.float32),
                            (1e3 * X[:1, :1]).astype(jnp.float32),
                            jnp.asarray([[1.0], [0.0], [1.0]], jnp.float32),
                            ("tanh", "relu", "leaky_relu", "sigmoid")), "control"),
    Mut("NumPy inputs", lambda p, X, Y, A: (jax.tree.map(np.asarray, p), np.asarray(X),
                                           np.asarray(Y), A), "control"),
    Mut("params a tuple of dicts", P_(tuple), "control"),
    Mut("bool labels", Y_(lambda Y: Y > 0.5), "control"),
    Mut("soft labels", Y_(lambda Y: jnp.full_like(Y, 0.5)), "control"),
]


def _fit(p, X, Y, A, **kw):
    return jaxdnn.fit(p, X, Y, A, num_iterations=2, progress=False, **kw)


_JIT_COST = jax.jit(jaxdnn.cost, static_argnames="activations")
_JIT_MVG = jax.jit(jaxdnn.manual_value_and_grad, static_argnames="activations")
_JIT_FORWARD = jax.jit(jaxdnn.forward, static_argnames="activations")

# entry point -> (call(p, X, Y, A), takes Y)
PROBLEM_ENTRIES = {
    "forward": (lambda p, X, Y, A: jaxdnn.forward(p, X, A), False),
    "cost": (lambda p, X, Y, A: jaxdnn.cost(p, X, Y, A), True),
    "manual_value_and_grad": (lambda p, X, Y, A: jaxdnn.manual_value_and_grad(p, X, Y, A), True),
    "autodiff_value_and_grad": (lambda p, X, Y, A: jaxdnn.autodiff_value_and_grad(p, X, Y, A),
                                True),
    "cost_with_manual_vjp": (lambda p, X, Y, A: jaxdnn.cost_with_manual_vjp(p, X, Y, A), True),
    "predict": (lambda p, X, Y, A: jaxdnn.predict(p, X, A), False),
    "accuracy": (lambda p, X, Y, A: jaxdnn.accuracy(p, X, Y, A), True),
    "fit": (lambda p, X, Y, A: _fit(p, X, Y, A, learning_rate=0.1), True),
    "gradient_check": (lambda p, X, Y, A: jaxdnn.gradient_check(p, X, Y, A), True),
}
JIT_ENTRIES = {
    "jit(forward)": (lambda p, X, Y, A: _JIT_FORWARD(p, X, activations=A), False),
    "jit(cost)": (lambda p, X, Y, A: _JIT_COST(p, X, Y, activations=A), True),
    "jit(manual_value_and_grad)": (lambda p, X, Y, A: _JIT_MVG(p, X, Y, activations=A), True),
}
CONTROL_ENTRIES = {  # jax.grad checks its own inputs first: used on valid input only
    **PROBLEM_ENTRIES, **JIT_ENTRIES,
    "grad(cost_with_manual_vjp)": (
        lambda p, X, Y, A: jax.grad(jaxdnn.cost_with_manual_vjp)(p, X, Y, A), True)}


def problem_cases():
    cases = []
    for mut in MUTATIONS:
        entries = dict(PROBLEM_ENTRIES, **(JIT_ENTRIES if mut.jit else {}))
        for entry, (call, takes_Y) in entries.items():
            if mut.group == "Y" and not takes_Y:
                continue  # forward/predict never see Y
            ok = entry in mut.ok_for

            def run(tmp, call=call, fn=mut.fn):
                return call(*fn(*base()))

            cases.append(Case(f"{entry}: {mut.name}", run, "ok" if ok else "error",
                              MENTIONS[mut.group]))
    for mut in CONTROLS:
        for entry, (call, _) in CONTROL_ENTRIES.items():
            if entry == "gradient_check" and "labels" in mut.name:
                continue  # each gradient check compiles anew (~0.5 s); labels are checked above
            def run(tmp, call=call, fn=mut.fn, entry=entry):
                p, X, Y, A = fn(*base())
                result = call(p, X, Y, A)
                if entry == "predict":
                    P = np.asarray(result)
                    assert np.isin(P, [0.0, 1.0]).all(), f"predict returned {P}"
                grads = {"manual_value_and_grad": lambda r: r[1],
                         "jit(manual_value_and_grad)": lambda r: r[1],
                         "autodiff_value_and_grad": lambda r: r[1],
                         "grad(cost_with_manual_vjp)": lambda r: r,
                         "fit": lambda r: r[0]}.get(entry)
                if grads is not None:  # grads (and fit's params) have the params' structure
                    assert jax.tree.structure(grads(result)) == jax.tree.structure(p), (
                        f"{entry} returned {jax.tree.structure(grads(result))} for params "
                        f"{jax.tree.structure(p)}")
                return result

            cases.append(Case(f"{entry}: control {mut.name}", run, "ok"))
    return cases


# --- regularisation arguments (cost, both value-and-grads, forward, fit) ------------------------

KEY = jax.random.key(0)
REG_MUTATIONS = [  # (name, kwargs, regex, applies to forward)
    ("l2 negative", dict(l2=-1.0), r"l2", False),
    ("l2 NaN", dict(l2=float("nan")), r"l2", False),
    ("l2 +Inf", dict(l2=float("inf")), r"l2", False),
    ("l2 str", dict(l2="0.1"), r"l2", False),
    ("l2 None", dict(l2=None), r"l2", False),
    ("l2 bool", dict(l2=True), r"l2", False),
    ("l2 list", dict(l2=[0.1]), r"l2", False),
    ("l2 complex", dict(l2=1j), r"l2", False),
    ("keep_prob 0", dict(keep_prob=0.0, key=KEY), r"keep_prob", True),
    ("keep_prob negative", dict(keep_prob=-0.5, key=KEY), r"keep_prob", True),
    ("keep_prob 1.5", dict(keep_prob=1.5, key=KEY), r"keep_prob", True),
    ("keep_prob NaN", dict(keep_prob=float("nan"), key=KEY), r"keep_prob", True),
    ("keep_prob Inf", dict(keep_prob=float("inf"), key=KEY), r"keep_prob", True),
    ("keep_prob str", dict(keep_prob="0.5", key=KEY), r"keep_prob", True),
    ("keep_prob bool", dict(keep_prob=True, key=KEY), r"keep_prob", True),
    ("keep_prob array", dict(keep_prob=jnp.asarray([0.5, 0.5]), key=KEY), r"keep_prob", True),
    ("keep_prob without key", dict(keep_prob=0.5), r"key", True),
    ("dropout key int", dict(keep_prob=0.5, key=0), r"key", True),
    ("dropout key str", dict(keep_prob=0.5, key="key"), r"key", True),
    ("dropout key float array", dict(keep_prob=0.5, key=jnp.zeros(2)), r"key", True),
    ("dropout key uint32 of shape (3,)", dict(keep_prob=0.5, key=jnp.zeros(3, jnp.uint32)),
     r"key", True),
    ("dropout batch of keys", dict(keep_prob=0.5, key=jax.random.split(KEY, 2)), r"key", True),
]
REG_ENTRIES = {
    "forward": lambda p, X, Y, A, kw: jaxdnn.forward(p, X, A, **kw),
    "cost": lambda p, X, Y, A, kw: jaxdnn.cost(p, X, Y, A, **kw),
    "manual_value_and_grad": lambda p, X, Y, A, kw: jaxdnn.manual_value_and_grad(p, X, Y, A, **kw),
    "autodiff_value_and_grad":
        lambda p, X, Y, A, kw: jaxdnn.autodiff_value_and_grad(p, X, Y, A, **kw),
    "fit": lambda p, X, Y, A, kw: _fit(p, X, Y, A, learning_rate=0.1, **kw),
}


def regularisation_cases():
    cases = []
    for name, kw, regex, forward_too in REG_MUTATIONS:
        for entry, call in REG_ENTRIES.items():
            if entry == "forward" and not forward_too:
                continue

            def run(tmp, call=call, kw=kw):
                return call(*base(), kw)

            cases.append(Case(f"{entry}: {name}", run, mentions=regex))
    controls = [("l2 and dropout", dict(l2=0.7, keep_prob=0.5, key=KEY), 5),
                ("keep_prob 1 without key", dict(keep_prob=1.0), 5),
                ("legacy uint32 key", dict(keep_prob=0.9, key=jax.random.PRNGKey(3)), 5)]
    for name, kw, m in controls:
        for entry, call in REG_ENTRIES.items():
            def run(tmp, call=call, m=m,
                    kw={k: v for k, v in kw.items() if entry != "forward" or k != "l2"}):
                p, X, Y, A = base()
                return call(p, X[:, :m], Y[:, :m], A, kw)

            cases.append(Case(f"{entry}: control {name}", run, "ok"))
    return cases


# --- fit's own settings -----------------------------------------------------------------------


def _other_run_dir(tmp):
    d = tmp / "run"
    _fit(*base(), learning_rate=0.1, checkpoint_dir=d)
    return d


def _corrupt_run_dir(tmp):
    d = tmp / "run"
    d.mkdir()
    (d / "ckpt_00000002.npz").write_bytes(b"PK\x03\x04 not a zip")
    return d


FIT_MUTATIONS = [  # (name, kwargs or tmp -> kwargs, regex)
    ("learning_rate negative", dict(learning_rate=-0.1), r"learning_rate"),
    ("learning_rate 0", dict(learning_rate=0.0), r"learning_rate"),
    ("learning_rate NaN", dict(learning_rate=float("nan")), r"learning_rate"),
    ("learning_rate Inf", dict(learning_rate=float("inf")), r"learning_rate"),
    ("learning_rate NumPy float32 NaN", dict(learning_rate=np.float32("nan")), r"learning_rate"),
    ("learning_rate jax NaN", dict(learning_rate=jnp.asarray(jnp.nan)), r"learning_rate"),
    ("learning_rate jax negative", dict(learning_rate=jnp.asarray(-1.0)), r"learning_rate"),
    ("learning_rate str", dict(learning_rate="0.1"), r"learning_rate"),
    ("learning_rate bool", dict(learning_rate=True), r"learning_rate"),
    ("learning_rate complex", dict(learning_rate=0.1j), r"learning_rate"),
    ("learning_rate list", dict(learning_rate=[0.1]), r"learning_rate"),
    ("learning_rate vector", dict(learning_rate=jnp.ones(2)), r"learning_rate"),
    ("learning_rate with optimizer", dict(learning_rate=0.1, optimizer=optax.sgd(0.1)),
     r"learning_rate"),
    ("num_iterations 0", dict(num_iterations=0), r"num_iterations"),
    ("num_iterations -1", dict(num_iterations=-1), r"num_iterations"),
    ("num_iterations 2.0", dict(num_iterations=2.0), r"num_iterations"),
    ("num_iterations str", dict(num_iterations="2"), r"num_iterations"),
    ("num_iterations None", dict(num_iterations=None), r"num_iterations"),
    ("num_iterations bool", dict(num_iterations=True), r"num_iterations"),
    ("grad 'numeric'", dict(grad="numeric"), r"grad"),
    ("grad None", dict(grad=None), r"grad"),
    ("grad a function", dict(grad=jaxdnn.manual_value_and_grad), r"grad"),
    ("grad list", dict(grad=["manual"]), r"grad"),
    ("optimizer str", dict(optimizer="adam"), r"optimizer"),
    ("optimizer object", dict(optimizer=object()), r"optimizer"),
    ("optimizer int", dict(optimizer=1), r"optimizer"),
    ("optimizer adam with bad lr", lambda tmp: dict(optimizer=jaxdnn.adam(-1.0)), r"learning_rate"),
    ("batch_size 0", dict(batch_size=0, key=KEY), r"batch_size"),
    ("batch_size -1", dict(batch_size=-1, key=KEY), r"batch_size"),
    ("batch_size m + 1", dict(batch_size=6, key=KEY), r"batch_size"),
    ("batch_size 2.0", dict(batch_size=2.0, key=KEY), r"batch_size"),
    ("batch_size str", dict(batch_size="2", key=KEY), r"batch_size"),
    ("batch_size bool", dict(batch_size=True, key=KEY), r"batch_size"),
    ("batch_size without key", dict(batch_size=2), r"key"),
    ("minibatch key int", dict(batch_size=2, key=0), r"key"),
    ("minibatch key str", dict(batch_size=2, key="key"), r"key"),
    ("minibatch key float array", dict(batch_size=2, key=jnp.zeros(2)), r"key"),
    ("minibatch batch of keys", dict(batch_size=2, key=jax.random.split(KEY, 2)), r"key"),
    ("unused key int", dict(key=5), r"key"),
    ("chunk_size 0", dict(chunk_size=0), r"chunk_size"),
    ("chunk_size -1", dict(chunk_size=-1), r"chunk_size"),
    ("chunk_size 1.5", dict(chunk_size=1.5), r"chunk_size"),
    ("chunk_size str", dict(chunk_size="1"), r"chunk_size"),
    ("checkpoint_every without dir", dict(checkpoint_every=1), r"checkpoint"),
    ("checkpoint_every 0", lambda tmp: dict(checkpoint_every=0, checkpoint_dir=tmp / "c"),
     r"checkpoint_every"),
    ("checkpoint_every != chunk_size",
     lambda tmp: dict(checkpoint_every=1, chunk_size=2, checkpoint_dir=tmp / "c"), r"chunk"),
    ("checkpoint_dir int", dict(checkpoint_dir=5), r"str|path"),
    ("checkpoint_dir of another run", lambda tmp: dict(checkpoint_dir=_other_run_dir(tmp),
                                                       learning_rate=0.2), r"different run"),
    ("checkpoint_dir with a corrupt checkpoint",
     lambda tmp: dict(checkpoint_dir=_corrupt_run_dir(tmp)), r"ckpt_00000002"),
    ("mesh str", dict(mesh="data"), r"mesh"),
]


def fit_cases():
    cases = []
    for name, kw, regex in FIT_MUTATIONS:
        def run(tmp, kw=kw):
            kwargs = kw(tmp) if callable(kw) else dict(kw)
            kwargs.setdefault("num_iterations", 2)
            p, X, Y, A = base()
            return jaxdnn.fit(p, X, Y, A, progress=False, **kwargs)

        errors = (jaxdnn.CheckpointError,) if "corrupt" in name else (ValueError, TypeError)
        cases.append(Case(f"fit: {name}", run, mentions=regex, errors=errors,
                          needs_tmp=callable(kw)))
    controls = [
        ("minibatch + dropout + adam, batch_size 1, m = 1",
         dict(batch_size=1, keep_prob=0.5, key=KEY, optimizer=jaxdnn.adam(0.01)), 1),
        ("batch_size m, autodiff, check_finite", dict(batch_size=5, key=KEY, grad="autodiff",
                                                      check_finite=True, learning_rate=0.1), 5),
        ("NumPy int settings", dict(num_iterations=np.int64(2), batch_size=np.int32(2), key=KEY),
         5),
        ("chunk_size larger than num_iterations", dict(chunk_size=10), 5),
        ("optax optimizer", dict(optimizer=optax.sgd(0.1, momentum=0.9)), 5),
        ("minibatch with a legacy uint32 key", dict(batch_size=3, key=jax.random.PRNGKey(1)), 5),
    ]
    for name, kw, m in controls:
        def run(tmp, kw=kw, m=m):
            p, X, Y, A = base()
            kwargs = dict(kw)
            kwargs.setdefault("num_iterations", 2)
            return jaxdnn.fit(p, X[:, :m], Y[:, :m], A, progress=False, **kwargs)

        cases.append(Case(f"fit: control {name}", run, "ok"))
    return cases


# --- gradient_check's own arguments -----------------------------------------------------------


def _transposed_grads(p, X, Y, A):
    J, g = jaxdnn.manual_value_and_grad(p, X, Y, A)
    return J, [{"W": d["W"].T, "b": d["b"]} for d in g]


GC_MUTATIONS = [
    ("epsilon 0", dict(epsilon=0.0), r"epsilon"),
    ("epsilon NaN", dict(epsilon=float("nan")), r"epsilon"),
    ("epsilon Inf", dict(epsilon=float("inf")), r"epsilon"),
    ("epsilon str", dict(epsilon="1e-7"), r"epsilon"),
    ("epsilon None", dict(epsilon=None), r"epsilon"),
    ("threshold NaN", dict(threshold=float("nan")), r"threshold"),
    ("threshold str", dict(threshold="1e-7"), r"threshold"),
    ("grad_fn int", dict(grad_fn=3), r"grad_fn|callable"),
    ("grad_fn returns (0, None)", dict(grad_fn=lambda *a: (0.0, None)), r"grad_fn|grad"),
    ("grad_fn returns transposed W", dict(grad_fn=_transposed_grads), r"grad_fn|grad"),
]


def gradient_check_cases():
    cases = []
    for name, kw, regex in GC_MUTATIONS:
        def run(tmp, kw=kw):
            return jaxdnn.gradient_check(*base(), **kw)

        cases.append(Case(f"gradient_check: {name}", run, mentions=regex))
    for name, kw in [("epsilon 1e-6", dict(epsilon=1e-6)),
                     ("grad_fn = autodiff", dict(grad_fn=jaxdnn.autodiff_value_and_grad))]:
        def run(tmp, kw=kw):
            report = jaxdnn.gradient_check(*base(), **kw)
            assert report.passed, str(report)
            return report

        cases.append(Case(f"gradient_check: control {name}", run, "ok"))
    return cases


# --- gd_update --------------------------------------------------------------------------------


def _gd(grads_fn=lambda g: g, lr=0.1, params_fn=lambda p: p):
    def run(tmp):
        p = base()[0]
        return jaxdnn.gd_update(params_fn(p), grads_fn(grads_of(p)), lr)
    return run


GD_MUTATIONS = [
    ("grads missing b", _gd(lambda g: layer(g, 1, b=None)), r"grads"),
    ("grads extra key", _gd(lambda g: layer(g, 0, gamma=g[0]["b"])), r"grads"),
    ("grads dW/db keys", _gd(lambda g: [{"dW": d["W"], "db": d["b"]} for d in g]), r"grads"),
    ("grads W transposed", _gd(lambda g: layer(g, 0, W=g[0]["W"].T)), r"grads"),
    ("grads b 1-D", _gd(lambda g: layer(g, 0, b=g[0]["b"][:, 0])), r"grads"),
    ("grads one layer short", _gd(lambda g: g[:1]), r"grads"),
    ("grads one layer too many", _gd(lambda g: g + g[:1]), r"grads"),
    ("grads None", _gd(lambda g: None), r"grads"),
    ("grads dict", _gd(lambda g: {"W1": g[0]["W"]}), r"grads"),
    ("grads nested one level deeper", _gd(lambda g: [[d] for d in g]), r"grads"),
    ("grads str leaf", _gd(lambda g: layer(g, 0, W="W")), r"grads"),
    ("grads nested-list leaf", _gd(lambda g: layer(g, 0, W=np.asarray(g[0]["W"]).tolist())),
     r"grads"),
    ("grads of a transposed W", _gd(params_fn=lambda p: layer(p, 0, W=p[0]["W"].T)), r"grads"),
    ("learning_rate NaN", _gd(lr=float("nan")), r"learning_rate"),
    ("learning_rate Inf", _gd(lr=float("inf")), r"learning_rate"),
    ("learning_rate str", _gd(lr="0.1"), r"learning_rate"),
    ("learning_rate None", _gd(lr=None), r"learning_rate"),
    ("learning_rate complex", _gd(lr=0.1j), r"learning_rate"),
    ("learning_rate shape (4, 1)", _gd(lr=jnp.ones((4, 1))), r"learning_rate"),
    ("learning_rate shape (2,)", _gd(lr=jnp.ones(2)), r"learning_rate"),
    ("learning_rate list", _gd(lr=[0.1]), r"learning_rate"),
    ("python-float leaves", lambda tmp: jaxdnn.gd_update([1.0, 2.0], [0.5, 0.5], 0.1),
     r"array|params"),
]


def gd_update_cases():
    cases = [Case(f"gd_update: {name}", run, mentions=regex) for name, run, regex in GD_MUTATIONS]

    def traced_lr(tmp):  # vmapped learning rates are documented to work
        p = base()[0]
        return jax.vmap(lambda lr: jaxdnn.gd_update(p, grads_of(p), lr))(jnp.asarray([0.1, 0.2]))

    cases += [Case("gd_update: control float32 params, float64 learning rate", _gd(
                   lambda g: jax.tree.map(lambda a: a.astype(jnp.float32), g),
                   lr=np.float64(0.1),
                   params_fn=lambda p: jax.tree.map(lambda a: a.astype(jnp.float32), p)), "ok"),
              Case("gd_update: control vmapped learning rates", traced_lr, "ok")]
    return cases


# --- init_params ------------------------------------------------------------------------------

INIT_MUTATIONS = [  # (name, kwargs for init_params(key, layer_dims, method, dtype), regex)
    ("key int", dict(key=0), r"key"),
    ("key None", dict(key=None), r"key"),
    ("key str", dict(key="key"), r"key"),
    ("key float array", dict(key=jnp.zeros(2)), r"key"),
    ("batch of keys", dict(key=jax.random.split(KEY, 2)), r"key"),
    ("layer_dims empty", dict(layer_dims=[]), r"layer_dims"),
    ("layer_dims one entry", dict(layer_dims=[3]), r"layer_dims"),
    ("layer_dims zero", dict(layer_dims=[3, 0]), r"layer_dims"),
    ("layer_dims negative", dict(layer_dims=[3, -1]), r"layer_dims"),
    ("layer_dims float", dict(layer_dims=[3.0, 1]), r"layer_dims"),
    ("layer_dims str entries", dict(layer_dims=["3", "1"]), r"layer_dims"),
    ("layer_dims bool", dict(layer_dims=[True, 1]), r"layer_dims"),
    ("layer_dims None entry", dict(layer_dims=[3, None]), r"layer_dims"),
    ("layer_dims None", dict(layer_dims=None), r"layer_dims"),
    ("layer_dims int", dict(layer_dims=5), r"layer_dims"),
    ("layer_dims str", dict(layer_dims="31"), r"layer_dims"),
    ("layer_dims nested", dict(layer_dims=[[3], [1]]), r"layer_dims"),
    ("layer_dims 2-D array", dict(layer_dims=np.array([[3, 1]])), r"layer_dims"),
    ("layer_dims a set", dict(layer_dims={3, 1}), r"layer_dims"),
    ("method unknown", dict(method="glorot"), r"method"),
    ("method upper case", dict(method="HE"), r"method"),
    ("method None", dict(method=None), r"method"),
    ("method int", dict(method=1), r"method"),
    ("method list", dict(method=["he"]), r"method"),
    ("dtype int32", dict(dtype=jnp.int32), r"dtype"),
    ("dtype bool", dict(dtype=bool), r"dtype"),
    ("dtype complex64", dict(dtype=jnp.complex64), r"dtype"),
    ("dtype object", dict(dtype=object), r"dtype"),
    ("dtype 'banana'", dict(dtype="banana"), r"dtype|data type"),
    ("dtype 5", dict(dtype=5), r"dtype|data type"),
]


def init_cases():
    def call(**kw):
        args = dict(key=KEY, layer_dims=[3, 4, 1], method="he", dtype=jnp.float32)
        args.update(kw)
        return jaxdnn.init_params(args["key"], args["layer_dims"], args["method"], args["dtype"])

    cases = [Case(f"init_params: {name}", lambda tmp, kw=kw: call(**kw), mentions=regex)
             for name, kw, regex in INIT_MUTATIONS]
    for name, kw in [("legacy uint32 key", dict(key=jax.random.PRNGKey(0))),
                     ("NumPy layer_dims", dict(layer_dims=np.array([3, 1]))),
                     ("tuple layer_dims of NumPy ints", dict(layer_dims=(np.int64(2), np.int8(1)))),
                     ("float16", dict(dtype=jnp.float16, method="large")),
                     ("dtype given as a string", dict(dtype="float64", method="xavier")),
                     ("width 1", dict(layer_dims=[1, 1, 1, 1], method="small"))]:
        cases.append(Case(f"init_params: control {name}", lambda tmp, kw=kw: call(**kw), "ok"))
    return cases


# --- save -------------------------------------------------------------------------------------


def _save(tmp, **kw):
    args = dict(path=tmp / "c.npz", params=base()[0], opt_state=None, config={"seed": 0},
                costs=np.zeros(3), iteration=3)
    args.update(kw)
    return ckpt.save(args["path"], args["params"], args["opt_state"], args["config"],
                     args["costs"], args["iteration"])



SAVE_MUTATIONS = [
    ("path None", dict(path=None), r"str|path"),
    ("path int", dict(path=5), r"str|path"),
    ("params str leaf", dict(params=[{"W": "W"}]), r"params"),
    ("params object leaf", dict(params=[{"W": object()}]), r"params"),
    ("params object array", dict(params=[{"W": np.array([object()])}]), r"params"),
    ("params structured array", dict(params=[{"W": np.zeros(2, dtype=[("a", "f8")])}]),
     r"params"),
    ("params str array", dict(params=[{"W": np.array(["a"])}]), r"params"),
    ("params bytes array", dict(params=[{"W": np.array([b"ab"])}]), r"params"),
    ("params datetime array", dict(params=[{"W": np.array(["2020-01-01"], "datetime64[D]")}]),
     r"params"),
    ("params a set", dict(params={1, 2}), r"params"),
    ("params PRNG key leaf", dict(params=[KEY]), r"params"),
    ("params a function", dict(params=[jnp.tanh]), r"params"),
    ("config NaN", dict(config={"a": float("nan")}), r"config"),
    ("config object", dict(config={"a": object()}), r"config"),
    ("config tuple key", dict(config={(1, 2): 3}), r"config"),
    ("config list", dict(config=[1]), r"config"),
    ("config None", dict(config=None), r"config"),
    ("costs 3-D", dict(costs=np.zeros((1, 1, 1))), r"costs"),
    ("costs 0-D", dict(costs=np.zeros(())), r"costs"),
    ("costs str", dict(costs="abc"), r"costs"),
    ("costs None", dict(costs=None), r"costs"),
    ("costs list of str", dict(costs=["a"]), r"costs"),
    ("costs complex", dict(costs=np.zeros(2, complex)), r"costs"),
    ("costs bool", dict(costs=np.array([True])), r"costs"),
    ("costs ragged list", dict(costs=[[1.0], [1.0, 2.0]]), r"costs"),
    ("iteration -1", dict(iteration=-1), r"iteration"),
    ("iteration float", dict(iteration=1.0), r"iteration"),
    ("iteration bool", dict(iteration=True), r"iteration"),
    ("iteration None", dict(iteration=None), r"iteration"),
    ("iteration str", dict(iteration="3"), r"iteration"),
]


def save_cases():
    cases = [Case(f"save: {name}", lambda tmp, kw=kw: _save(tmp, **kw), mentions=regex,
                  needs_tmp=True) for name, kw, regex in SAVE_MUTATIONS]

    def round_trip(tmp, **kw):
        path = _save(tmp, **kw)
        loaded = ckpt.load(path)
        for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(kw.get("params",
                                                                               base()[0]))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_array_equal(loaded.costs, np.asarray(kw.get("costs", np.zeros(3))))
        return loaded.params, loaded.opt_state  # (the costs may hold NaN on purpose)

    p32 = jax.tree.map(lambda a: a.astype(jnp.float32), base()[0])
    for name, kw in [("adam state, 2-D costs", dict(opt_state=jaxdnn.adam(0.1).init(base()[0]),
                                                    costs=np.zeros((2, 3)))),
                     ("float32 params, list costs, NumPy int iteration",
                      dict(params=p32, costs=[1.0, 2.0], iteration=np.int64(2))),
                     ("None params and state", dict(params=None)),
                     ("costs with NaN (a diverged run)", dict(costs=np.array([1.0, np.nan])))]:
        cases.append(Case(f"save: control {name}", lambda tmp, kw=kw: round_trip(tmp, **kw),
                          "ok", needs_tmp=True))
    return cases


# --- load -------------------------------------------------------------------------------------


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


def _flip(tmp, offset):
    raw = bytearray(_good_file(tmp).read_bytes())
    raw[offset] ^= 0xFF
    return _write(tmp, bytes(raw), "flipped.npz")


def load_cases(good_bytes):
    cases = [Case(f"load: {name}", lambda tmp, make=make: ckpt.load(make(tmp)),
                  mentions=r"\.npz|checkpoint|no such|directory", errors=(jaxdnn.CheckpointError,),
                  needs_tmp=True)
             for name, make in LOAD_FILES]
    cases += [Case("load: path None", lambda tmp: ckpt.load(None), mentions=r"str|path"),
              Case("load: path a list", lambda tmp: ckpt.load(["a.npz"]), mentions=r"str|path")]

    def flipped(tmp, offset):
        path = _flip(tmp, offset)
        try:
            loaded = ckpt.load(path)
        except jaxdnn.CheckpointError as e:
            assert str(e).strip(), "CheckpointError without a message"
            raise
        # a flip the zip format ignores (a timestamp, a field zipfile does not read) is harmless
        # only if exactly the saved data comes back
        good = _GOOD["loaded"]
        assert jax.tree.structure(loaded) == jax.tree.structure(good), "structure changed"
        for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(good)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg="data changed")
        return "unchanged"

    for name, offset in _zip_offsets(good_bytes).items():
        cases.append(Case(f"load: flipped {name}", lambda tmp, o=offset: flipped(tmp, o),
                          "flip", errors=(jaxdnn.CheckpointError,), needs_tmp=True))
    cases.append(Case("load: control round trip", lambda tmp: ckpt.load(_good_file(tmp)), "ok",
                      needs_tmp=True))
    return cases


def _probe_bytes():
    with tempfile.TemporaryDirectory() as d:
        return _good_file(pathlib.Path(d)).read_bytes()


# ----------------------------------------------------------------------------------------------
# known library bugs: each case below fails today; xfail(strict=True) so a fix is noticed

BUGS: dict = {}  # none known: every bug the fuzz found is fixed


# a mutation name (any entry point) or a whole case id -> the bug in BUGS it exposes
BUGGY_MUTATIONS: dict = {}
BUGGY_CASES: dict = {}


def _known_bugs(cases):
    ids = {c.id for c in cases}
    names = {c.id.split(": ", 1)[1] for c in cases}
    stale = sorted((set(BUGGY_CASES) - ids) | (set(BUGGY_MUTATIONS) - names))
    assert not stale, f"known bugs name cases that do not exist: {stale}"
    known = {}
    for c in cases:
        bug = BUGGY_CASES.get(c.id) or BUGGY_MUTATIONS.get(c.id.split(": ", 1)[1])
        if bug is not None:
            known[c.id] = bug
    return known




def all_cases():
    cases = (problem_cases() + regularisation_cases() + fit_cases() + gradient_check_cases()
             + gd_update_cases() + init_cases() + save_cases() + load_cases(_probe_bytes()))
    ids = [c.id for c in cases]
    duplicates = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not duplicates, f"duplicate case ids: {duplicates}"
    return cases


CASES = all_cases()
KNOWN_BUGS = _known_bugs(CASES)  # `pytest --runxfail` shows each one's failure message


def _params():
    out = []
    for c in CASES:
        marks = ()
        if c.id in KNOWN_BUGS:
            marks = pytest.mark.xfail(strict=True, raises=pytest.fail.Exception,
                                      reason=BUGS[KNOWN_BUGS[c.id]])
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


# ----------------------------------------------------------------------------------------------
# the tests


def describe(result):
    bad = finite_leaves(result)
    return f"{type(result).__name__}" + (f" holding NaN/Inf at {bad}" if bad else "")


def verdict(case, outcome, error, result):
    """None when the case behaved; else what went wrong, in one line."""
    if case.expect == "ok":
        if outcome != "returned":
            return f"valid input raised {type(error).__name__}: {error}"
        bad = finite_leaves(result)
        return f"non-finite values at {bad}" if bad else None
    if case.expect == "flip":  # a clear CheckpointError, or exactly the saved data
        if isinstance(error, AssertionError):
            return f"load returned other data silently: {error}"
        if outcome == "wrong error":
            return f"raised {type(error).__name__}: {error} (expected CheckpointError)"
        return None
    if outcome == "returned":
        return f"returned {describe(result)} instead of raising"
    if outcome != "raised":
        return (f"raised {type(error).__name__}: {error} (expected "
                f"{' or '.join(e.__name__ for e in case.errors)})")
    message = str(error).strip()
    if not message:
        return f"{type(error).__name__} with an empty message"
    if case.mentions and not re.search(case.mentions, message, re.IGNORECASE):
        return (f"the {type(error).__name__} message does not name the argument "
                f"(/{case.mentions}/): {message[:300]!r}")
    return None


@pytest.mark.parametrize("case", _params())
def test_fuzz_case(case, request):
    tmp_path = request.getfixturevalue("tmp_path") if case.needs_tmp else None
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)  # a hang aborts with tracebacks
    t0 = time.perf_counter()
    try:
        result = case.run(tmp_path)
    except case.errors as e:
        outcome, error, result = "raised", e, None
    except BaseException as e:  # noqa: BLE001 - anything else is a finding
        outcome, error, result = "wrong error", e, None
    else:
        outcome, error = "returned", None
    finally:
        faulthandler.cancel_dump_traceback_later()
    elapsed = time.perf_counter() - t0
    problem = verdict(case, outcome, error, result)
    if problem is None and elapsed >= CASE_SECONDS:
        problem = f"took {elapsed:.1f} s (limit {CASE_SECONDS:g} s)"
    if problem is not None:
        # a one-line failure: no traceback to format (pytest would parse this file for each)
        pytest.fail(f"{case.id}: {problem}", pytrace=False)


def test_fuzz_case_count(capsys):
    by_kind = collections.Counter(c.expect for c in CASES)
    by_entry = collections.Counter(c.id.split(":")[0] for c in CASES)
    with capsys.disabled():
        print(f"\n[test_fuzz] {len(CASES)} cases: {by_kind['error']} malformed, "
              f"{by_kind['flip']} flipped checkpoint bytes, {by_kind['ok']} positive controls, "
              f"{len(KNOWN_BUGS)} known library bugs (xfail) in {len(BUGS)} groups; per entry "
              f"point: {dict(sorted(by_entry.items()))}", file=sys.stderr, flush=True)
    assert len(CASES) >= MIN_CASES, f"only {len(CASES)} fuzz cases, expected >= {MIN_CASES}"
    assert by_kind["ok"] >= 50, by_kind
    expected_entries = {*PROBLEM_ENTRIES, *JIT_ENTRIES, "gd_update", "init_params", "save",
                        "load"}
    assert expected_entries <= set(by_entry), expected_entries - set(by_entry)
