"""gradient_check: passes correct gradients (also where they are 0), flags planted bugs on exactly
their leaves, in every mode: coordinates, random directions, dJ/dX, float32, Hessian-vector."""

import json
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn.course import gradient_check_test_case
from jaxdnn.gradcheck import (
    ROUNDOFF_FACTOR,
    check,
    hessian_check,
    input_gradient_check,
    numeric_grad,
    relative_difference,
    slip_probability,
    tolerances,
)
from jaxdnn.gradcheck.__main__ import main

from .conftest import as_jax, count_compiles, random_params

COURSE = gradient_check_test_case()
W_AND_B = [f"[{l}]['{k}']" for l in range(3) for k in "Wb"]
# compiled once per shape and shared by every planted grad_fn and the tests' own references
# (eagerly, every primitive of the pass would compile at each new shape)
manual_value_and_grad = jax.jit(jaxdnn.manual_value_and_grad,
                                static_argnames=("activations", "keep_prob"))
autodiff_value_and_grad = jax.jit(jaxdnn.autodiff_value_and_grad, static_argnames="activations")


def planted(*bugs):
    """A value-and-grad with bugs planted on some leaves: ``bugs`` are ``(layer, key, fn)``, where
    ``fn(grad, params, m, kwargs)`` returns the wrong gradient of that leaf."""
    def grad_fn(params, X, Y, activations, **kwargs):
        J, grads = manual_value_and_grad(params, X, Y, activations=activations, **kwargs)
        for l, k, fn in bugs:
            grads[l][k] = fn(grads[l][k], params, X.shape[1], kwargs)
        return J, grads
    return grad_fn


# the course's planted bugs: dW2 doubled, db1 computed with 4/m instead of 1/m
COURSE_BUGS = planted((1, "W", lambda g, *_: 2 * g), (0, "b", lambda g, *_: 4 * g))


def test_course_1d_check():
    """J(theta) = theta * x with x = 2, theta = 4: the course prints a difference of 2.919e-10."""
    theta = jnp.float64(4.0)
    approx = numeric_grad(lambda t: t * 2.0, theta)
    d = relative_difference(2.0, approx)
    assert d < 1e-7
    assert d == pytest.approx(2.919e-10, rel=0.01)


def test_passes_on_the_course_network():
    report = jaxdnn.gradient_check(*COURSE)
    assert report.passed, str(report)
    assert report.manual_vs_numeric < 1e-7 and report.manual_vs_autodiff < 1e-14
    assert [l.path for l in report.leaves] == W_AND_B
    assert "MISMATCH" not in str(report) and "PASSED" in str(report)


def test_flags_the_planted_bugs_on_the_right_leaves():
    report = jaxdnn.gradient_check(*COURSE, grad_fn=COURSE_BUGS)
    assert not report.passed
    assert set(report.failed_leaves) == {"[1]['W']", "[0]['b']"}
    # the course prints
    # "There is a mistake in the backward propagation! difference = 0.2850931567761623"
    assert report.manual_vs_numeric == pytest.approx(0.2850931567761623, abs=1e-6)
    assert 0.05 < report["[1]['W']"].manual_vs_numeric < 0.5
    assert 0.05 < report["[0]['b']"].manual_vs_numeric < 0.9
    w = report["[1]['W']"]
    assert w.worst_manual == pytest.approx(2 * w.worst_numeric, rel=1e-6)  # the doubled element
    text = str(report)
    assert "MISMATCH" in text and "FAILED on [0]['b'], [1]['W']" in text


def dead_network():
    """3-4-2-1 relu net whose second hidden layer is dead for every input (b2 = -100), with b3 = 0
    and half the labels 1: the true gradient of every leaf is exactly 0. Drawn with NumPy (He
    scales), so that making it compiles nothing."""
    rng = np.random.default_rng(3)
    dims = [3, 4, 2, 1]
    params = [{"W": as_jax(rng.standard_normal((n, n_prev)) * np.sqrt(2 / n_prev), np.float64),
               "b": as_jax(np.full((n, 1), -100.0 if l == 1 else 0.0), np.float64)}
              for l, (n_prev, n) in enumerate(zip(dims[:-1], dims[1:]))]
    X = as_jax(rng.standard_normal((3, 8)), np.float64)
    Y = as_jax([[0, 1, 0, 0, 1, 0, 1, 1]], np.float64)
    return params, X, Y, ("relu", "relu", "sigmoid")


