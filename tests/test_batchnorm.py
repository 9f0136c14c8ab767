"""The batch-norm blocks against a plain jnp formula under jax.grad, PyTorch's BatchNorm1d (or its
documented definition where PyTorch is not installed) and finite differences; their input errors;
and init_params(batchnorm=True)."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn
from jaxdnn.gradcheck import numeric_grad, relative_difference

from .conftest import as_jax, assert_trees_close, count_compiles, maybe_jit

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


@jax.jit  # the references in one program (float64 throughout), whatever the mode under test
def reference(Z, gamma, beta, dZ_tilde):
    """``Z_tilde``, ``(dZ, dgamma, dbeta)`` and the batch mean and (biased) variance."""
    return (reference_forward(Z, gamma, beta), reference_gradients(Z, gamma, beta, dZ_tilde),
            (jnp.mean(Z, 1, keepdims=True), jnp.var(Z, 1, keepdims=True)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_backward_equal_the_plain_formula_under_jax_grad(dtype, mode):
    Z, gamma, beta, dZ_tilde = problem(0, dtype=dtype)
    Z_tilde, cache = maybe_jit(jaxdnn.batchnorm_forward, mode, ())(Z, gamma, beta)
    grads = maybe_jit(jaxdnn.batchnorm_backward, mode, ())(dZ_tilde, cache)
    ref_Z_tilde, ref_grads, ref_stats = reference(
        *(as_jax(np.asarray(x), np.float64) for x in (Z, gamma, beta, dZ_tilde)))
    rtol, atol = TOL[dtype]
    assert Z_tilde.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert_trees_close(Z_tilde, ref_Z_tilde, rtol=rtol, atol=atol, what="Z_tilde")
    assert_trees_close(grads, ref_grads, rtol=rtol, atol=atol, what="(dZ, dgamma, dbeta)")
    # the cache exposes the batch statistics for the running averages
    assert_trees_close((cache.mean, cache.var), ref_stats, rtol=rtol, atol=atol,
                       what="batch mean and var")


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


def batchnorm1d_torch(X, weight, bias, dY, X_eval, eps, momentum):
    """PyTorch's BatchNorm1d (examples in rows, float64): the training output, the gradients by
    autograd of ``sum(dY * Y) / m``, the running averages after that step from mean 0 and
    variance 1, and evaluation mode on ``X_eval`` with them."""
    import torch

    bn = torch.nn.BatchNorm1d(X.shape[1], eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(weight))
        bn.bias.copy_(torch.tensor(bias))
    x = torch.tensor(X, requires_grad=True)
    Y = bn.train()(x)
    (Y * torch.tensor(dY)).sum().div(X.shape[0]).backward()
    with torch.no_grad():
        Y_eval = bn.eval()(torch.tensor(X_eval))
    t = lambda v: v.detach().numpy()
    return {"Y": t(Y), "dX": t(x.grad), "dweight": t(bn.weight.grad), "dbias": t(bn.bias.grad),
            "running_mean": t(bn.running_mean), "running_var": t(bn.running_var),
            "Y_eval": t(Y_eval)}


def batchnorm1d_documented(X, weight, bias, dY, X_eval, eps, momentum):
    """The same from BatchNorm1d's documented definition, for machines without PyTorch:
    ``Y = (X - E[X]) / sqrt(Var[X] + eps) * weight + bias`` with the biased variance in training,
    ``running = (1 - momentum) running + momentum batch`` with the unbiased variance, from mean 0
    and variance 1, and the gradients by jax.grad."""
    mean = lambda X: X.mean(0, keepdims=True)
    var = lambda X, ddof=0: X.var(0, ddof=ddof, keepdims=True)
    weight, bias = weight[None], bias[None]  # rows, as the examples
    train = lambda X, w, b: (X - mean(X)) / jnp.sqrt(var(X) + eps) * w + b
    J = lambda X, w, b: jnp.sum(dY * train(X, w, b)) / X.shape[0]
    dX, dweight, dbias = jax.grad(J, argnums=(0, 1, 2))(X, weight, bias)
    running_mean = momentum * mean(X)
    running_var = (1 - momentum) + momentum * var(X, ddof=1)
    Y_eval = (X_eval - running_mean) / jnp.sqrt(running_var + eps) * weight + bias
    return {"Y": train(X, weight, bias), "dX": dX, "dweight": dweight[0], "dbias": dbias[0],
            "running_mean": running_mean[0], "running_var": running_var[0], "Y_eval": Y_eval}


def test_blocks_equal_batchnorm1d():
    """Training mode, gradients, running averages and evaluation mode against PyTorch's
    BatchNorm1d where PyTorch is installed, otherwise against its documented definition; float64.
    PyTorch's momentum 0.1 weighs the batch, ours (0.9) the running value."""
    have_torch = importlib.util.find_spec("torch") is not None  # found, not imported
    reference = batchnorm1d_torch if have_torch else batchnorm1d_documented
    Z, gamma, beta, dZ_tilde = problem(2)
    m = Z.shape[1]
    rows = lambda a: np.asarray(a).T  # examples in rows
    want = reference(rows(Z), rows(gamma)[0], rows(beta)[0], rows(dZ_tilde), rows(Z[:, :1]),
                     eps=1e-5, momentum=0.1)
    want = {k: np.asarray(v) for k, v in want.items()}
    what = f"against {reference.__name__}"

    Z_tilde, cache = jaxdnn.batchnorm_forward(Z, gamma, beta, eps=1e-5)
    dZ, dgamma, dbeta = jaxdnn.batchnorm_backward(dZ_tilde, cache)
    assert_trees_close((Z_tilde, dZ, dgamma, dbeta),
                       (want["Y"].T, m * want["dX"].T, want["dweight"][:, None],
                        want["dbias"][:, None]), rtol=1e-12, atol=1e-13, what=what)

    start = jaxdnn.init_running_stats(N, jnp.float64)  # PyTorch's too: mean 0, var 1
    running = jaxdnn.update_running_stats(start, cache, momentum=0.9)
    np.testing.assert_allclose(running.mean, want["running_mean"][:, None], rtol=1e-12,
                               err_msg=what)
    # PyTorch averages the unbiased variance; with that one, the same average
    unbiased = jaxdnn.update_running_stats(start, cache._replace(var=cache.var * m / (m - 1)),
                                           momentum=0.9)
    np.testing.assert_allclose(unbiased.var, want["running_var"][:, None], rtol=1e-12,
                               err_msg=what)
    got = jaxdnn.batchnorm_inference(Z[:, :1], gamma, beta, unbiased.mean, unbiased.var, eps=1e-5)
    np.testing.assert_allclose(got, want["Y_eval"].T, rtol=1e-12, atol=1e-13, err_msg=what)


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
    params, plain = jax.jit(lambda key: [  # one program, not one per eager op and shape
        jaxdnn.init_params(key, [5, 4, 3, 1], batchnorm=bn, dtype=jnp.float64)
        for bn in (True, False)])(key)
    assert [sorted(p) for p in params] == [["W", "beta", "gamma"]] * 2 + [["W", "b"]]
    for p, q in zip(params, plain):
        np.testing.assert_array_equal(p["W"], q["W"])  # W drawn as without batch norm
        assert all(leaf.dtype == jnp.float64 for leaf in p.values())
    for p, n in zip(params[:2], (4, 3)):
        np.testing.assert_array_equal(p["gamma"], np.ones((n, 1)))
        np.testing.assert_array_equal(p["beta"], np.zeros((n, 1)))
    np.testing.assert_array_equal(params[2]["b"], np.zeros((1, 1)))
    # one layer: no hidden layer to normalise
    one = jax.eval_shape(lambda key: jaxdnn.init_params(key, [5, 1], batchnorm=True), key)
    assert sorted(one[0]) == ["W", "b"]
    with pytest.raises(TypeError, match="batchnorm must be True or False"):
        jaxdnn.init_params(key, [5, 1], batchnorm="yes")


