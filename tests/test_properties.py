"""Property tests (hypothesis) on random architectures, sizes, dtypes and value ranges.

What holds for every drawn case:

- the hand-derived gradient equals ``jax.grad`` of the cost, leaf by leaf, and the cost is finite;
- cost and gradient stay finite for logits up to +-1e4 and the cost equals optax's
  ``sigmoid_binary_cross_entropy``;
- ``predict`` returns only 0/1 of shape ``(n_L, m)`` in the params' dtype, and ``accuracy`` lies in
  [0, 1] and equals the mean of ``predict == Y``;
- ``init_params`` draws W with the documented mean and standard deviation and b = 0.

Compile counts are kept low: architectures come from a small fixed set (every new shape compiles
once, so at most one program per architecture and dtype), all value ranges and both kinds of
label of one architecture run through one compiled function, and hypothesis is derandomized
(``derandomize=True``, no example database) so CI sees the same cases on every run.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxdnn
from jaxdnn import activations as act
from jaxdnn.gradcheck import relative_difference
from jaxdnn.initializers import METHODS

from .conftest import as_jax

WIDTHS = (1, 2, 3, 5, 8)
MS = (1, 2, 3, 7)
HIDDEN = act.HIDDEN  # every hidden activation the library has: the architectures cover them all
DTYPES = (jnp.float32, jnp.float64)
SCALES = tuple(10.0**k for k in range(-3, 4))  # X scaled by 10^k, k = -3..3
EPS = {dtype: float(jnp.finfo(dtype).eps) for dtype in DTYPES}

# manual ~ autodiff: relative difference per leaf ||g_man - g_auto|| / (||g_man|| + ||g_auto||).
REL_TOL = {jnp.float64: 1e-9, jnp.float32: 1e-4}
# ... or, where the leaf is tiny compared with the terms that make it up (saturated units,
# confidently right outputs: dZ_L = A_L - Y cancels to a few ulps), every element within
# BOUND_FACTOR * eps * S, S the running error scale of the backward pass (see `error_scale`).
BOUND_FACTOR = 64.0

PROPERTY_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------------------------
# strategies


# (dims, activations, m): every hidden activation, 1 to 4 layers, widths 1 to 8, 1 or 2 outputs,
# m 1 to 7, in as few architectures as cover them (one per depth). Drawn from this fixed set so
# that each compiled program is reused by many examples: every architecture and dtype compiles
# once, and with 2 dtypes each architecture more is two more programs per property.
ARCHITECTURES = [
    ((2, 1), ("sigmoid",), 3),
    ((3, 5, 1), ("relu", "sigmoid"), 7),
    ((5, 8, 3, 2), ("leaky_relu", "linear", "sigmoid"), 2),
    ((8, 2, 1, 3, 1), ("tanh", "sigmoid", "relu", "sigmoid"), 1),
]


def test_the_architectures_cover_the_sizes_and_activations():
    assert {a for _, acts, _ in ARCHITECTURES for a in acts[:-1]} == set(HIDDEN)
    assert {len(d) - 1 for d, _, _ in ARCHITECTURES} == {1, 2, 3, 4}
    assert {w for d, _, _ in ARCHITECTURES for w in d} == set(WIDTHS)
    assert {m for _, _, m in ARCHITECTURES} == set(MS)
    assert {d[-1] for d, _, _ in ARCHITECTURES} == {1, 2}


@st.composite
def architectures(draw, max_layers=4):
    """``(dims, activations, m, dtype)`` from the fixed set; sigmoid output."""
    dims, acts, m = draw(st.sampled_from([a for a in ARCHITECTURES if len(a[1]) <= max_layers]))
    return dims, acts, m, draw(st.sampled_from(DTYPES))


def make_problem(dims, m, dtype, seed, *, method="xavier"):
    """Params, unit-scale X ``(n_x, m)``, 0/1 labels and soft labels ``(n_L, m)`` from one seed.

    Drawn with NumPy and converted there (:func:`as_jax`), so a new shape costs no eager JAX
    compiles (``init_params`` itself is tested below); W is ``N(0, 1)`` times the method's scale,
    b is ``N(0, 0.1^2)``.
    """
    rng = np.random.default_rng(seed)
    scale = {"xavier": lambda n: 1 / np.sqrt(n), "he": lambda n: np.sqrt(2 / n),
             "large": lambda n: 10.0}[method]
    params = [{"W": as_jax(rng.standard_normal((n, n_prev)) * scale(n_prev), dtype),
               "b": as_jax(0.1 * rng.standard_normal((n, 1)), dtype)}
              for n_prev, n in zip(dims[:-1], dims[1:])]
    X = as_jax(rng.standard_normal((dims[0], m)), dtype)
    Y_hard = as_jax(rng.integers(0, 2, (dims[-1], m)), dtype)
    Y_soft = as_jax(rng.uniform(0, 1, (dims[-1], m)), dtype)
    return params, X, Y_hard, Y_soft


def scaled(X, s, dtype):
    """``X * s`` in ``dtype`` (one rounding, as ``X * jnp.asarray(s, dtype)`` does), multiplied in
    NumPy: an eager JAX multiply would compile once per shape and dtype."""
    return as_jax(np.asarray(X) * np.asarray(s, dtype), dtype)


# ----------------------------------------------------------------------------------------------
# 1. manual gradients equal autodiff


def error_scale(params, X, Y, acts):
    """Per-leaf magnitude ``S`` of the terms the backward pass adds up, shaped like the grads.

    A running forward-error bound in the style of Higham: every rounding in the backward pass is
    at most ``eps`` relative to the operands it combines, so any two evaluation orders of the same
    equations (hand-derived and ``jax.grad``) differ elementwise by at most ``c * eps * S`` with
    ``S`` the backward pass evaluated on absolute values: ``S_Z_L = A_L + |Y|`` (the operands of
    ``A_L - Y``), ``S_W = S_Z A_prev^T / m``, ``S_b = sum(S_Z) / m``, ``S_A_prev = |W|^T S_Z`` and
    ``S_Z_prev = S_A_prev * (|g'(Z)| + 1)`` (``g'`` of tanh and sigmoid is itself computed with an
    absolute error of a few ulps of 1).
    """
    _, caches = jaxdnn.forward(params, X, acts)
    m = X.shape[1]
    S = jax.nn.sigmoid(caches[-1].Z) + jnp.abs(Y)  # (n_L, m)
    out = [None] * len(params)
    for l in reversed(range(len(params))):
        A_prev = jnp.abs(caches[l].linear.A_prev)
        out[l] = {"W": S @ A_prev.T / m, "b": jnp.sum(S, axis=1, keepdims=True) / m}
        if l > 0:
            gp = jnp.abs(act.derivative(acts[l - 1])(caches[l - 1].Z))
            S = (jnp.abs(params[l]["W"]).T @ S) * (gp + 1)
    return out


_COMPILED = {}


def value_and_grads(acts):
    """One compiled function per activation tuple: cost, manual, autodiff and the error scale."""
    if acts not in _COMPILED:
        def f(params, X, Y):
            J_man, g_man = jaxdnn.manual_value_and_grad(params, X, Y, acts)
            J_auto, g_auto = jaxdnn.autodiff_value_and_grad(params, X, Y, acts)
            return J_man, g_man, J_auto, g_auto, error_scale(params, X, Y, acts)
        _COMPILED[acts] = jax.jit(f)
    return _COMPILED[acts]


def check_grads(what, dtype, J_man, g_man, J_auto, g_auto, S, params):
    """Finite cost; manual == autodiff per leaf (relative, else within the error bound)."""
    eps, rel_tol = EPS[dtype], REL_TOL[dtype]
    assert J_man.dtype == dtype and np.isfinite(float(J_man)), f"{what}: cost {J_man}"
    assert float(J_man) == pytest.approx(float(J_auto), rel=10 * eps, abs=10 * eps), what
    assert jax.tree.structure(g_man) == jax.tree.structure(params), what
    for (path, a), b, bound in zip(jax.tree_util.tree_leaves_with_path(g_man),
                                   jax.tree.leaves(g_auto), jax.tree.leaves(S)):
        a, b, bound = np.asarray(a), np.asarray(b), np.asarray(bound, np.float64)
        leaf = f"{what}, leaf {jax.tree_util.keystr(path)}"
        assert a.dtype == dtype and np.isfinite(a).all() and np.isfinite(b).all(), leaf
        rel = relative_difference(a, b)
        if rel < rel_tol:
            continue
        # cancellation: compare with the error bound of the backward pass instead
        err = np.abs(a.astype(np.float64) - b.astype(np.float64))
        worst = float(np.max(err - BOUND_FACTOR * eps * bound))
        assert worst <= 0, (f"{leaf}: relative difference {rel:.3e} >= {rel_tol:g} and "
                            f"|manual - autodiff| exceeds {BOUND_FACTOR:g} eps S by {worst:.3e}")


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(arch=architectures(), seed=st.integers(0, 2**31 - 1),
       method=st.sampled_from(["xavier", "he", "large"]))
def _manual_equals_autodiff(arch, seed, method):
    dims, acts, m, dtype = arch
    params, X, Y_hard, Y_soft = make_problem(dims, m, dtype, seed, method=method)
    f = value_and_grads(acts)
    for s in SCALES:  # every value range and both kinds of label through one compiled function
        for labels, Y in (("0/1", Y_hard), ("soft", Y_soft)):
            what = (f"dims {dims}, acts {acts}, m {m}, {jnp.dtype(dtype)}, X*{s:g}, "
                    f"init {method}, {labels} labels, seed {seed}")
            check_grads(what, dtype, *f(params, scaled(X, s, dtype), Y), params)


def test_manual_gradients_equal_autodiff():
    _manual_equals_autodiff()


def test_the_error_bound_accepts_rounding_and_rejects_real_errors():
    """The fallback of `check_grads`, on its own: why it is needed and that it still bites.

    At Z_L = 30, Y = 1 the course's dZ_L = A_L - Y = sigmoid(30) - 1 cancels: sigmoid(30) =
    1 - 9.36e-14 is stored to 1.1e-16, so dZ_L is right only to ~1e-3 relative (but to 1e-16
    absolute, all the course's formula promises). Another evaluation order may round the other way,
    so a difference of a few eps * S must pass although it is ~1e-3 relative; a relative error of
    1e-6 on a well-conditioned problem must still fail.
    """
    acts, eps = ("sigmoid",), EPS[jnp.float64]
    params = [{"W": jnp.array([[30.0]]), "b": jnp.array([[0.0]])}]
    X, Y = jnp.array([[1.0]]), jnp.array([[1.0]])
    J, g, _, _, S = value_and_grads(acts)(params, X, Y)
    rounded = jax.tree.map(lambda a, s: a + 4 * eps * s, g, S)  # rounding-sized, yet ...
    assert relative_difference(rounded[0]["W"], g[0]["W"]) > 1e-6  # ... far beyond REL_TOL
    check_grads("Z_L = 30, Y = 1", jnp.float64, J, g, J, rounded, S, params)

    params, X, Y, _ = make_problem((3, 4, 1), 7, jnp.float64, 0)
    acts = ("tanh", "sigmoid")
    J, g, _, _, S = value_and_grads(acts)(params, X, Y)
    wrong = jax.tree.map(lambda a: a * (1 + 1e-6), g)
    with pytest.raises(AssertionError, match="exceeds"):
        check_grads("a 1e-6 relative error", jnp.float64, J, g, J, wrong, S, params)


# ----------------------------------------------------------------------------------------------
# 2. extreme logits: finite cost and gradient, equal to optax

TARGETS = (1e4, -1e4, 3e3, 40.0, 1.0)


def _extreme(params, X, Y, acts, target):
    """Rescale the last layer so that max |Z_L| == target; cost, grads and the logits."""
    _, caches = jaxdnn.forward(params, X, acts)
    ZL = caches[-1].Z
    peak = jnp.max(jnp.abs(ZL))
    c = target / jnp.where(peak > 0, peak, 1)
    last = {"W": params[-1]["W"] * c, "b": params[-1]["b"] * c}
    # a network whose last hidden output is all zero (dead relus) gets its logits from b alone
    last["b"] = jnp.where(peak > 0, last["b"], jnp.full_like(last["b"], target))
    params = params[:-1] + [last]
    ZL = jaxdnn.forward(params, X, acts)[1][-1].Z  # the logits the cost sees
    J, g_man = jaxdnn.manual_value_and_grad(params, X, Y, acts)
    J_auto, g_auto = jaxdnn.autodiff_value_and_grad(params, X, Y, acts)
    g_vjp = jax.grad(jaxdnn.cost_with_manual_vjp)(params, X, Y, acts)
    return J, g_man, J_auto, g_auto, error_scale(params, X, Y, acts), g_vjp, ZL, params


_EXTREME = {}


@jax.jit
def optax_cost_terms(ZL, Y):
    """The reference: optax's per-example loss from the logits, its sum and its largest term."""
    ref = optax.losses.sigmoid_binary_cross_entropy(ZL, Y)  # (n_L, m)
    return jnp.sum(ref), jnp.max(ref)


@settings(max_examples=12, **PROPERTY_SETTINGS)
@given(arch=architectures(max_layers=3), seed=st.integers(0, 2**31 - 1))
def _extreme_logits(arch, seed):
    dims, acts, m, dtype = arch
    params, X, Y_hard, Y_soft = make_problem(dims, m, dtype, seed)
    if acts not in _EXTREME:
        _EXTREME[acts] = jax.jit(lambda p, x, y, t: _extreme(p, x, y, acts, t))
    eps = EPS[dtype]
    for target in TARGETS:
        for labels, Y in (("0/1", Y_hard), ("soft", Y_soft)):
            *grads, g_vjp, ZL, p = _EXTREME[acts](params, X, Y, as_jax(target, dtype))
            what = (f"dims {dims}, acts {acts}, m {m}, {jnp.dtype(dtype)}, "
                    f"max|Z_L| = {target:g}, {labels} labels, seed {seed}")
            ref_sum, ref_max = optax_cost_terms(ZL, Y)  # one compile per shape, not per op
            ZL = np.asarray(ZL)
            assert np.max(np.abs(ZL)) == pytest.approx(abs(target), rel=1e-3), what
            check_grads(what, dtype, *grads, p)  # finite cost and grads, manual == autodiff
            J = float(grads[0])
            expected = float(ref_sum) / m
            # the cost is O(|Z_L|): relative to it, plus a few ulps of the biggest term
            assert J == pytest.approx(expected, rel=8 * eps, abs=8 * eps * float(ref_max)), (
                f"{what}: cost {J}, optax {expected}")
            for (path, a), c in zip(jax.tree_util.tree_leaves_with_path(grads[1]),
                                    jax.tree.leaves(g_vjp)):
                np.testing.assert_array_equal(  # the custom VJP's backward is the manual pass
                    np.asarray(c), np.asarray(a),
                    err_msg=f"{what}: custom_vjp leaf {jax.tree_util.keystr(path)}")


def test_cost_and_gradient_finite_for_extreme_logits():
    _extreme_logits()


# ----------------------------------------------------------------------------------------------
# 3. predict and accuracy


_PREDICT = {}


# under jit only (one compiled program per architecture and dtype): predict and accuracy run
# eagerly, op by op, in test_forward
@settings(max_examples=20, **PROPERTY_SETTINGS)
@given(arch=architectures(), seed=st.integers(0, 2**31 - 1),
       method=st.sampled_from(["xavier", "he", "large"]))
def _predict_and_accuracy(arch, seed, method):
    dims, acts, m, dtype = arch
    params, X, Y, _ = make_problem(dims, m, dtype, seed, method=method)

    def run(p, x, y):  # predict, accuracy and A_L
        return (jaxdnn.predict(p, x, acts), jaxdnn.accuracy(p, x, y, acts),
                jaxdnn.forward(p, x, acts)[0])

    run = _PREDICT.setdefault(acts, jax.jit(run))
    for s in SCALES:
        Xs = scaled(X, s, dtype)
        what = f"dims {dims}, acts {acts}, m {m}, {jnp.dtype(dtype)}, X*{s:g}"
        P, acc, A_L = run(params, Xs, Y)
        assert P.shape == (dims[-1], m) and P.dtype == dtype, f"{what}: {P.shape} {P.dtype}"
        P = np.asarray(P)
        assert np.isin(P, [0.0, 1.0]).all(), f"{what}: {P}"
        np.testing.assert_array_equal(P, np.asarray(A_L) > 0.5, err_msg=what)
        assert acc.shape == () and acc.dtype == dtype, f"{what}: accuracy {acc.shape} {acc.dtype}"
        acc = float(acc)
        assert 0.0 <= acc <= 1.0, f"{what}: accuracy {acc}"
        expected = float(np.mean(P == np.asarray(Y)))
        assert acc == pytest.approx(expected, rel=0, abs=4 * EPS[dtype]), what


def test_predict_is_binary_and_accuracy_is_its_mean_agreement():
    _predict_and_accuracy()


# ----------------------------------------------------------------------------------------------
# 4. init_params: documented mean and standard deviation

BIG = (48, 100)  # every W has >= 48 * 48 = 2304 entries; few shapes, few compiles
STD = {
    "zeros": lambda n_prev: 0.0,
    "small": lambda n_prev: 0.01,
    "large": lambda n_prev: 10.0,
    "xavier": lambda n_prev: 1.0 / np.sqrt(n_prev),
    "he": lambda n_prev: np.sqrt(2.0 / n_prev),
}
Z_BOUND = 5.0  # standard errors: a correct initializer fails with probability ~1e-6 per check


@settings(max_examples=40, **PROPERTY_SETTINGS)
@given(dims=st.lists(st.sampled_from(BIG), min_size=2, max_size=4),
       method=st.sampled_from(METHODS), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**31 - 1))
