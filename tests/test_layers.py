"""The layer building blocks against jax.vjp, and the manual pass from losses jaxdnn does not
know."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn.activations import ACTIVATIONS

from .conftest import as_jax, assert_trees_close, maybe_jit, random_params

TOL = 1e-10  # float64, every block


@partial(jax.jit, static_argnums=(1, 2, 3))  # one compile a shape; eager draws compile every op
def _draw_layer(key, n_prev, n, m):
    k_a, k_w, k_b, k_d = jax.random.split(key, 4)
    A_prev = jax.random.normal(k_a, (n_prev, m), jnp.float64)
    W = jax.random.normal(k_w, (n, n_prev), jnp.float64)
    b = jax.random.normal(k_b, (n, 1), jnp.float64)
    upstream = jax.random.normal(k_d, (n, m), jnp.float64)  # a dA or dZ from above
    return A_prev, W, b, upstream


def layer(n_prev=4, n=3, m=6, seed=0):
    return _draw_layer(jax.random.key(seed), n_prev, n, m)


def test_linear_forward_is_W_A_plus_b_and_caches_its_inputs(mode):
    A_prev, W, b, _ = layer()
    Z, cache = maybe_jit(jaxdnn.linear_forward, mode, ())(A_prev, W, b)
    np.testing.assert_allclose(Z, np.asarray(W) @ np.asarray(A_prev) + np.asarray(b), rtol=1e-14)
    A_c, W_c, b_c = cache  # unpacks like the course's (A_prev, W, b)
    for got, want in ((A_c, A_prev), (W_c, W), (b_c, b)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [1, 3])  # a one-unit layer takes its own product order
def test_linear_backward_equals_the_vjp_of_linear_forward(n, mode):
    A_prev, W, b, dZ = layer(n=n)
    m = A_prev.shape[1]
    _, cache = jaxdnn.linear_forward(A_prev, W, b)
    dA_prev, dW, db = maybe_jit(jaxdnn.linear_backward, mode, ())(dZ, cache)
    _, vjp = jax.vjp(lambda a, w, b_: w @ a + b_, A_prev, W, b)
    ref_dA, ref_dW, ref_db = vjp(dZ)  # derivatives of sum over examples: the course divides by m
    assert_trees_close((dA_prev, dW, db), (ref_dA, ref_dW / m, ref_db / m), rtol=TOL, atol=1e-14,
                       what="linear_backward")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_linear_activation_backward_equals_the_vjp_of_the_layer(name, mode):
    A_prev, W, b, dA = layer(seed=1)
    m = A_prev.shape[1]
    A, cache = maybe_jit(jaxdnn.linear_activation_forward, mode, ("activation",))(A_prev, W, b,
                                                                                  name)
    g = ACTIVATIONS[name][0]
    np.testing.assert_allclose(A, g(np.asarray(W) @ np.asarray(A_prev) + np.asarray(b)), rtol=1e-14)
    got = maybe_jit(jaxdnn.linear_activation_backward, mode, ("activation",))(dA, cache, name)
    _, vjp = jax.vjp(lambda a, w, b_: g(w @ a + b_), A_prev, W, b)
    ref_dA, ref_dW, ref_db = vjp(dA)
    assert_trees_close(got, (ref_dA, ref_dW / m, ref_db / m), rtol=TOL, atol=1e-14, what=name)


# Losses the library does not know, each with its dL/dA_L written by hand as a user would.
def _huber(A, Y, delta=0.5):
    r = A - Y
    return jnp.sum(jnp.where(jnp.abs(r) <= delta, 0.5 * r * r,
                             delta * (jnp.abs(r) - 0.5 * delta)), 0)


UNKNOWN_LOSSES = {
    # name: (output activation, per-example loss (m,), its hand-derived dL/dA_L)
    "squared error on a sigmoid": (
        "sigmoid", lambda A, Y: jnp.sum((A - Y) ** 2, 0), lambda A, Y: 2 * (A - Y)),
    "Brier score on a softmax": (
        "softmax", lambda A, Y: jnp.sum((A - Y) ** 2, 0), lambda A, Y: 2 * (A - Y)),
    "log-cosh on a tanh": (
        "tanh", lambda A, Y: jnp.sum(jnp.log(jnp.cosh(A - Y)), 0), lambda A, Y: jnp.tanh(A - Y)),
    "Huber on a linear output": ("linear", _huber, lambda A, Y: jnp.clip(A - Y, -0.5, 0.5)),
    "focal loss (gamma 2) on a sigmoid": (
        "sigmoid",
        lambda A, Y: -jnp.sum(Y * (1 - A) ** 2 * jnp.log(A) + (1 - Y) * A ** 2 * jnp.log(1 - A), 0),
        lambda A, Y: -(Y * (-2 * (1 - A) * jnp.log(A) + (1 - A) ** 2 / A)
                       + (1 - Y) * (2 * A * jnp.log(1 - A) - A ** 2 / (1 - A)))),
}


@pytest.mark.parametrize("name", sorted(UNKNOWN_LOSSES))
def test_backward_from_any_loss_equals_jax_grad_of_its_mean(name, mode):
    output, loss, dloss = UNKNOWN_LOSSES[name]
    rng = np.random.default_rng(2)
    params = random_params(rng, [4, 5, 3, 3], jnp.float64, "xavier")
    X = as_jax(rng.standard_normal((4, 8)), jnp.float64)
    Y = as_jax(np.eye(3)[:, rng.integers(0, 3, 8)], jnp.float64)  # one-hot columns
    acts = ("relu", "tanh", output)

    def manual(params, X, Y):
        AL, caches = jaxdnn.forward(params, X, acts)
        return jaxdnn.backward_from(params, caches, dloss(AL, Y), acts, l2=0.3)

    def mean_cost(params):  # the reference: jax.grad of the mean loss plus the L2 term
        AL, _ = jaxdnn.forward(params, X, acts)
        l2 = 0.3 / (2 * 8) * sum(jnp.sum(p["W"] ** 2) for p in params)
        return jnp.mean(loss(AL, Y)) + l2

    got = (jax.jit(manual) if mode == "jit" else manual)(params, X, Y)
    ref = jax.jit(jax.grad(mean_cost))(params)  # the reference in one compile, in both modes
    assert_trees_close(got, ref, rtol=TOL, atol=1e-14, what=name)


def test_backward_from_with_the_paired_loss_equals_backward():
    """Starting from the cross-entropy's dL/dA_L = -Y/A + (1-Y)/(1-A) is the course's
    L_model_backward."""
    rng = np.random.default_rng(3)
    params = random_params(rng, [3, 4, 1], jnp.float64, "xavier")
    X = as_jax(rng.standard_normal((3, 5)), jnp.float64)
    Y = jnp.asarray([[1.0, 0.0, 1.0, 1.0, 0.0]])
    acts = ("relu", "sigmoid")
    AL, caches = jaxdnn.forward(params, X, acts)
    dAL = -(Y / AL - (1 - Y) / (1 - AL))  # the course's dAL
    assert_trees_close(jaxdnn.backward_from(params, caches, dAL, acts),
                       jaxdnn.backward(params, caches, Y, acts), rtol=1e-12, atol=1e-15)


def test_one_hot_and_back():
    labels = jnp.asarray([2, 0, 1, 2])
    Y = jaxdnn.one_hot(labels, 3, jnp.float64)
    np.testing.assert_array_equal(Y, np.eye(3)[:, [2, 0, 1, 2]])
    np.testing.assert_array_equal(jaxdnn.labels.classes(Y), labels)