# ----------------------------------------------------------------------------------------------
# batch-norm networks: every entry point


def bn_problem(rng, dims, hidden, output, m):
    """A batch-norm network drawn with NumPy (He W, gamma around 1 and beta around 0, so a mix-up
    of the two shows), inputs and labels suited to ``output``; ``(params, X, Y, activations)``."""
    params = [{"W": as_jax(rng.standard_normal((n, k)) * np.sqrt(2 / k), "float64"),
               "gamma": as_jax(1 + 0.3 * rng.standard_normal((n, 1)), "float64"),
               "beta": as_jax(0.3 * rng.standard_normal((n, 1)), "float64")}
              for k, n in zip(dims[:-2], dims[1:-1])]
    params.append({"W": as_jax(rng.standard_normal(dims[-1:-3:-1]) / np.sqrt(dims[-2]), "float64"),
                   "b": as_jax(0.1 * rng.standard_normal((dims[-1], 1)), "float64")})
    X = as_jax(rng.standard_normal((dims[0], m)), "float64")
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    else:
        Y = rng.integers(0, 2, (dims[-1], m))
    return params, X, as_jax(Y, "float64"), (*hidden, output)


ARCHITECTURES = [  # (depth, hidden activations, output, m): each output at depth 1 and at 2
    (1, ("relu",), "sigmoid", 2),  # m = 2: the smallest minibatch
    (1, ("tanh",), "softmax", 3),
    (2, ("sigmoid", "linear"), "sigmoid", 7),
    (2, ("leaky_relu", "relu"), "softmax", 12),
]


