"""The batch-norm blocks against a plain jnp formula under jax.grad, PyTorch's BatchNorm1d and
finite differences; their input errors; and init_params(batchnorm=True)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn.gradcheck import numeric_grad, relative_difference

from .conftest import as_jax, assert_trees_close, maybe_jit

N, M = 4, 6  # units, examples
TOL = {"float64": (1e-12, 1e-13), "float32": (1e-5, 1e-5)}  # (rtol, atol) against float64


def problem(seed=0, n=N, m=M, dtype="float64"):
    """``Z`` with rows of different means and scales, ``gamma``, ``beta`` and an upstream
    ``dZ_tilde`` (per example), drawn with NumPy."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m)) * rng.uniform(0.5, 3, (n, 1)) + rng.uniform(-2, 2, (n, 1))
    gamma = rng.uniform(0.5, 2, (n, 1))
    beta = rng.standard_normal((n, 1))
    dZ_tilde = rng.standard_normal((n, m))
    return tuple(as_jax(x, dtype) for x in (Z, gamma, beta, dZ_tilde))


def reference_forward(Z, gamma, beta, eps=1e-5):
    """The course's equations as one plain jnp expression (jnp.var is the biased 1/m variance)."""
    return gamma * (Z - jnp.mean(Z, 1, keepdims=True)) / jnp.sqrt(jnp.var(Z, 1, keepdims=True)
                                                                  + eps) + beta


def reference_gradients(Z, gamma, beta, dZ_tilde):
    """``(dZ, dgamma, dbeta)`` by jax.grad of the mean cost ``J = sum(dZ_tilde * Z_tilde) / m``,
    whose per-example derivative with respect to ``Z_tilde`` is ``dZ_tilde``; the course's ``dZ``
    is per example: ``m dJ/dZ``."""
    m = Z.shape[1]
    J = lambda Z, g, b: jnp.sum(dZ_tilde * reference_forward(Z, g, b)) / m
    dZ, dgamma, dbeta = jax.grad(J, argnums=(0, 1, 2))(Z, gamma, beta)
    return m * dZ, dgamma, dbeta


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_backward_equal_the_plain_formula_under_jax_grad(dtype, mode):
    Z, gamma, beta, dZ_tilde = problem(0, dtype=dtype)
    Z_tilde, cache = maybe_jit(jaxdnn.batchnorm_forward, mode, ())(Z, gamma, beta)
    grads = maybe_jit(jaxdnn.batchnorm_backward, mode, ())(dZ_tilde, cache)
    ref64 = [x.astype(jnp.float64) for x in (Z, gamma, beta, dZ_tilde)]
    rtol, atol = TOL[dtype]
    assert Z_tilde.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert_trees_close(Z_tilde, reference_forward(*ref64[:3]), rtol=rtol, atol=atol,
                       what="Z_tilde")
    assert_trees_close(grads, reference_gradients(*ref64), rtol=rtol, atol=atol,
                       what="(dZ, dgamma, dbeta)")
    # the cache exposes the batch statistics for the running averages
    assert_trees_close((cache.mean, cache.var),
                       (jnp.mean(ref64[0], 1, keepdims=True), jnp.var(ref64[0], 1, keepdims=True)),
                       rtol=rtol, atol=atol, what="batch mean and var")


def test_backward_passes_a_finite_difference_gradient_check():
    """The hand-derived gradients against centred differences of the blocks' own forward (the
    course's eps = 1e-7 and threshold 1e-7, float64)."""
    Z, gamma, beta, dZ_tilde = problem(1)
    m = Z.shape[1]
    theta = {"Z": Z, "gamma": gamma, "beta": beta}
    J = lambda t: jnp.sum(dZ_tilde * jaxdnn.batchnorm_forward(t["Z"], t["gamma"], t["beta"])[0]) / m
    numeric = numeric_grad(J, theta, epsilon=1e-7)
    dZ, dgamma, dbeta = jaxdnn.batchnorm_backward(dZ_tilde, jaxdnn.batchnorm_forward(Z, gamma,
                                                                                      beta)[1])
    manual = {"Z": dZ / m, "gamma": dgamma, "beta": dbeta}  # dJ/dZ = dZ / m: dZ is per example
    for name in theta:
        assert relative_difference(manual[name], numeric[name]) < 1e-7, name