def test_a_dead_relu_layer_has_zero_gradients_and_no_false_alarm():
    problem = dead_network()
    _, g = autodiff_value_and_grad(*problem)
    assert all(not np.asarray(x).any() for x in jax.tree.leaves(g))
    report = jaxdnn.gradient_check(*problem)
    assert report.passed and "MISMATCH" not in str(report), str(report)
    b3 = report["[2]['b']"]
    # the finite differences see round-off only: relative difference 1 against an exact 0 ...
    assert b3.manual_vs_numeric == 1.0 and 0 < b3.max_abs_vs_numeric
    # ... far below the stated absolute tolerance 16 u max(|J|, 1) / eps
    u = float(jnp.finfo(jnp.float64).eps)
    assert b3.atol_numeric == pytest.approx(ROUNDOFF_FACTOR * u * max(report.cost, 1) / 1e-7)
    assert b3.max_abs_vs_numeric < b3.atol_numeric / ROUNDOFF_FACTOR
    # a bug above the finite differences' resolution is still flagged, on its leaf only
    bug = planted((2, "b", lambda g, *_: g + 1e-4))
    assert jaxdnn.gradient_check(*problem, grad_fn=bug).failed_leaves == ("[2]['b']",)


def kinked_course_network():
    """The course's network with unit 0 of layer 1 exactly at its kink for example 0 (set in
    NumPy: eager JAX would compile each operation)."""
    params, X, Y, acts = gradient_check_test_case()
    b = np.asarray(params[0]["b"]).copy()
    b[0, 0] = -(np.asarray(params[0]["W"])[0] @ np.asarray(X)[:, 0])
    params = [dict(params[0], b=as_jax(b, np.float64)), *params[1:]]
    return params, X, Y, acts


def test_entries_at_a_relu_kink_are_reported_as_kinks_not_mismatches():
    params, X, Y, acts = kinked_course_network()
    Z1 = np.asarray(params[0]["W"]) @ np.asarray(X) + np.asarray(params[0]["b"])
    assert abs(float(Z1[0, 0])) < 1e-7  # within eps of the kink
    report = jaxdnn.gradient_check(params, X, Y, acts)
    assert report.passed, str(report)
    kinks = report["[0]['W']"].kinks
    assert set(kinks) == {(0, j) for j in range(4)}  # W1's row 0 moves Z1[0, 0] across 0
    assert report["[0]['b']"].kinks == ((0, 0),)
    assert "kink: [0]['W']" in str(report) and "4 at kinks" in str(report)
    # at those entries the centred difference disagrees with the one-sided derivative: without
    # the kink rule they would be mismatches
    n = numeric_grad(lambda p: jaxdnn.cost(p, X, Y, acts), params)
    _, g = manual_value_and_grad(params, X, Y, activations=acts)
    assert abs(float(np.asarray(n[0]["b"])[0, 0] - np.asarray(g[0]["b"])[0, 0])) > 1e-3


def l2_bug(layer):
    """The L2 term of one leaf doubled: dW += 2 lambd / m W instead of lambd / m W."""
    return planted((layer, "W", lambda g, p, m, kw: g + kw["l2"] / m * p[layer]["W"]))


@pytest.mark.parametrize("reg", [dict(l2=0.7), dict(keep_prob=0.8, key=jax.random.key(5)),
                                 dict(l2=0.7, keep_prob=0.8, key=jax.random.key(5))],
                         ids=["l2", "dropout", "both"])
def test_regularised_passes_pass_and_a_wrong_l2_term_is_flagged_on_its_leaf(reg):
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return manual_value_and_grad(*args, **kwargs)

    report = jaxdnn.gradient_check(*COURSE, grad_fn=spy, **reg)
    assert report.passed, str(report)
    assert seen == [reg]  # grad_fn gets the same l2, keep_prob and key
    if "l2" in reg:
        bad = jaxdnn.gradient_check(*COURSE, grad_fn=l2_bug(1), **reg)
        assert bad.failed_leaves == ("[1]['W']",), str(bad)


