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
    course = -np.sum(Y_np * np.log(A) + (1 - Y_np) * np.log(1 - A)) / 7  # sum outputs, mean examples
    optax_J = jnp.sum(optax.losses.sigmoid_binary_cross_entropy(caches[-1]["Z"], Y)) / 7
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