def test_blocks_equal_torch_batchnorm1d():
    """Training mode (batch statistics), the gradients by autograd, the running averages and
    evaluation mode, float64; torch takes examples in rows."""
    torch = pytest.importorskip("torch")
    Z, gamma, beta, dZ_tilde = problem(2)
    m = Z.shape[1]
    bn = torch.nn.BatchNorm1d(N, eps=1e-5, momentum=0.1, dtype=torch.float64)  # 0.1 = 1 - 0.9
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(np.asarray(gamma)[:, 0]))
        bn.bias.copy_(torch.tensor(np.asarray(beta)[:, 0]))
    x = torch.tensor(np.asarray(Z).T, requires_grad=True)
    out = bn.train()(x)
    (out * torch.tensor(np.asarray(dZ_tilde).T)).sum().div(m).backward()

    Z_tilde, cache = jaxdnn.batchnorm_forward(Z, gamma, beta, eps=1e-5)
    dZ, dgamma, dbeta = jaxdnn.batchnorm_backward(dZ_tilde, cache)
    t = lambda v: v.detach().numpy()
    assert_trees_close((Z_tilde, dZ, dgamma, dbeta),
                       (t(out).T, m * t(x.grad).T, t(bn.weight.grad)[:, None],
                        t(bn.bias.grad)[:, None]),
                       rtol=1e-12, atol=1e-13, what="against BatchNorm1d")

    start = jaxdnn.init_running_stats(N, jnp.float64)  # torch's too: mean 0, var 1
    running = jaxdnn.update_running_stats(start, cache, momentum=0.9)
    np.testing.assert_allclose(running.mean, t(bn.running_mean)[:, None], rtol=1e-12)
    # torch averages the unbiased variance; with that one, the same average
    unbiased = jaxdnn.update_running_stats(start, cache._replace(var=cache.var * m / (m - 1)))
    np.testing.assert_allclose(unbiased.var, t(bn.running_var)[:, None], rtol=1e-12)

    with torch.no_grad():  # evaluation mode with our running statistics, on a single example
        bn.running_mean.copy_(torch.tensor(np.asarray(running.mean)[:, 0]))
        bn.running_var.copy_(torch.tensor(np.asarray(running.var)[:, 0]))
        expected = t(bn.eval()(torch.tensor(np.asarray(Z[:, :1]).T))).T
    got = jaxdnn.batchnorm_inference(Z[:, :1], gamma, beta, running.mean, running.var, eps=1e-5)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_inference_and_running_averages_by_hand(mode):
    Z, gamma, beta, _ = problem(3)
    _, cache = jaxdnn.batchnorm_forward(Z, gamma, beta)
    start = jaxdnn.init_running_stats(N, jnp.float64)
    running = maybe_jit(jaxdnn.update_running_stats, mode, ())(start, cache, 0.8)
    expected = jaxdnn.RunningStats(0.2 * cache.mean, 0.8 + 0.2 * cache.var)  # from mean 0, var 1
    assert_trees_close(running, expected, rtol=1e-14, what="running = 0.8 running + 0.2 batch")
    mean, var = np.asarray(running.mean), np.asarray(running.var)
    got = maybe_jit(jaxdnn.batchnorm_inference, mode, ())(Z, gamma, beta, running.mean,
                                                          running.var)
    expected = np.asarray(gamma) * (np.asarray(Z) - mean) / np.sqrt(var + 1e-5) + np.asarray(beta)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # with the batch's own statistics, inference is the training-mode forward
    np.testing.assert_allclose(jaxdnn.batchnorm_inference(Z, gamma, beta, cache.mean, cache.var),
                               jaxdnn.batchnorm_forward(Z, gamma, beta)[0], rtol=1e-13)