def test_dropout_masks_are_the_same_in_every_evaluation():
    """A grad_fn that drops other units than the cost does is flagged: the masks matter, and the
    passing check above therefore used the same masks as the finite differences."""
    other_key = lambda p, X, Y, a, **kw: manual_value_and_grad(
        p, X, Y, a, **{**kw, "key": jax.random.key(6)})
    report = jaxdnn.gradient_check(*COURSE, keep_prob=0.8, key=jax.random.key(5),
                                   grad_fn=other_key)
    assert not report.passed


def output_problem(output):
    rng = np.random.default_rng(7)
    params = random_params(rng, [4, 5, 3], np.float64)
    X = as_jax(rng.standard_normal((4, 6)), np.float64)
    if output == "softmax":
        Y = as_jax(np.eye(3)[:, [0, 1, 2, 2, 1, 0]], np.float64)
    elif output == "linear":
        Y = as_jax(rng.standard_normal((3, 6)), np.float64)
    else:
        Y = as_jax(rng.uniform(size=(3, 6)) > 0.5, np.float64)
    return params, X, Y, ("tanh", output)


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
def test_every_output_and_its_cost_is_checked(output):
    problem = output_problem(output)
    assert jaxdnn.gradient_check(*problem).passed
    bad = jaxdnn.gradient_check(*problem, grad_fn=planted((1, "b", lambda g, *_: 1.01 * g)))
    assert bad.failed_leaves == ("[1]['b']",)


def test_random_directions_pass_the_correct_pass_and_flag_the_course_bugs():
    # 2 directions per leaf, as in test_a_second_check_of_the_same_network_does_not_compile: the
    # same compiled finite differences
    good = jaxdnn.gradient_check(*COURSE, num_directions=2)
    assert good.passed and good.mode == "directions", str(good)
    bad = jaxdnn.gradient_check(*COURSE, grad_fn=COURSE_BUGS, num_directions=2)
    assert set(bad.failed_leaves) == {"[1]['W']", "[0]['b']"}
    assert not bad["[1]['W']"].agrees_with_numeric and not bad["[0]['b']"].agrees_with_numeric
    (j,) = bad["[1]['W']"].worst_index  # directions mode: the worst is a direction index
    assert 0 <= j < 2


def quadratic_problem():
    """Linear output: J is exactly quadratic in the last W, so its centred differences are exact
    up to round-off and the finite differences' tolerance is the absolute atol alone."""
    rng = np.random.default_rng(8)
    params = random_params(rng, [2, 3, 2], np.float64)
    X = as_jax(rng.standard_normal((2, 4)), np.float64)
    Y = as_jax(rng.standard_normal((2, 4)), np.float64)
    return params, X, Y, ("tanh", "linear")


def test_the_chance_that_a_wrong_leaf_slips_through_is_the_stated_one():
    """An error e on a leaf of d = 6 entries, sized so that one random direction misses it
    (|<e, v>| within atol) with probability 1/2: k directions miss it with probability 2^-k."""
    problem = quadratic_problem()
    check = partial(jaxdnn.gradient_check, *problem, epsilon=1e-3, threshold=1e-300)
    atol = check().leaves[2].atol_numeric
    d = 6
    lo, hi = 0.0, 1.0  # delta with slip_probability(d, 1, delta) = 1/2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slip_probability(d, 1, mid) < 0.5 else (lo, mid)
    e = np.random.default_rng(9).standard_normal((2, 3))
    e = as_jax(e / np.linalg.norm(e) * atol / lo, np.float64)
    wrong = planted((1, "W", lambda g, *_: g + e))
    trials = 100
    for k in (1, 2):
        slips = sum(check(grad_fn=wrong, num_directions=k,
                          directions_key=jax.random.key(100 * k + i))["[1]['W']"]
                    .agrees_with_numeric
                    for i in range(trials))
        p = slip_probability(d, k, lo)
        assert p == pytest.approx(0.5 ** k, rel=1e-9)
        sigma = np.sqrt(trials * p * (1 - p))
        assert abs(slips - trials * p) < 4 * sigma, (k, slips, trials * p)


