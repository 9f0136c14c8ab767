"""Bad input raises a clear ValueError/TypeError naming what was expected and what came."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn

ACTS = ("relu", "sigmoid")


def good():
    params = jaxdnn.init_params(jax.random.key(0), [3, 4, 1], "he", jnp.float64)
    X = jnp.asarray(np.random.RandomState(0).randn(3, 5))
    Y = jnp.asarray([[0.0, 1.0, 1.0, 0.0, 1.0]])
    return params, X, Y


ENTRY_POINTS = {
    "cost": lambda p, x, y, a: jaxdnn.cost(p, x, y, a),
    "manual_value_and_grad": lambda p, x, y, a: jaxdnn.manual_value_and_grad(p, x, y, a),
    "autodiff_value_and_grad": lambda p, x, y, a: jaxdnn.autodiff_value_and_grad(p, x, y, a),
    "cost_with_manual_vjp": lambda p, x, y, a: jaxdnn.cost_with_manual_vjp(p, x, y, a),
    "accuracy": lambda p, x, y, a: jaxdnn.accuracy(p, x, y, a),
    "gradient_check": lambda p, x, y, a: jaxdnn.gradient_check(p, x, y, a),
}


def bad_cases():
    p, X, Y = good()
    p_mis = [dict(p[0]), dict(p[1])]
    p_mis[1]["W"] = jnp.zeros((1, 7), jnp.float64)
    p_mixed = [dict(p[0]), dict(p[1])]
    p_mixed[1]["b"] = p_mixed[1]["b"].astype(jnp.float32)
    return {
        "X rows do not match W1": (p, X[:2], Y, ACTS, ValueError, r"X must have shape \(3, m\).*got \(2, 5\)"),
        "X with examples in rows": (p, X.T, Y[:, :3], ACTS, ValueError, r"got \(5, 3\).*use X.T"),
        "X 1-D": (p, X[0], Y, ACTS, ValueError, r"X must be 2-D.*got shape \(5,\)"),
        "X empty": (p, X[:, :0], Y[:, :0], ACTS, ValueError, r"X has no examples"),
        "integer X": (p, X.astype(jnp.int32), Y, ACTS, TypeError, r"X must be a floating array.*got int32"),
        "X dtype differs from params": (p, X.astype(jnp.float32), Y, ACTS, TypeError,
                                        r"X has dtype float32 but the params are float64"),
        "NaN in X": (p, X.at[1, 2].set(jnp.nan), Y, ACTS, ValueError, r"X contains 1 NaN or Inf"),
        "Inf in X": (p, X.at[0, 0].set(jnp.inf), Y, ACTS, ValueError, r"X contains 1 NaN or Inf"),
        "X a list": (p, X.tolist(), Y, ACTS, TypeError, r"X must be an array.*got list"),
        "Y of shape (m,)": (p, X, Y[0], ACTS, ValueError,
                            r"Y must have shape \(1, 5\) \(n_L, m\), got \(5,\); reshape"),
        "Y of shape (m, 1)": (p, X, Y.T, ACTS, ValueError, r"Y must have shape \(1, 5\).*got \(5, 1\)"),
        "label 2": (p, X, Y.at[0, 1].set(2.0), ACTS, ValueError, r"labels in Y must lie in \[0, 1\].*to 2"),
        "label -1": (p, X, Y.at[0, 1].set(-1.0), ACTS, ValueError, r"\[0, 1\], got values from -1"),
        "NaN label": (p, X, Y.at[0, 1].set(jnp.nan), ACTS, ValueError, r"Y contains NaN"),
        "unknown activation": (p, X, Y, ("swish", "sigmoid"), ValueError,
                               r"unknown activation 'swish' for layer 1; expected one of"),
        "too few activations": (p, X, Y, ("sigmoid",), ValueError, r"got 1 activations.*for 2 layers"),
        "too many activations": (p, X, Y, ("relu", "relu", "sigmoid"), ValueError,
                                 r"got 3 activations.*for 2 layers"),
        "activations a string": (p, X, Y, "relu,sigmoid", TypeError, r"activations must be a tuple"),
        "non-sigmoid output": (p, X, Y, ("relu", "tanh"), ValueError, r"output layer must be 'sigmoid'"),
        "W shapes do not chain": (p_mis, X, Y, ACTS, ValueError,
                                  r"params\[1\]\['W'\] has shape \(1, 7\): expected \(1, 4\)"),
        "mixed param dtypes": (p_mixed, X, Y, ACTS, TypeError, r"all params must share one dtype"),
        "params a dict": ({"W1": p[0]["W"]}, X, Y, ACTS, TypeError, r"params must be a non-empty list"),
        "params with dW keys": ([{"dW": p[0]["W"], "b": p[0]["b"]}], X, Y, ACTS, TypeError,
                                r"params\[0\] must be a dict with keys 'W' and 'b'"),
    }


CASES = bad_cases()


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_clear_error(case, entry):
    p, X, Y, acts, error, match = CASES[case]
    if entry == "accuracy" and "sigmoid" in case:
        pass  # accuracy also requires a sigmoid output: same error
    with pytest.raises(error, match=match):
        ENTRY_POINTS[entry](p, X, Y, acts)


@pytest.mark.parametrize("case", ["X rows do not match W1", "integer X", "NaN in X", "X a list",
                                  "unknown activation", "W shapes do not chain"])
def test_forward_and_predict_check_their_inputs_too(case):
    p, X, _, acts, error, match = CASES[case]
    for fn in (jaxdnn.forward, jaxdnn.predict):
        with pytest.raises(error, match=match):
            fn(p, X, acts)


def test_never_a_silently_broadcast_m_by_m_matrix():
    """The classic bug: Y (m,) against A (1, m) broadcasts to (m, m). It must be an error instead."""
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
    with pytest.raises(ValueError, match=r"grads\[0\]\['W'\] has shape \(3, 4\), expected \(4, 3\)"):
        jaxdnn.gd_update(p, [{"W": p[0]["W"].T, "b": p[0]["b"]}, p[1]], 0.1)