def drawn_architectures(n=20, seed=0):
    """``n`` batch-norm problems, the i-th on ``ARCHITECTURES[i % 4]``: 1 or 2 hidden layers of 2
    to 5 units (drawn once per architecture), every hidden activation, sigmoid and softmax
    outputs, m from 2 (the smallest minibatch) to 12. Each problem draws its own params and data;
    the problems of one architecture share their shapes, so a check compiles once per
    architecture (its time is compiling), not once per network."""
    rng = np.random.default_rng(seed)
    dims = [[*(int(d) for d in rng.integers(2, 6, depth + 1)),
             int(rng.integers(1, 4)) if output == "sigmoid" else int(rng.integers(2, 5))]
            for depth, _, output, _ in ARCHITECTURES]
    out = []
    for i in range(n):
        _, hidden, output, m = ARCHITECTURES[i % len(ARCHITECTURES)]
        out.append(bn_problem(rng, dims[i % len(ARCHITECTURES)], hidden, output, m))
    return out


PROBLEMS = drawn_architectures()  # NumPy: no compiles at collection


def test_drawn_architectures_cover_every_hidden_activation_and_both_outputs():
    hidden = {a for *_, acts in PROBLEMS for a in acts[:-1]}
    assert hidden == set(jaxdnn.activations.HIDDEN)
    assert {acts[-1] for *_, acts in PROBLEMS} == {"sigmoid", "softmax"}