def test_slip_probability_matches_random_unit_vectors():
    rng = np.random.default_rng(0)
    d, delta = 20, 0.1
    v = rng.standard_normal((200_000, d))
    t = np.abs(v[:, 0]) / np.linalg.norm(v, axis=1)  # |<e, v>| for e = e_0
    assert slip_probability(d, 1, delta) == pytest.approx(np.mean(t <= delta), abs=4e-3)
    assert slip_probability(d, 3, delta) == pytest.approx(slip_probability(d, 1, delta) ** 3)
    assert slip_probability(d, 1, delta) <= delta * np.sqrt(2 * (d - 1) / np.pi)


def cost_with_rule(rule):
    """``jaxdnn.cost`` whose custom VJP is ``rule(activations, (params, X, Y)) -> (dp, dX, dY)``."""

    @partial(jax.custom_vjp, nondiff_argnums=(3,))
    def f(params, X, Y, activations):
        return jaxdnn.cost(params, X, Y, activations)

    def fwd(params, X, Y, activations):
        return jaxdnn.cost(params, X, Y, activations), (params, X, Y)

    def bwd(activations, res, g):
        return jax.tree.map(lambda x: g * x, rule(activations, res))

    f.defvjp(fwd, bwd)
    return f


def _doubled_dX(activations, res):
    dp, dX, dY = jax.grad(jaxdnn.cost, argnums=(0, 1, 2))(*res, activations)
    return dp, 2 * dX, dY


doubled_dX_cost = cost_with_rule(_doubled_dX)


def test_dJ_dX_of_the_manual_vjp_cost_is_checked_and_a_wrong_one_flagged():
    report = input_gradient_check(*COURSE)
    assert report.passed and report.of == "dJ/dX", str(report)
    assert [l.path for l in report.leaves] == ["X"] and report["X"].shape == (4, 3)
    bad = input_gradient_check(*COURSE, cost_fn=doubled_dX_cost)
    assert bad.failed_leaves == ("X",)
    assert bad["X"].worst_manual == pytest.approx(2 * bad["X"].worst_numeric, rel=1e-6)


def test_float32_mode_uses_tolerances_from_its_round_off():
    u = float(jnp.finfo(jnp.float32).eps)
    assert tolerances("float32") == pytest.approx((u ** (1 / 3), 10 * u ** (2 / 3)))
    assert tolerances("float64") == (1e-7, 1e-7)
    report = jaxdnn.gradient_check(*COURSE, dtype="float32")
    assert report.passed and report.dtype == "float32", str(report)
    assert report.epsilon == pytest.approx(u ** (1 / 3))
    assert report.leaves[0].atol_numeric == pytest.approx(
        ROUNDOFF_FACTOR * u * max(report.cost, 1) / u ** (1 / 3), rel=1e-6)
    bad = jaxdnn.gradient_check(*COURSE, dtype="float32", grad_fn=COURSE_BUGS)
    assert set(bad.failed_leaves) == {"[1]['W']", "[0]['b']"}
    # a bug of 1 % on one leaf is still seen in float32
    small = jaxdnn.gradient_check(*COURSE, dtype="float32",
                                  grad_fn=planted((2, "W", lambda g, *_: 1.01 * g)))
    assert small.failed_leaves == ("[2]['W']",)


SMOOTH = (*COURSE[:3], ("tanh", "tanh", "sigmoid"))


def _first_order_only(activations, res):
    """Right gradient, but its rule treats W2 as a constant: d(grad)/dW2 is lost."""
    params, X, Y = res
    params = [params[0], dict(params[1], W=jax.lax.stop_gradient(params[1]["W"])), params[2]]
    return jax.grad(jaxdnn.cost, argnums=(0, 1, 2))(params, X, Y, activations)


first_order_only_cost = cost_with_rule(_first_order_only)


