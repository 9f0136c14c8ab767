"""Each hand-written derivative equals jax.grad of its activation, kinks included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdnn import activations as act

from .conftest import as_jax

NAMES = sorted(act.HIDDEN)  # the elementwise ones; softmax has its own tests


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype,rtol", [(jnp.float32, 1e-6), (jnp.float64, 1e-14)])
def test_derivative_matches_autodiff(name, dtype, rtol, mode):
    z = as_jax(np.concatenate([np.linspace(-8, 8, 101), np.zeros(1)]), dtype)
    g, dg = act.activation(name), act.derivative(name)
    if mode == "jit":
        g, dg = jax.jit(g), jax.jit(dg)
    expected = jax.vmap(jax.grad(g))(z)
    np.testing.assert_allclose(dg(z), expected, rtol=rtol, atol=rtol,
                               err_msg=f"{name} (rtol={rtol})")


@pytest.mark.parametrize("name,expected", [("relu", 0.0), ("leaky_relu", act.LEAKY_SLOPE)])
def test_derivative_at_the_kink_is_the_documented_one_and_equals_jax_grad(name, expected):
    zero = jnp.zeros((), jnp.float64)
    assert float(act.derivative(name)(zero)) == expected
    assert float(jax.grad(act.activation(name))(zero)) == expected


@pytest.mark.parametrize("name,reference", [
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("relu", lambda z: np.maximum(z, 0)),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
    ("linear", lambda z: z),
])
def test_activation_values_match_numpy(name, reference):
    z = np.linspace(-5, 5, 41)
    np.testing.assert_allclose(act.activation(name)(jnp.asarray(z)), reference(z), rtol=1e-14)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'gelu'.*expected one of"):
        act.activation("gelu")


@pytest.mark.parametrize("dtype,rtol", [(jnp.float32, 1e-6), (jnp.float64, 1e-14)])
def test_softmax_backward_is_the_vjp_of_softmax(dtype, rtol, mode):
    rng = np.random.default_rng(0)  # NumPy draws: no eager compiles
    Z = as_jax(4 * rng.standard_normal((5, 7)), dtype)  # 5 classes, 7 examples
    dA = as_jax(rng.standard_normal((5, 7)), dtype)
    backward = act.activation_backward("softmax")
    if mode == "jit":
        backward = jax.jit(backward)
    _, vjp = jax.vjp(lambda z: jax.nn.softmax(z, axis=0), Z)
    np.testing.assert_allclose(backward(dA, Z), vjp(dA)[0], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(jnp.sum(act.softmax(Z), axis=0), np.ones(7), rtol=rtol)


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(ValueError, match="'softmax' is not elementwise.*activation_backward"):
        act.derivative("softmax")