def test_manual_gradient_equals_autodiff_on_20_drawn_networks():
    """The hand-derived pass through batchnorm_backward against jax.grad of the cost, float64
    1e-10, on every drawn network at once: the networks of each architecture stacked and
    vmapped, in one compiled program, not one per network."""
    k = len(ARCHITECTURES)  # network i is entry i // k of architecture i % k's stack
    stacks = [jax.tree.map(lambda *x: np.stack(x), *(p[:3] for p in PROBLEMS[a::k]))
              for a in range(k)]

    def both(stacks):
        return [jax.vmap(lambda p, X, Y, acts=PROBLEMS[a][3]: (
                    jaxdnn.manual_value_and_grad(p, X, Y, acts),
                    jaxdnn.autodiff_value_and_grad(p, X, Y, acts)))(*stack)
                for a, stack in enumerate(stacks)]

    with count_compiles() as compiles:
        stacked = jax.jit(both)(stacks)
    assert len(compiles) == 1
    stacked = jax.tree.map(np.asarray, stacked)  # indexed in NumPy: no eager compiles
    for i, params in enumerate(p for p, *_ in PROBLEMS):
        (J, g), (J_ref, g_ref) = jax.tree.map(lambda x, i=i: x[i // k], stacked[i % k])
        assert jax.tree.structure(g) == jax.tree.structure(params)
        assert [sorted(d) for d in g[:-1]] == [["W", "beta", "gamma"]] * (len(g) - 1)
        np.testing.assert_allclose(J, J_ref, rtol=1e-12)
        assert_trees_close(g, g_ref, rtol=1e-10, atol=1e-12, what=f"network {i}, manual")


def test_backward_backward_from_and_the_custom_vjp_equal_autodiff():
    p, X, Y, acts = PROBLEMS[7]  # softmax output, two hidden layers

    def all_four(p, X, Y):  # one compiled program
        AL, caches = jaxdnn.forward(p, X, acts)
        dAL = -Y / AL  # d(-sum_k Y_k log A_k) / dA of each example
        return (jax.grad(jaxdnn.cost, argnums=(0, 1))(p, X, Y, acts),
                jaxdnn.backward(p, caches, Y, acts), jaxdnn.backward_from(p, caches, dAL, acts),
                jax.grad(jaxdnn.cost_with_manual_vjp, argnums=(0, 1))(p, X, Y, acts))

    (g_ref, dX_ref), g, g_from, (g_vjp, dX) = jax.jit(all_four)(p, X, Y)
    for got, what in ((g, "backward"), (g_from, "backward_from"), (g_vjp, "custom VJP")):
        assert_trees_close(got, g_ref, rtol=1e-10, atol=1e-12, what=what)
    assert_trees_close(dX, dX_ref, rtol=1e-10, atol=1e-12, what="custom VJP dJ/dX")
    _, inference = jax.jit(lambda p, X: jaxdnn.forward(  # one program, not op by op
        p, X, acts, batch_stats=jaxdnn.init_batch_stats(p)))(p, X)
    assert inference[0].bn is None
    with pytest.raises(ValueError, match=r"caches\[0\] has no batch statistics"):
        jaxdnn.backward(p, inference, Y, acts)


def test_gradient_check_passes_and_flags_a_planted_dgamma_error_on_that_leaf_only():
    for p, X, Y, acts in PROBLEMS:  # every drawn batch-norm network
        report = jaxdnn.gradient_check(p, X, Y, acts)
        assert report.passed, str(report)
        assert {leaf.path for leaf in report.leaves} >= {"[0]['gamma']", "[0]['beta']"}

    p, X, Y, acts = PROBLEMS[3]
    value_and_grad = jax.jit(jaxdnn.manual_value_and_grad, static_argnames="activations")

    def planted(params, X, Y, activations):  # dgamma of layer 1 off by 1 %
        J, g = value_and_grad(params, X, Y, activations=activations)
        g[0]["gamma"] = g[0]["gamma"] * 1.01
        return J, g

    report = jaxdnn.gradient_check(p, X, Y, acts, grad_fn=planted)
    assert not report.passed
    assert [leaf.path for leaf in report.leaves if not leaf.passed] == ["[0]['gamma']"]


def test_train_steps_manual_equals_autodiff_full_batch_and_minibatches():
    """train_steps with each gradient, full batch and minibatches (statistics per minibatch,
    the last one of 2 examples), in one program: params and running statistics agree."""
    p, X, Y, acts = bn_problem(np.random.default_rng(1), [3, 5, 4, 2], ("tanh", "leaky_relu"),
                               "softmax", 12)
    data = jaxdnn.examples_first(X, Y)

    def run(batch_size, grad):
        opt = jaxdnn.gradient_descent(0.3)
        config = jaxdnn.TrainConfig(acts, opt.update, grad, batch_size)
        state = jaxdnn.TrainState(p, opt.init(p), jnp.zeros((), jnp.int32))
        return jaxdnn.train_steps(config, 4, state, data, jax.random.key(3))

    results = jax.jit(lambda: [[run(bs, g)[0] for g in ("manual", "autodiff")]
                               for bs in (None, 5)])()
    for (manual, autodiff), what in zip(results, ("full batch", "minibatches")):
        assert_trees_close((manual.params, manual.batch_stats),
                           (autodiff.params, autodiff.batch_stats), rtol=1e-10, atol=1e-12,
                           what=what)
        assert [s is None for s in manual.batch_stats] == [False, False, True]


def test_running_statistics_equal_a_hand_computation():
    """Full batch, two updates: running = 0.8 (0.8 r0 + 0.2 s(params_0)) + 0.2 s(params_1), the
    batch statistics of Z = W_1 X in NumPy; minibatches, params held fixed: the average over the
    epoch's two minibatches, in the documented shuffle order."""
    rng = np.random.default_rng(2)
    p, X, Y, acts = bn_problem(rng, [2, 3, 1], ("relu",), "sigmoid", 4)
    W, Xn = np.asarray(p[0]["W"]), np.asarray(X)
    stats = lambda W, X: (np.mean(W @ X, 1, keepdims=True), np.var(W @ X, 1, keepdims=True))
    kw = dict(bn_momentum=0.8, progress=False)
    p1, _, _ = jaxdnn.fit(p, X, Y, acts, learning_rate=0.5, num_iterations=1, **kw)
    _, _, got = jaxdnn.fit(p, X, Y, acts, learning_rate=0.5, num_iterations=2, **kw)
    (mu0, var0), (mu1, var1) = stats(W, Xn), stats(np.asarray(p1[0]["W"]), Xn)
    expected = (0.8 * (0.2 * mu0) + 0.2 * mu1, 0.8 * (0.8 + 0.2 * var0) + 0.2 * var1)
    assert_trees_close(tuple(got[0]), expected, rtol=1e-12, what="full batch")
    assert got[1] is None

    key = jax.random.key(5)
    _, _, got = jaxdnn.fit(p, X, Y, acts, optimizer=optax.set_to_zero(), num_iterations=1,
                           batch_size=2, key=key, **kw)
    perm = np.asarray(jax.random.permutation(jax.random.fold_in(jax.random.split(key)[0], 0), 4))
    (mu_a, var_a), (mu_b, var_b) = stats(W, Xn[:, perm[:2]]), stats(W, Xn[:, perm[2:]])
    expected = (0.8 * 0.2 * mu_a + 0.2 * mu_b, 0.8 * (0.8 + 0.2 * var_a) + 0.2 * var_b)
    assert_trees_close(tuple(got[0]), expected, rtol=1e-12, what="minibatches")


def test_predict_accuracy_and_validation_use_the_running_statistics():
    p, X, Y, acts = PROBLEMS[10]  # sigmoid output, m = 7
    params, costs, val, stats = jaxdnn.fit(p, X, Y, acts, learning_rate=0.1, num_iterations=4,
                                           validation_data=(X, Y), chunk_size=4, progress=False)
    mean, var = (np.asarray(x) for x in stats[0])
    W, g, b = (np.asarray(params[0][k]) for k in ("W", "gamma", "beta"))
    by_hand = g * (W @ np.asarray(X) - mean) / np.sqrt(var + 1e-5) + b

    @jax.jit  # forward, predict, accuracy and cost in one compiled program, not op by op
    def inference(params, X, Y, stats):
        AL, caches = jaxdnn.forward(params, X, acts, batch_stats=stats)
        return (AL, caches[0].Z, jaxdnn.predict(params, X, acts, batch_stats=stats),
                jaxdnn.accuracy(params, X, Y, acts, batch_stats=stats),
                jaxdnn.cost(params, X, Y, acts, batch_stats=stats))

    AL, Z1, pred, acc, J = inference(params, X, Y, stats)
    np.testing.assert_allclose(Z1, by_hand, rtol=1e-12)
    np.testing.assert_array_equal(pred, (np.asarray(AL) > 0.5).astype(np.float64))
    np.testing.assert_allclose(acc, np.mean((np.asarray(AL) > 0.5) == np.asarray(Y)))
    np.testing.assert_allclose(val.accuracy[-1], acc, rtol=1e-12)
    np.testing.assert_allclose(val.cost[-1], J, rtol=1e-12)
    one = jaxdnn.predict(params, X[:, :1], acts, batch_stats=stats)  # inference: one example
    assert one.shape == (Y.shape[0], 1)


def test_fit_resumes_bitwise_and_vmap_over_seeds_equals_separate_fits(tmp_path):
    _, X, Y, acts = PROBLEMS[3]  # softmax output, m = 12: minibatches of 5, 5 and 2
    dims = [X.shape[0], 4, 3, Y.shape[0]]
    acts = ("relu", "tanh", acts[-1])
    kw = dict(learning_rate=0.2, num_iterations=6, batch_size=5, key=jax.random.key(1),
              chunk_size=3, progress=False)  # as checkpoint_every: the separate fits below
    # run the checkpointed run's compiled chunk again instead of compiling one of 6 steps
    init = jax.jit(lambda k: jaxdnn.init_params(k, dims, dtype=jnp.float64, batchnorm=True))
    p = init(jax.random.key(0))  # one program, not one per eager op and shape
    whole = jaxdnn.fit(p, X, Y, acts, checkpoint_dir=tmp_path / "a", checkpoint_every=3, **kw)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "ckpt_00000003.npz").write_bytes(
        (tmp_path / "a" / "ckpt_00000003.npz").read_bytes())
    resumed = jaxdnn.fit(p, X, Y, acts, checkpoint_dir=tmp_path / "b", checkpoint_every=3, **kw)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(whole), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))
    assert len(jax.tree.leaves(whole[2])) == 4  # mean and var of two layers

    keys = jax.random.split(jax.random.key(2), 3)
    fit = lambda k: jaxdnn.fit(init(k), X, Y, acts, **kw)
    stacked = jax.tree.map(np.asarray, jax.jit(jax.vmap(fit))(keys))  # indexed in NumPy
    for i, k in enumerate(keys):
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], stacked), fit(k), rtol=1e-12,
                           atol=1e-13, what=f"seed {i}")