def test_hessian_vector_products_of_the_manual_vjp_and_a_wrong_second_order():
    report = hessian_check(*SMOOTH, num_directions=2)
    assert report.passed and report.of == "Hessian-vector", str(report)
    assert report.manual_vs_autodiff < 1e-13
    # first order right, second order wrong on one leaf: flagged there only
    assert jaxdnn.gradient_check(*SMOOTH, grad_fn=jax.jit(jax.value_and_grad(
        first_order_only_cost), static_argnums=3)).passed
    bad = hessian_check(*SMOOTH, cost_fn=first_order_only_cost, num_directions=2)
    assert bad.failed_leaves == ("[1]['W']",), str(bad)


def test_report_as_json():
    report = jaxdnn.gradient_check(*COURSE, grad_fn=COURSE_BUGS)
    d = json.loads(report.to_json())
    assert d["passed"] is False and d["failed_leaves"] == ["[0]['b']", "[1]['W']"]
    assert [l["path"] for l in d["leaves"]] == W_AND_B
    leaf = d["leaves"][2]
    assert leaf["verdict"] == report["[1]['W']"].verdict == "MISMATCH (autodiff, numeric)"
    assert leaf["manual_vs_numeric"] == report["[1]['W']"].manual_vs_numeric
    assert d["epsilon"] == 1e-7 and d["mode"] == "coordinates"


def test_a_second_check_of_the_same_network_does_not_compile():
    params, X, Y, acts = COURSE
    # another point and other data of the same shapes, made in NumPy (no compiles)
    other = jax.tree.map(lambda x: as_jax(1.1 * np.asarray(x), np.float64), params)
    other_X = as_jax(0.5 * np.asarray(X), np.float64)
    for kw in (dict(), dict(num_directions=2)):
        jaxdnn.gradient_check(params, X, Y, acts, **kw)
        with count_compiles() as compiles:
            report = jaxdnn.gradient_check(other, other_X, Y, acts, epsilon=2e-7, **kw)
        assert report.passed, str(report)
        assert len(compiles) == 0


def test_command_line_runs_every_check_with_every_option(capsys):
    code = main(["--layers", "3,4,3", "--output", "softmax", "--m", "5", "--l2", "0.7",
                 "--keep-prob", "0.8", "--directions", "2", "--dtype", "float32",
                 "--checks", "params,inputs,hessian", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["passed"], out
    assert out["params"]["l2"] == 0.7 and out["params"]["keep_prob"] == 0.8
    assert out["params"]["dtype"] == "float32" and out["params"]["num_directions"] == 2
    assert out["inputs"]["of"] == "dJ/dX" and out["hessian"]["of"] == "Hessian-vector"


def test_command_line_table_batchnorm_and_bad_arguments(capsys):
    assert main(["--layers", "5,4,3,1", "--activations", "relu,tanh,sigmoid", "--m", "6",
                 "--batchnorm"]) == 0
    out = capsys.readouterr().out
    assert "batch norm" in out and "PASSED" in out
    assert all(leaf in out for leaf in ("[1]['gamma']", "[1]['beta']", "[2]['b']"))
    assert "[1]['b']" not in out
    with pytest.raises(SystemExit) as e:  # the same network as above: no new random problem
        main(["--layers", "5,4,3,1", "--activations", "relu,tanh,swish", "--m", "6",
              "--batchnorm"])
    assert e.value.code == 2 and "unknown activation 'swish'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--checks", "params,gradients"])


# ----------------------------------------------------------------------------------------------
# check: any scalar function of any pytree


def layer_norm_loss(p, Y):
    """``||LN(x) - Y||^2 / (2 m)`` with ``LN(x) = g * (x - mean) / sqrt(var + 1e-3) + b``, each
    column (example) normalised over its d features;
    ``p = {"x": (d, m), "g": (d, 1), "b": (d, 1)}``.
    """
    x, g, b = p["x"], p["g"], p["b"]
    mu = jnp.mean(x, axis=0, keepdims=True)
    xhat = (x - mu) / jnp.sqrt(jnp.mean(jnp.square(x - mu), axis=0, keepdims=True) + 1e-3)
    return 0.5 * jnp.sum(jnp.square(g * xhat + b - Y)) / x.shape[1]


