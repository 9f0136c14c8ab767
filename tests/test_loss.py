"""BCE from logits: equal to optax and to the course's formula, finite at extreme logits."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn

from .conftest import maybe_jit


@pytest.mark.parametrize("dtype,rtol", [(jnp.float32, 1e-6), (jnp.float64, 1e-14)])
def test_elementwise_bce_equals_optax(dtype, rtol, mode):
    Z = jnp.asarray(np.linspace(-30, 30, 121).reshape(1, -1), dtype)
    Y = jnp.asarray((np.arange(121) % 3 == 0).reshape(1, -1) * 1.0, dtype)
    f = jaxdnn.bce_from_logits if mode == "eager" else jax.jit(jaxdnn.bce_from_logits)
    np.testing.assert_allclose(f(Z, Y), optax.losses.sigmoid_binary_cross_entropy(Z, Y),
                               rtol=rtol, atol=rtol)


def test_cost_equals_the_course_formula_and_optax():
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    params = jaxdnn.init_params(k1, [4, 5, 2], "xavier", jnp.float64)
    X = jax.random.normal(k2, (4, 7), jnp.float64)
    Y = jax.random.bernoulli(k3, 0.5, (2, 7)).astype(jnp.float64)
    acts = ("tanh", "sigmoid")
    A, caches = jaxdnn.forward(params, X, acts)
    A, Y_np = np.asarray(A), np.asarray(Y)
    # sum outputs, mean examples
    course = -np.sum(Y_np * np.log(A) + (1 - Y_np) * np.log(1 - A)) / 7
    optax_J = jnp.sum(optax.losses.sigmoid_binary_cross_entropy(caches[-1].Z, Y)) / 7
    J = jaxdnn.cost(params, X, Y, acts)
    assert float(J) == pytest.approx(course, rel=1e-13)
    assert float(J) == pytest.approx(float(optax_J), rel=1e-14)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_cost_and_gradient_are_finite_at_logits_of_1e4(dtype, mode):
    params = [{"W": jnp.asarray([[1e4]], dtype), "b": jnp.zeros((1, 1), dtype)}]
    X = jnp.asarray([[1.0, -1.0, 1.0, -1.0]], dtype)  # logits +1e4, -1e4, +1e4, -1e4
    Y = jnp.asarray([[1.0, 0.0, 0.0, 1.0]], dtype)  # two right, two confidently wrong
    acts = ("sigmoid",)
    J = maybe_jit(jaxdnn.cost, mode)(params, X, Y, acts)
    assert np.isfinite(float(J)) and float(J) == pytest.approx(2 * 1e4 / 4, rel=1e-6)
    for vg in (jaxdnn.manual_value_and_grad, jaxdnn.autodiff_value_and_grad):
        Jv, g = maybe_jit(vg, mode)(params, X, Y, acts)
        assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(g))
        # dJ/dW = sum((sigmoid(z) - y) x) / m = ((1-1)*1 + (0-0)*-1 + (1-0)*1 + (0-1)*-1) / 4 = 0.5
        assert float(g[0]["W"][0, 0]) == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("dtype,rtol", [(jnp.float32, 1e-6), (jnp.float64, 1e-14)])
def test_softmax_cost_equals_optax(dtype, rtol, mode):
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    params = jaxdnn.init_params(k1, [4, 6, 5], "xavier", dtype)
    X = jax.random.normal(k2, (4, 9), dtype)
    Y = jaxdnn.one_hot(jax.random.randint(k3, (9,), 0, 5), 5, dtype)
    acts = ("relu", "softmax")
    ZL = jaxdnn.forward(params, X, acts)[1][-1].Z
    expected = jnp.mean(optax.softmax_cross_entropy(ZL.T, Y.T))  # optax: examples in rows
    J = maybe_jit(jaxdnn.cost, mode)(params, X, Y, acts)
    assert J.dtype == dtype and float(J) == pytest.approx(float(expected), rel=rtol)


def test_squared_error_cost_is_half_the_mean_squared_norm():
    params = jaxdnn.init_params(jax.random.key(2), [3, 4, 2], "xavier", jnp.float64)
    X = jax.random.normal(jax.random.key(3), (3, 5), jnp.float64)
    Y = jax.random.normal(jax.random.key(4), (2, 5), jnp.float64)
    AL = np.asarray(jaxdnn.forward(params, X, ("tanh", "linear"))[0])
    expected = np.sum((AL - np.asarray(Y)) ** 2) / (2 * 5)  # J = 1/(2m) sum ||A_L - Y||^2
    assert float(jaxdnn.cost(params, X, Y, ("tanh", "linear"))) == pytest.approx(expected,
                                                                                 rel=1e-14)


def test_softmax_cost_and_gradient_are_finite_at_logits_of_1e4_in_float32(mode):
    # one input feature; logits z = W x with W = (1e4, -1e4, 0): columns x = +1 and x = -1
    params = [{"W": jnp.asarray([[1e4], [-1e4], [0.0]], jnp.float32),
               "b": jnp.zeros((3, 1), jnp.float32)}]
    X = jnp.asarray([[1.0, -1.0, 1.0, -1.0]], jnp.float32)
    # two right, two confidently wrong
    Y = jaxdnn.one_hot(jnp.asarray([0, 1, 1, 0]), 3, jnp.float32)
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