Pn, Xn, Yn = (jax.tree.map(np.asarray, x) for x in PROBLEMS[2][:3])
ACTn = PROBLEMS[2][3]
with_b = [dict(Pn[0], b=np.zeros_like(Pn[0]["beta"])), *Pn[1:]]
BAD_NETWORKS = [  # (params, error, message)
    (with_b, TypeError, r"params\[0\].*got \['W', 'b', 'beta', 'gamma'\]; a batch-normalised "
                        "layer has no 'b'"),
    ([dict(Pn[0], gamma=Pn[0]["gamma"].T), *Pn[1:]], ValueError,
     r"params\[0\]\['gamma'\] must have shape \(\d, 1\)"),
    ([dict(Pn[0], beta=Pn[0]["beta"][:1]), *Pn[1:]], ValueError,
     r"params\[0\]\['beta'\] must have shape"),
    ([*Pn[:-1], {"W": Pn[-1]["W"], "gamma": Pn[-1]["b"], "beta": Pn[-1]["b"]}], ValueError,
     "output layer and cannot be batch-normalised: its Z_L are the logits"),
]


@pytest.mark.parametrize("params, error, match", BAD_NETWORKS)
def test_entry_points_reject_bad_batchnorm_params(params, error, match):
    for call in (lambda: jaxdnn.forward(params, Xn, ACTn),
                 lambda: jaxdnn.manual_value_and_grad(params, Xn, Yn, ACTn),
                 lambda: jaxdnn.fit(params, Xn, Yn, ACTn, num_iterations=1)):
        with pytest.raises(error, match=match):
            call()