def _init_statistics(dims, method, dtype, seed):
    params = jaxdnn.init_params(jax.random.key(seed), dims, method, dtype)
    assert len(params) == len(dims) - 1
    for l, (layer, n_prev, n) in enumerate(zip(params, dims[:-1], dims[1:])):
        what = f"{method}, dims {dims}, {jnp.dtype(dtype)}, seed {seed}, layer {l + 1}"
        W, b = np.asarray(layer["W"], np.float64), np.asarray(layer["b"])
        assert layer["W"].shape == (n, n_prev) and layer["b"].shape == (n, 1), what
        assert layer["W"].dtype == dtype and layer["b"].dtype == dtype, what
        assert not b.any(), f"{what}: b is not zero"
        sigma = STD[method](n_prev)
        if sigma == 0.0:
            assert not W.any(), f"{what}: W is not zero"
            continue
        N = W.size  # mean ~ N(0, sigma^2 / N); sample std ~ N(sigma, sigma^2 / (2 (N - 1)))
        se_mean, se_std = sigma / np.sqrt(N), sigma / np.sqrt(2 * (N - 1))
        mean, std = W.mean(), W.std(ddof=1)
        assert abs(mean) <= Z_BOUND * se_mean, f"{what}: mean {mean:.4g}, SE {se_mean:.3g}"
        assert abs(std - sigma) <= Z_BOUND * se_std, (
            f"{what}: std {std:.6g}, documented {sigma:.6g}, SE {se_std:.3g}")


def test_init_params_has_the_documented_mean_and_std():
    _init_statistics()