def layer_norm_grad(p, Y, *, bug=None):
    """The layer norm's gradient by hand; ``bug="dx"`` drops the ``xhat mean(dxhat xhat)`` term,
    ``bug="jvp"`` gives the right values but hides sigma from forward mode in ``dx``."""
    x, g, b = p["x"], p["g"], p["b"]
    m = x.shape[1]
    mu = jnp.mean(x, axis=0, keepdims=True)
    sigma = jnp.sqrt(jnp.mean(jnp.square(x - mu), axis=0, keepdims=True) + 1e-3)
    xhat = (x - mu) / sigma
    dy = (g * xhat + b - Y) / m
    dxhat = dy * g
    dx = dxhat - jnp.mean(dxhat, axis=0, keepdims=True)
    if bug != "dx":
        dx = dx - xhat * jnp.mean(dxhat * xhat, axis=0, keepdims=True)
    dx = dx / (jax.lax.stop_gradient(sigma) if bug == "jvp" else sigma)
    return {"x": dx, "g": jnp.sum(dy * xhat, axis=1, keepdims=True),
            "b": jnp.sum(dy, axis=1, keepdims=True)}


def layer_norm_problem():
    rng = np.random.default_rng(11)
    p = {"x": as_jax(rng.standard_normal((4, 3)), np.float64),
         "g": as_jax(rng.uniform(0.5, 1.5, (4, 1)), np.float64),
         "b": as_jax(rng.standard_normal((4, 1)), np.float64)}
    return p, (as_jax(rng.standard_normal((4, 3)), np.float64),)


