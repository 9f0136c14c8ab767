"""BCE from logits: equal to optax and to the course's formula, finite at extreme logits.

Eagerly every operation compiles on its own for each new shape and dtype, so each comparison runs
eagerly in one dtype and under jit in both (float64 eagerly where a tight tolerance is asserted,
float32 eagerly where the extreme logits are: it is the dtype that overflows first), and the
network tests share one network's shapes, [4, 5, 3] with m = 7.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn

from .conftest import as_jax, maybe_jit, random_params

# (mode, dtype, rtol): eagerly in float64, under jit in both dtypes (the reference too)
TIGHT = [("eager", jnp.float64, 1e-14), ("jit", jnp.float64, 1e-14), ("jit", jnp.float32, 1e-6)]


@pytest.mark.parametrize("mode,dtype,rtol", TIGHT)
def test_elementwise_bce_equals_optax(dtype, rtol, mode):
    Z = as_jax(np.linspace(-30, 30, 121).reshape(1, -1), dtype)
    Y = as_jax((np.arange(121) % 3 == 0).reshape(1, -1) * 1.0, dtype)
    f = maybe_jit(jaxdnn.bce_from_logits, mode, static_argnames=())
    ref = maybe_jit(optax.losses.sigmoid_binary_cross_entropy, mode, static_argnames=())
    np.testing.assert_allclose(f(Z, Y), ref(Z, Y), rtol=rtol, atol=rtol)


def test_cost_equals_the_course_formula_and_optax():
    rng = np.random.default_rng(0)  # NumPy draws: no eager compiles per shape
    params = random_params(rng, [4, 5, 3], jnp.float64, "xavier")
    X = as_jax(rng.standard_normal((4, 7)), jnp.float64)
    Y = as_jax(rng.integers(0, 2, (3, 7)), jnp.float64)
    acts = ("tanh", "sigmoid")
    A, caches = jaxdnn.forward(params, X, acts)
    A, Y_np = np.asarray(A), np.asarray(Y)
    # sum outputs, mean examples
    course = -np.sum(Y_np * np.log(A) + (1 - Y_np) * np.log(1 - A)) / 7
    optax_J = jnp.sum(optax.losses.sigmoid_binary_cross_entropy(caches[-1].Z, Y)) / 7
    J = jaxdnn.cost(params, X, Y, acts)
    assert float(J) == pytest.approx(course, rel=1e-13)
    assert float(J) == pytest.approx(float(optax_J), rel=1e-14)


@pytest.mark.parametrize("mode,dtype", [("eager", jnp.float32), ("jit", jnp.float32),
                                        ("jit", jnp.float64)])
def test_cost_and_gradient_are_finite_at_logits_of_1e4(dtype, mode):
    params = [{"W": as_jax([[1e4]], dtype), "b": as_jax(np.zeros((1, 1)), dtype)}]
    X = as_jax([[1.0, -1.0, 1.0, -1.0]], dtype)  # logits +1e4, -1e4, +1e4, -1e4
    Y = as_jax([[1.0, 0.0, 0.0, 1.0]], dtype)  # two right, two confidently wrong
    acts = ("sigmoid",)
    J = maybe_jit(jaxdnn.cost, mode)(params, X, Y, acts)
    assert np.isfinite(float(J)) and float(J) == pytest.approx(2 * 1e4 / 4, rel=1e-6)
    for vg in (jaxdnn.manual_value_and_grad, jaxdnn.autodiff_value_and_grad):
        Jv, g = maybe_jit(vg, mode)(params, X, Y, acts)
        assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(g))
        # dJ/dW = sum((sigmoid(z) - y) x) / m = ((1-1)*1 + (0-0)*-1 + (1-0)*1 + (0-1)*-1) / 4 = 0.5
        assert float(g[0]["W"][0, 0]) == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("mode,dtype,rtol", TIGHT)
def test_softmax_cost_equals_optax(dtype, rtol, mode):
    rng = np.random.default_rng(1)
    params = random_params(rng, [4, 5, 3], dtype, "xavier")
    X = as_jax(rng.standard_normal((4, 7)), dtype)
    Y = as_jax(np.eye(3)[:, rng.integers(0, 3, 7)], dtype)  # one-hot columns
    acts = ("relu", "softmax")
    ZL = maybe_jit(jaxdnn.forward, mode)(params, X, acts)[1][-1].Z
    optax_cost = lambda Z, Y: jnp.mean(optax.softmax_cross_entropy(Z.T, Y.T))  # examples in rows
    expected = maybe_jit(optax_cost, mode, static_argnames=())(ZL, Y)
    J = maybe_jit(jaxdnn.cost, mode)(params, X, Y, acts)
    assert J.dtype == dtype and float(J) == pytest.approx(float(expected), rel=rtol)


def test_squared_error_cost_is_half_the_mean_squared_norm():
    rng = np.random.default_rng(2)
    params = random_params(rng, [4, 5, 3], jnp.float64, "xavier")
    X = as_jax(rng.standard_normal((4, 7)), jnp.float64)
    Y = as_jax(rng.standard_normal((3, 7)), jnp.float64)
    AL = np.asarray(jaxdnn.forward(params, X, ("tanh", "linear"))[0])
    expected = np.sum((AL - np.asarray(Y)) ** 2) / (2 * 7)  # J = 1/(2m) sum ||A_L - Y||^2
    assert float(jaxdnn.cost(params, X, Y, ("tanh", "linear"))) == pytest.approx(expected,
                                                                                 rel=1e-14)


def test_softmax_cost_and_gradient_are_finite_at_logits_of_1e4_in_float32(mode):
    # one input feature; logits z = W x with W = (1e4, -1e4, 0): columns x = +1 and x = -1
    params = [{"W": as_jax([[1e4], [-1e4], [0.0]], jnp.float32),
               "b": as_jax(np.zeros((3, 1)), jnp.float32)}]
    X = as_jax([[1.0, -1.0, 1.0, -1.0]], jnp.float32)
    # two right, two confidently wrong
    Y = as_jax(np.eye(3)[:, [0, 1, 1, 0]], jnp.float32)  # one-hot columns
    acts = ("softmax",)
    J = maybe_jit(jaxdnn.cost, mode)(params, X, Y, acts)
    # each wrong example: logsumexp(z) - z_y = 1e4 - (-1e4) = 2e4; the right ones lose ~0
    assert np.isfinite(float(J)) and float(J) == pytest.approx(2 * 2e4 / 4, rel=1e-6)
    for vg in (jaxdnn.manual_value_and_grad, jaxdnn.autodiff_value_and_grad):
        _, g = maybe_jit(vg, mode)(params, X, Y, acts)
        assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(g))
        # dJ/dW = (A - Y) x^T / m; A is one-hot at the argmax: (e0-e0)*1 + (e1-e1)... by column:
        # x=+1: A=e0, Y=e0 -> 0; x=-1: A=e1, Y=e1 -> 0; x=+1: A=e0, Y=e1 -> (1,-1,0);
        # x=-1: A=e1, Y=e0 -> (-1,1,0)*(-1) = (1,-1,0); sum (2,-2,0) / 4
        np.testing.assert_allclose(g[0]["W"][:, 0], [0.5, -0.5, 0.0], atol=1e-6)


def test_every_output_has_a_rule_whose_derivatives_are_those_of_its_loss():
    """Each OUTPUT_RULES row against jax.grad of its own loss: dZ = d total / dZ_L and
    dY = d total / dY, and total is the sum of the per-example losses (float64, one program)."""
    from jaxdnn.loss import OUTPUT_RULES

    assert set(OUTPUT_RULES) == set(jaxdnn.OUTPUTS)
    rng = np.random.default_rng(3)
    Z = as_jax(3 * rng.standard_normal((4, 9)), jnp.float64)
    labels = {"sigmoid": rng.integers(0, 2, (4, 9)), "linear": 2 * rng.standard_normal((4, 9)),
              "softmax": np.eye(4)[:, rng.integers(0, 4, 9)]}  # one-hot columns: dZ = A - Y

    @jax.jit
    def check(Z, Ys):
        out = {}
        for name, rule in OUTPUT_RULES.items():
            Y = Ys[name]
            dZ, dY = jax.grad(rule.total, argnums=(0, 1))(Z, Y)
            out[name] = (rule.dZ(Z, Y), dZ, rule.dY(Z, Y), dY, rule.total(Z, Y),
                         jnp.sum(rule.loss(Z, Y)))
        return out

    got = check(Z, {k: as_jax(v, jnp.float64) for k, v in labels.items()})
    for name, (dZ, dZ_ref, dY, dY_ref, total, summed) in got.items():
        np.testing.assert_allclose(dZ, dZ_ref, rtol=1e-12, atol=1e-14, err_msg=f"{name} dZ")
        np.testing.assert_allclose(dY, dY_ref, rtol=1e-12, atol=1e-14, err_msg=f"{name} dY")
        np.testing.assert_allclose(total, summed, rtol=1e-14, err_msg=f"{name} total")