Z0, G0, B0, D0 = (np.asarray(x) for x in problem(4))  # NumPy: no compiles at collection
BAD_FORWARD = [  # (arguments of batchnorm_forward, error, message)
    ((Z0, G0[:, 0], B0), ValueError, r"gamma must have shape \(4, 1\).*got \(4,\)"),
    ((Z0, G0.T, B0), ValueError, r"gamma must have shape \(4, 1\).*got \(1, 4\)"),
    ((Z0, G0, np.hstack([B0, B0])), ValueError, r"beta must have shape \(4, 1\)"),
    ((Z0, G0.astype(np.float32), B0), TypeError, "gamma has dtype float32, expected float64"),
    ((Z0, G0, B0.astype(np.float32)), TypeError, "beta has dtype float32, expected float64"),
    ((Z0[:, :1], G0, B0), ValueError, r"one example.*m >= 2.*var = 0"),
    ((Z0, G0, B0, 0.0), ValueError, "eps must lie in"),
    ((Z0, G0, B0, -1e-5), ValueError, "eps must lie in"),
    ((Z0.astype(np.int32), G0, B0), TypeError, "Z must be a floating array"),
    ((Z0[0], G0, B0), ValueError, "Z must be 2-D"),
    (([[1.0, 2.0]], G0, B0), TypeError, "Z must be an array"),
]


@pytest.mark.parametrize("args, error, match", BAD_FORWARD)
def test_forward_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        jaxdnn.batchnorm_forward(*args)


def test_other_blocks_reject_bad_input():
    _, cache = jaxdnn.batchnorm_forward(Z0, G0, B0)
    with pytest.raises(ValueError, match=r"dZ_tilde must have shape \(4, 6\)"):
        jaxdnn.batchnorm_backward(D0.T, cache)
    with pytest.raises(TypeError, match="dZ_tilde has dtype float32"):
        jaxdnn.batchnorm_backward(D0.astype(np.float32), cache)
    with pytest.raises(TypeError, match="BatchNormCache"):
        jaxdnn.batchnorm_backward(D0, cache[:3])
    with pytest.raises(ValueError, match=r"var must have shape \(4, 1\)"):
        jaxdnn.batchnorm_inference(Z0, G0, B0, cache.mean, cache.var[:2])
    with pytest.raises(ValueError, match="eps must lie in"):
        jaxdnn.batchnorm_inference(Z0, G0, B0, cache.mean, cache.var, eps=0.0)
    start = jaxdnn.init_running_stats(N, jnp.float64)
    with pytest.raises(ValueError, match="momentum must lie in"):
        jaxdnn.update_running_stats(start, cache, momentum=1.0)
    with pytest.raises(TypeError, match="running.mean has dtype float32"):
        jaxdnn.update_running_stats(jaxdnn.init_running_stats(N), cache)
    with pytest.raises(ValueError, match=r"running.var must have shape \(4, 1\)"):
        jaxdnn.update_running_stats(start._replace(var=start.var[:3]), cache)


def test_init_params_with_batchnorm():
    key = jax.random.key(0)
    params = jaxdnn.init_params(key, [5, 4, 3, 1], batchnorm=True, dtype=jnp.float64)
    plain = jaxdnn.init_params(key, [5, 4, 3, 1], dtype=jnp.float64)
    assert [sorted(p) for p in params] == [["W", "beta", "gamma"]] * 2 + [["W", "b"]]
    for p, q in zip(params, plain):
        np.testing.assert_array_equal(p["W"], q["W"])  # W drawn as without batch norm
        assert all(leaf.dtype == jnp.float64 for leaf in p.values())
    for p, n in zip(params[:2], (4, 3)):
        np.testing.assert_array_equal(p["gamma"], np.ones((n, 1)))
        np.testing.assert_array_equal(p["beta"], np.zeros((n, 1)))
    np.testing.assert_array_equal(params[2]["b"], np.zeros((1, 1)))
    # one layer: no hidden layer to normalise
    assert sorted(jaxdnn.init_params(key, [5, 1], batchnorm=True)[0]) == ["W", "b"]
    with pytest.raises(TypeError, match="batchnorm must be True or False"):
        jaxdnn.init_params(key, [5, 1], batchnorm="yes")