# each compiled once per dtype (eagerly, each operation would compile on its own in each dtype)
LN_GRAD = jax.jit(layer_norm_grad)
LN_BUG = jax.jit(partial(layer_norm_grad, bug="dx"))
LN_JVP_BUG = jax.jit(partial(layer_norm_grad, bug="jvp"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("num_directions", [None, 3], ids=["coordinates", "directions"])
def test_check_passes_a_hand_gradient_and_flags_a_planted_bug_on_its_leaf(dtype, num_directions):
    p, args = layer_norm_problem()
    kw = dict(args=args, num_directions=num_directions, dtype=dtype)
    good = check(layer_norm_loss, p, grad_fn=LN_GRAD, **kw)
    assert good.passed and good.of == "gradient" and good.dtype == dtype, str(good)
    assert [l.path for l in good.leaves] == ["['b']", "['g']", "['x']"]
    assert good.kink_leaves == ()
    bad = check(layer_norm_loss, p, grad_fn=LN_BUG, **kw)
    assert bad.failed_leaves == ("['x']",), str(bad)
    assert not bad["['x']"].agrees_with_numeric and not bad["['x']"].agrees_with_autodiff
    # without grad_fn, jax.grad itself is checked against the finite differences
    assert check(layer_norm_loss, p, **kw).passed


def test_check_agrees_with_gradient_check_on_a_network():
    """gradient_check is check of jaxdnn.cost: the same per-leaf figures."""
    params, X, Y, acts = COURSE
    via_check = check(lambda p, X, Y: jaxdnn.cost(p, X, Y, acts), params, args=(X, Y),
                      grad_fn=lambda p, X, Y: manual_value_and_grad(p, X, Y, acts)[1])
    report = jaxdnn.gradient_check(*COURSE)
    for a, b in zip(via_check.leaves, report.leaves):
        assert a.path == b.path and a.manual_vs_numeric == pytest.approx(b.manual_vs_numeric,
                                                                          rel=1e-6, abs=1e-15)


def relu_loss(p):
    return jnp.sum(jax.nn.relu(p["w"]) * jnp.arange(1.0, 4.0)) + jnp.sum(jnp.tanh(p["v"]))


def test_a_relu_entry_within_epsilon_of_zero_is_a_kink_not_a_mismatch():
    p = {"w": as_jax([3e-8, 0.5, -0.3], np.float64), "v": as_jax([0.2, -1.0], np.float64)}
    report = check(relu_loss, p)
    assert report.passed, str(report)
    assert report["['w']"].kinks == ((0,),) and report["['v']"].kinks == ()
    assert "kink: ['w'] at [0]" in str(report)
    # there the centred difference (3e-8 + 1e-7) / 2e-7 = 0.65 is not relu'(3e-8) = 1
    n = numeric_grad(relu_loss, p)
    assert float(n["w"][0]) == pytest.approx(0.65, rel=1e-6)


def kinks_at(deltas):
    """``sum_i relu(theta_i - delta_i) + tanh(theta_i)^2`` at theta = 0: entry i has a kink at
    distance delta_i, and curvature everywhere."""
    return lambda t: jnp.sum(jax.nn.relu(t - deltas) + jnp.square(jnp.tanh(t + 0.3)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_kink_at_any_distance_within_the_step_is_flagged_or_harmless(dtype):
    eps = tolerances(dtype).epsilon
    deltas = np.concatenate([np.linspace(-1.9, 1.9, 39), [0.0]]) * eps  # in units of the step
    theta = as_jax(np.zeros(deltas.size), dtype)
    report = check(kinks_at(as_jax(deltas, dtype)), theta, dtype=dtype)
    leaf = report.leaves[0]
    assert report.passed, str(report)
    # every entry left in the comparison is within the finite differences' round-off
    assert leaf.max_abs_vs_numeric <= leaf.atol_numeric
    flagged = {i for (i,) in leaf.kinks}
    assert flagged <= set(np.flatnonzero(np.abs(deltas) < 2 * eps))  # only kinks in the stencil
    assert {int(np.argmin(np.abs(deltas)))} <= flagged  # the kink at theta itself


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_smooth_function_with_large_curvature_has_no_kinks(dtype):
    x = as_jax(np.linspace(-1.0, 1.0, 12).reshape(3, 4), dtype)
    report = check(lambda p: jnp.sum(jnp.exp(3 * p["a"]) + p["a"] ** 4) + jnp.sum(
        jnp.cosh(2 * p["a"] * p["c"])), {"a": x, "c": x[:1]}, dtype=dtype)
    assert report.passed and report.kink_leaves == (), str(report)


def test_the_overall_figure_leaves_kinks_out():
    report = jaxdnn.gradient_check(*kinked_course_network())
    assert report.passed and report.kink_leaves, str(report)
    assert report.manual_vs_numeric < report.threshold  # it read 8.5e-4 with the kinks in


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_second_order_checks_forward_mode_products_of_grad_fn(dtype):
    p, args = layer_norm_problem()
    kw = dict(args=args, order=2, num_directions=2, dtype=dtype)
    good = check(layer_norm_loss, p, grad_fn=LN_GRAD, **kw)
    assert good.passed and good.of == "Hessian-vector", str(good)
    assert good["['x']"].shape == (4, 3) and good.num_directions == 2
    # right values, wrong derivative: invisible to the first-order check, flagged on its leaf
    assert check(layer_norm_loss, p, grad_fn=LN_JVP_BUG, args=args, dtype=dtype).passed
    bad = check(layer_norm_loss, p, grad_fn=LN_JVP_BUG, **kw)
    assert bad.failed_leaves == ("['x']",), str(bad)


@pytest.mark.parametrize("kw,error,match", [
    (dict(f=3), TypeError, "f must be a function"),
    (dict(grad_fn="g"), TypeError, "grad_fn must be a function"),
    (dict(order=3), ValueError, "order must be 1"),
    (dict(args=[1.0]), TypeError, "args must be a tuple"),
    (dict(params={}), ValueError, "at least one array"),
    (dict(params={"w": np.arange(3)}), TypeError, r"params\['w'\] must be floating"),
    (dict(f=lambda p: p["w"]), ValueError, "f must return a floating scalar"),
    (dict(grad_fn=lambda p: {"w": p["w"][:2]}), ValueError, r"grads of grad_fn\['w'\]"),
    (dict(dtype="float16"), ValueError, "dtype must be"),
])
def test_check_rejects_bad_arguments(kw, error, match):
    args = dict(f=lambda p: jnp.sum(p["w"] ** 2), params={"w": as_jax([1.0, 2.0, 3.0],
                                                                     np.float64)}) | kw
    with pytest.raises(error, match=match):
        check(args.pop("f"), args.pop("params"), **args)
