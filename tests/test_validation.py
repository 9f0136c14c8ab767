"""Bad input raises a clear ValueError/TypeError naming what was expected and what came."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn import checks

from .conftest import he_params

ACTS = ("relu", "sigmoid")


def good():
    params = he_params([3, 4, 1], seed=0)
    X = jnp.asarray(np.random.RandomState(0).randn(3, 5))
    Y = jnp.asarray([[0.0, 1.0, 1.0, 0.0, 1.0]])
    return params, X, Y


def bad_cases():
    p, X, Y = good()
    p_mis = [dict(p[0]), dict(p[1])]
    p_mis[1]["W"] = jnp.zeros((1, 7), jnp.float64)
    p_mixed = [dict(p[0]), dict(p[1])]
    p_mixed[1]["b"] = p_mixed[1]["b"].astype(jnp.float32)
    return {
        "X rows do not match W1": (p, X[:2], Y, ACTS, ValueError,
                                   r"X must have shape \(3, m\).*got \(2, 5\)"),
        "X with examples in rows": (p, X.T, Y[:, :3], ACTS, ValueError, r"got \(5, 3\).*use X.T"),
        "X 1-D": (p, X[0], Y, ACTS, ValueError, r"X must be 2-D.*got shape \(5,\)"),
        "X empty": (p, X[:, :0], Y[:, :0], ACTS, ValueError, r"X has no examples"),
        "integer X": (p, X.astype(jnp.int32), Y, ACTS, TypeError,
                      r"X must be a floating array.*got int32"),
        "X dtype differs from params": (p, X.astype(jnp.float32), Y, ACTS, TypeError,
                                        r"X has dtype float32 but the params are float64"),
        "NaN in X": (p, X.at[1, 2].set(jnp.nan), Y, ACTS, ValueError, r"X contains 1 NaN or Inf"),
        "Inf in X": (p, X.at[0, 0].set(jnp.inf), Y, ACTS, ValueError, r"X contains 1 NaN or Inf"),
        "X a list": (p, X.tolist(), Y, ACTS, TypeError, r"X must be an array.*got list"),
        "Y of shape (m,)": (p, X, Y[0], ACTS, ValueError,
                            r"Y must have shape \(1, 5\) \(n_L, m\), got \(5,\); reshape"),
        "Y of shape (m, 1)": (p, X, Y.T, ACTS, ValueError,
                              r"Y must have shape \(1, 5\).*got \(5, 1\)"),
        "label 2": (p, X, Y.at[0, 1].set(2.0), ACTS, ValueError,
                    r"labels in Y must lie in \[0, 1\].*to 2"),
        "label -1": (p, X, Y.at[0, 1].set(-1.0), ACTS, ValueError, r"\[0, 1\], got values from -1"),
        "NaN label": (p, X, Y.at[0, 1].set(jnp.nan), ACTS, ValueError, r"Y contains NaN"),
        "unknown activation": (p, X, Y, ("swish", "sigmoid"), ValueError,
                               r"unknown activation 'swish' for layer 1; expected one of"),
        "too few activations": (p, X, Y, ("sigmoid",), ValueError,
                                r"got 1 activations.*for 2 layers"),
        "too many activations": (p, X, Y, ("relu", "relu", "sigmoid"), ValueError,
                                 r"got 3 activations.*for 2 layers"),
        "activations a string": (p, X, Y, "relu,sigmoid", TypeError,
                                 r"activations must be a tuple"),
        "non-sigmoid output": (p, X, Y, ("relu", "tanh"), ValueError,
                               r"output layer's activation names the cost and must be one of "
                               r"\['sigmoid', 'softmax', 'linear'\].*got 'tanh'"),
        "W shapes do not chain": (p_mis, X, Y, ACTS, ValueError,
                                  r"params\[1\]\['W'\] has shape \(1, 7\): expected \(1, 4\)"),
        "mixed param dtypes": (p_mixed, X, Y, ACTS, TypeError, r"all params must share one dtype"),
        "params a dict": ({"W1": p[0]["W"]}, X, Y, ACTS, TypeError,
                          r"params must be a non-empty list"),
        "params with dW keys": ([{"dW": p[0]["W"], "b": p[0]["b"]}], X, Y, ACTS, TypeError,
                                r"params\[0\] must be a dict with keys 'W' and 'b'"),
    }


CASES = bad_cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_problem_check_rejects_bad_input_naming_expected_and_got(case):
    p, X, Y, acts, error, match = CASES[case]
    with pytest.raises(error, match=match):
        checks.check_problem(p, X, Y, acts)


# Every public entry point runs its check at the boundary: one representative case each (the cases
# above are the check's own specification).
PROBLEM_ENTRY_POINTS = {
    "cost": jaxdnn.cost,
    "manual_value_and_grad": jaxdnn.manual_value_and_grad,
    "autodiff_value_and_grad": jaxdnn.autodiff_value_and_grad,
    "cost_with_manual_vjp": jaxdnn.cost_with_manual_vjp,
    "accuracy": jaxdnn.accuracy,
    "gradient_check": jaxdnn.gradient_check,
    "fit": lambda p, x, y, a: jaxdnn.fit(p, x, y, a, num_iterations=1),
}


@pytest.mark.parametrize("entry", sorted(PROBLEM_ENTRY_POINTS))
@pytest.mark.parametrize("case", ["Y of shape (m,)", "NaN in X", "non-sigmoid output"])
def test_every_problem_entry_point_checks_at_entry(entry, case):
    p, X, Y, acts, error, match = CASES[case]
    with pytest.raises(error, match=match):
        PROBLEM_ENTRY_POINTS[entry](p, X, Y, acts)


@pytest.mark.parametrize("case", ["X rows do not match W1", "integer X", "NaN in X", "X a list",
                                  "unknown activation", "W shapes do not chain"])
def test_forward_and_predict_check_their_inputs_too(case):
    p, X, _, acts, error, match = CASES[case]
    for fn in (jaxdnn.forward, jaxdnn.predict):
        with pytest.raises(error, match=match):
            fn(p, X, acts)


def test_never_a_silently_broadcast_m_by_m_matrix():
    """The classic bug: Y (m,) against A (1, m) broadcasts to (m, m). It must be an error
    instead."""
    p, X, Y = good()
    with pytest.raises(ValueError, match=r"\(1, 5\)"):
        jaxdnn.cost(p, X, np.asarray(Y[0]), ACTS)


def test_shape_checks_also_apply_under_jit():
    p, X, Y = good()
    f = jax.jit(jaxdnn.cost, static_argnames="activations")
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 5\)"):
        f(p, X, Y[0], activations=ACTS)


@pytest.mark.parametrize("kw,error,match", [
    (dict(l2=-1.0), ValueError, r"l2 must be a finite number >= 0, got -1.0"),
    (dict(l2=float("nan")), ValueError, r"l2 must be a finite number >= 0, got nan"),
    (dict(keep_prob=0.0), ValueError, r"keep_prob must lie in \(0, 1\]"),
    (dict(keep_prob=1.5), ValueError, r"keep_prob must lie in \(0, 1\]"),
    (dict(keep_prob=0.5), ValueError, r"needs a PRNG key"),
])
def test_bad_regularisation_arguments(kw, error, match):
    p, X, Y = good()
    with pytest.raises(error, match=match):
        jaxdnn.cost(p, X, Y, ACTS, **kw)


def test_gd_update_rejects_mismatched_grads():
    p, _, _ = good()
    with pytest.raises(ValueError,
                       match=r"grads\[0\]\['W'\] has shape \(3, 4\), expected \(4, 3\)"):
        jaxdnn.gd_update(p, [{"W": p[0]["W"].T, "b": p[0]["b"]}, p[1]], 0.1)


# ---------------------------------------------------------------------------------------------
# the softmax and linear outputs, the building blocks and the manual pass from dA_L


def softmax_problem():
    params = he_params([3, 4, 3], seed=1)
    X = jnp.asarray(np.random.RandomState(1).randn(3, 5))
    Y = jaxdnn.one_hot(jnp.asarray([0, 2, 1, 1, 0]), 3, jnp.float64)
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
        checks.check_problem(p, X, change(Y), acts)


def test_regression_targets_may_be_any_real_numbers():
    p, X, Y, _ = softmax_problem()
    checks.check_problem(p, X, 10 * Y - 3.5, ("relu", "linear"))


def test_a_one_unit_softmax_is_an_error_that_points_to_sigmoid():
    p, X, _ = good()
    with pytest.raises(ValueError, match=r"softmax output needs n_L >= 2.*use 'sigmoid'"):
        checks.check_problem(p, X, jnp.ones((1, 5)), ("relu", "softmax"))


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