def test_batchnorm_networks_reject_batches_of_one_and_inference_without_statistics():
    p, X, Y, acts = PROBLEMS[2]  # m = 7
    one = r"variance of one example is 0"
    with pytest.raises(ValueError, match="batch_size=1 gives minibatches of one example.*" + one):
        jaxdnn.fit(p, X, Y, acts, batch_size=1, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"m % batch_size = 7 % 3 = 1 example.*" + one):
        jaxdnn.fit(p, X, Y, acts, batch_size=3, key=jax.random.key(0))
    with pytest.raises(ValueError, match="m = 1 example.*" + one):
        jaxdnn.fit(p, X[:, :1], Y[:, :1], acts)
    with pytest.raises(ValueError, match="a batch of 1 example.*variance over the batch is 0"):
        jaxdnn.cost(p, X[:, :1], Y[:, :1], acts)
    for call, what in ((lambda: jaxdnn.predict(p, X, acts), "predict"),
                       (lambda: jaxdnn.accuracy(p, X, Y, acts), "accuracy")):
        with pytest.raises(ValueError, match=f"{what} is inference.*batch_stats="):
            call()
    stats = jaxdnn.init_batch_stats(p)
    with pytest.raises(TypeError, match=r"batch_stats must be a list of \d entries"):
        jaxdnn.predict(p, X, acts, batch_stats=stats[:-1])
    with pytest.raises(TypeError, match=r"batch_stats\[0\] must be RunningStats"):
        jaxdnn.predict(p, X, acts, batch_stats=[None, *stats[1:]])
    with pytest.raises(ValueError, match=r"batch_stats\[0\].var must have shape"):
        jaxdnn.predict(p, X, acts, batch_stats=[stats[0]._replace(var=stats[0].var[:1]),
                                                *stats[1:]])
    with pytest.raises(ValueError, match="forward-mode rules.*not batch-normalised"):
        jaxdnn.cost_with_manual_jvp(p, X, Y, acts)
    with pytest.raises(ValueError, match="bn_momentum must lie in"):
        jaxdnn.fit(p, X, Y, acts, bn_momentum=1.0)
