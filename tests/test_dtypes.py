"""bfloat16 and float16 through every entry point, and mixed precision (float32 params, bfloat16
products).

References: the same network in float32 (params and data are the narrow values, widened exactly),
and jax.grad of the same narrow cost. Every tolerance is ``jnp.finfo(dtype).eps`` times a stated
factor: one rounding per stored value, a few per layer, so a factor of 8 to 32 for these
three-layer networks; a wrong equation is off by far more.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn
from jaxdnn import checkpoint

from .conftest import as_jax, random_params

NARROW = [jnp.bfloat16, jnp.float16]
ACTS = ("tanh", "tanh", "sigmoid")
DIMS = [3, 5, 4, 1]
SQUARE = [4, 4, 4, 4]  # three layers, two leaf shapes: for the tests that run ops eagerly (each
# eager op compiles once per shape and dtype), where no tolerance depends on the network
VALUE_FACTOR = 8  # values (A_L, costs): a few roundings per layer
GRAD_FACTOR = 32  # gradients, relative to the leaf's largest entry: the backward pass adds its own


def eps(dtype):
    return float(jnp.finfo(dtype).eps)


def problem(dtype, m=32, dims=DIMS, seed=0):
    """Params, X, Y in ``dtype``, and the same values widened to float32 (exactly)."""
    rng = np.random.default_rng(seed)  # cast in NumPy (ml_dtypes): no eager compile per shape
    params = [jax.tree.map(lambda a: as_jax(np.asarray(a), dtype), p)
              for p in random_params(rng, dims, np.float32)]
    X = as_jax(rng.standard_normal((dims[0], m)), dtype)
    Y = as_jax(rng.random((dims[-1], m)) < 0.5, dtype)
    wide = lambda t: jax.tree.map(lambda a: as_jax(np.asarray(a), np.float32), t)
    return params, X, Y, wide(params), wide(X), wide(Y)


def jit(f):
    """``f`` compiled once (the narrow dtypes' eager ops would compile one program each)."""
    return jax.jit(f, static_argnames="activations")


def assert_grads_close(actual, expected, factor, dtype, what):
    """Leaf by leaf: within ``factor * eps(dtype)`` of the reference's largest entry (db sums m
    terms that cancel, so its error scales with the terms, not with the small sum)."""
    scale = max(float(np.abs(np.asarray(e, np.float32)).max()) for e in jax.tree.leaves(expected))
    for (path, a), e in zip(jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)):
        a, e = np.asarray(a, np.float32), np.asarray(e, np.float32)
        atol = factor * eps(dtype) * scale
        np.testing.assert_allclose(a, e, rtol=0, atol=atol,
                                   err_msg=f"{what} leaf {jax.tree_util.keystr(path)} "
                                           f"(atol = {factor} eps max|ref| = {atol:.3g})")


def inference(params, X, Y, activations):
    """A_L and the first layer's Z of forward, the cost, predict and accuracy: one program."""
    AL, caches = jaxdnn.forward(params, X, activations)
    return (AL, caches[0].Z, jaxdnn.cost(params, X, Y, activations),
            jaxdnn.predict(params, X, activations), jaxdnn.accuracy(params, X, Y, activations))


@pytest.mark.parametrize("dtype", NARROW, ids=["bfloat16", "float16"])
def test_forward_cost_and_predictions_match_float32(dtype):
    params, X, Y, p32, X32, Y32 = problem(dtype)
    AL, Z1, J, pred, acc = jit(inference)(params, X, Y, ACTS)
    AL32, _, J32, pred32, _ = jit(inference)(p32, X32, Y32, ACTS)
    assert AL.dtype == dtype and Z1.dtype == dtype
    np.testing.assert_allclose(np.asarray(AL, np.float32), AL32, rtol=0,
                               atol=VALUE_FACTOR * eps(dtype))
    assert J.dtype == dtype
    assert float(J) == pytest.approx(float(J32), rel=VALUE_FACTOR * eps(dtype))
    # predictions agree wherever float32's A_L is not within the tolerance of the threshold
    sure = np.abs(np.asarray(AL32) - 0.5) > VALUE_FACTOR * eps(dtype)
    pred = np.asarray(pred, np.float32)
    np.testing.assert_array_equal(pred[sure], np.asarray(pred32)[sure])
    # accuracy: the count of right predictions over m, as predict counts them
    right = np.mean(pred == np.asarray(Y, np.float32))
    assert float(acc) == pytest.approx(right, abs=eps(dtype))


def gradients(params, X, Y, activations):
    """Every gradient entry point, in one program: manual_value_and_grad,
    autodiff_value_and_grad, jax.grad of cost_with_manual_vjp, and backward_from from dA_L of
    each example's loss by jax.grad."""
    AL, caches = jaxdnn.forward(params, X, activations)
    loss = (lambda A: jnp.sum(-Y * jnp.log(A) - (1 - Y) * jnp.log(1 - A))) if (
        activations[-1] == "sigmoid") else (lambda A: -jnp.sum(Y * jnp.log(A)))
    return (jaxdnn.manual_value_and_grad(params, X, Y, activations),
            jaxdnn.autodiff_value_and_grad(params, X, Y, activations),
            jax.grad(jaxdnn.cost_with_manual_vjp)(params, X, Y, activations),
            jaxdnn.backward_from(params, caches, jax.grad(loss)(AL), activations))


@pytest.mark.parametrize("dtype", NARROW, ids=["bfloat16", "float16"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_every_gradient_entry_point_matches_autodiff_and_float32(dtype, output):
    dims = DIMS if output == "sigmoid" else [3, 5, 4, 3]
    acts = ACTS[:-1] + (output,)
    params, X, Y, p32, X32, Y32 = problem(dtype, dims=dims)
    if output == "softmax":  # one-hot columns, exact in every dtype
        Y32 = as_jax(np.eye(dims[-1])[:, np.argmax(np.asarray(Y32), axis=0)], np.float32)
        Y = as_jax(np.asarray(Y32), dtype)
    (J, grads), (J_ad, grads_ad), grads_vjp, grads_from = jit(gradients)(params, X, Y, acts)
    J32, grads32 = jit(jaxdnn.autodiff_value_and_grad)(p32, X32, Y32, acts)
    assert J.dtype == dtype and {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(dtype)}
    assert float(J) == pytest.approx(float(J_ad), rel=VALUE_FACTOR * eps(dtype))
    assert float(J) == pytest.approx(float(J32), rel=VALUE_FACTOR * eps(dtype))
    assert_grads_close(grads, grads_ad, GRAD_FACTOR, dtype, "manual vs autodiff")
    assert_grads_close(grads, grads32, GRAD_FACTOR, dtype, "manual vs float32")
    # the custom-VJP cost and backward_from
    assert_grads_close(grads_vjp, grads32, GRAD_FACTOR, dtype, "cost_with_manual_vjp vs float32")
    assert_grads_close(grads_from, grads32, GRAD_FACTOR, dtype, "backward_from vs float32")


@pytest.mark.parametrize("dtype", NARROW, ids=["bfloat16", "float16"])
@pytest.mark.parametrize("minibatch", [False, True], ids=["full", "minibatch"])
def test_fit_trains_like_float32(dtype, minibatch):
    params, X, Y, p32, X32, Y32 = problem(dtype)
    kw = dict(learning_rate=0.5, num_iterations=4, chunk_size=4)
    if minibatch:
        kw.update(batch_size=8, key=jax.random.key(0))
    trained, costs = jaxdnn.fit(params, X, Y, ACTS, **kw)
    trained32, costs32 = jaxdnn.fit(p32, X32, Y32, ACTS, **kw)
    assert costs.dtype == dtype and {p.dtype for p in jax.tree.leaves(trained)} == {
        jnp.dtype(dtype)}
    np.testing.assert_allclose(np.asarray(costs, np.float32), costs32,
                               rtol=GRAD_FACTOR * eps(dtype))
    assert_grads_close(trained, trained32, GRAD_FACTOR, dtype, "trained params vs float32")


@pytest.mark.parametrize("dtype", NARROW, ids=["bfloat16", "float16"])
def test_checkpoints_round_trip_bitwise(dtype, tmp_path):
    params, *_ = problem(dtype)
    opt = jaxdnn.adam(0.01)
    state = jax.jit(lambda params: opt.update(jax.tree.map(lambda p: p * 0.5, params),
                                              opt.init(params), params)[1])(params)
    path = checkpoint.save(tmp_path / "c.npz", params, state, {}, [1.0], 1)
    got = checkpoint.load(path, like=(params, state))
    for a, b in zip(jax.tree.leaves((params, state)), jax.tree.leaves((got.params,
                                                                         got.opt_state))):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.atleast_1d(a).view(np.uint8),
                                      np.atleast_1d(b).view(np.uint8))


def with_nan(A, i, j):
    """``A`` with a NaN at ``[i, j]``, planted in NumPy (no eager compile)."""
    a = np.array(A)
    a[i, j] = np.nan
    return as_jax(a, a.dtype)


def test_narrow_nans_are_refused_and_numpy_bfloat16_accepted():
    params, X, Y, p32, *_ = problem(jnp.bfloat16, dims=SQUARE)  # eager entry points
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        jaxdnn.fit(params, with_nan(X, 1, 2), Y, ACTS)
    with pytest.raises(ValueError, match="Y contains NaN"):
        jaxdnn.cost(params, X, with_nan(Y, 0, 3), ACTS)
    X_np = np.array(X)  # NumPy's bfloat16 (ml_dtypes)
    assert float(jaxdnn.cost(params, X_np, Y, ACTS)) == float(jaxdnn.cost(params, X, Y, ACTS))
    X_np[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        jaxdnn.cost(params, X_np, Y, ACTS)
    with pytest.raises(TypeError, match=r"X has dtype bfloat16 but the params are float32.*"
                                        r"compute_dtype='bfloat16'"):
        jaxdnn.cost(p32, X, Y, ACTS)


# ----------------------------------------------------------------------------------------------
# float16 and the optimizers


def test_adam_updates_in_float16_stay_finite_where_float16_moments_would_not():
    """Eager, op by op, so that every float16 result is rounded to float16 (a compiled program may
    keep a fused intermediate wider, and optax's float16 Adam then stays finite on ``small``).
    Square layers: two leaf shapes, so each eager op compiles twice, not six times."""
    params, *_ = problem(jnp.float16, dims=SQUARE)
    small = jax.tree.map(lambda p: jnp.full_like(p, 1e-3), params)  # (1 - b2) g^2 underflows
    zero = jax.tree.map(jnp.zeros_like, params)  # 0 / (sqrt(0) + eps): eps = 1e-8 is 0 in float16
    for grads in (small, zero):
        for opt in (jaxdnn.adam(0.01), jaxdnn.rmsprop(0.01), jaxdnn.momentum(0.01)):
            updates, _ = opt.update(grads, opt.init(params), params)
            assert all(u.dtype == jnp.float16 and bool(jnp.all(jnp.isfinite(u)))
                       for u in jax.tree.leaves(updates))
        ref, _ = optax.adam(0.01).update(  # optax in float32: the same rule, no underflow
            jax.tree.map(lambda g: g.astype(jnp.float32), grads),
            optax.adam(0.01).init(jax.tree.map(lambda p: p.astype(jnp.float32), params)))
        got, _ = jaxdnn.adam(0.01).update(grads, jaxdnn.adam(0.01).init(params))
        assert_grads_close(got, ref, 1, jnp.float16, "float16 Adam vs float32 optax")
    updates, _ = optax.adam(0.01).update(zero, optax.adam(0.01).init(params))
    assert not all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


def test_fit_refuses_an_optimizer_that_divides_zero_by_zero_in_float16():
    params, X, Y, *_ = problem(jnp.float16, dims=SQUARE)  # fit checks the optimizer eagerly
    with pytest.raises(ValueError, match=r"first update is NaN or Inf for float16.*eps.*"
                                         r"compute_dtype=jnp.float16"):
        jaxdnn.fit(params, X, Y, ACTS, optimizer=optax.adam(0.01), num_iterations=2)
    _, costs = jaxdnn.fit(params, X, Y, ACTS, optimizer=optax.adam(0.01, eps=1e-4),
                          num_iterations=2)
    assert bool(jnp.all(jnp.isfinite(costs)))


def test_a_float16_divergence_names_the_dtype_not_the_learning_rate():
    params, X, Y, *_ = problem(jnp.float16)
    with pytest.raises(jaxdnn.NonFiniteCostError, match=r"float16 \(largest 65504") as info:
        jaxdnn.fit(params, X * 300, Y, ("linear", "linear", "sigmoid"), learning_rate=50.0,
                   num_iterations=4, chunk_size=4)
    assert "learning rate" not in str(info.value)


# ----------------------------------------------------------------------------------------------
# mixed precision: float32 params, bfloat16 products


def test_mixed_precision_gradients_are_float32_and_match_autodiff():
    params, X, Y, p32, X32, Y32 = problem(jnp.bfloat16)

    @jax.jit  # the three in one compiled program, not op by op (130 eager compiles)
    def three(p32, X32, Y32):
        return (jaxdnn.manual_value_and_grad(p32, X32, Y32, ACTS, compute_dtype=jnp.bfloat16),
                jaxdnn.autodiff_value_and_grad(p32, X32, Y32, ACTS, compute_dtype=jnp.bfloat16),
                jaxdnn.manual_value_and_grad(p32, X32, Y32, ACTS))

    (J, grads), (J_ad, grads_ad), (J32, grads32) = three(p32, X32, Y32)
    assert J.dtype == jnp.float32 and {g.dtype for g in jax.tree.leaves(grads)} == {
        jnp.dtype(jnp.float32)}
    assert float(J) == pytest.approx(float(J_ad), rel=VALUE_FACTOR * eps(jnp.bfloat16))
    assert_grads_close(grads, grads_ad, GRAD_FACTOR, jnp.bfloat16, "mixed manual vs autodiff")
    assert_grads_close(grads, grads32, GRAD_FACTOR, jnp.bfloat16, "mixed vs float32")
    # and the products did run in bfloat16: the cost differs from float32's beyond its round-off
    assert abs(float(J) - float(J32)) > 4 * eps(jnp.float32) * float(J32)


def test_mixed_precision_trains_the_mnist_shaped_network_like_float32():
    rng = np.random.default_rng(0)
    m = 256
    X = as_jax(rng.random((784, m)), np.float32)  # pixel intensities in [0, 1]
    w = rng.standard_normal(784)
    Y = as_jax((w @ np.asarray(X) > np.median(w @ np.asarray(X)))[None], np.float32)
    params = random_params(rng, [784, 128, 64, 1], np.float32, method="he")
    acts = ("relu", "relu", "sigmoid")
    # Adam at a step size whose curve is smooth: a bumpy one amplifies round-off into noise
    kw = dict(optimizer=jaxdnn.adam(3e-4), num_iterations=40, chunk_size=40)
    trained, costs = jaxdnn.fit(params, X, Y, acts, compute_dtype=jnp.bfloat16, **kw)
    _, costs32 = jaxdnn.fit(params, X, Y, acts, **kw)
    assert {p.dtype for p in jax.tree.leaves(trained)} == {jnp.dtype(jnp.float32)}
    assert float(costs[-1]) < 0.6 * float(costs[0])  # it trained
    assert float(costs[-1]) == pytest.approx(float(costs32[-1]), rel=0.01)


def test_compute_dtype_is_checked():
    params, X, Y, p32, X32, Y32 = problem(jnp.bfloat16)
    with pytest.raises(TypeError, match="compute_dtype must be None or a floating dtype.*int32"):
        jaxdnn.fit(p32, X32, Y32, ACTS, compute_dtype=jnp.int32)
    config = jaxdnn.TrainConfig(ACTS, jaxdnn.gradient_descent(0.1).update,
                                compute_dtype="bfloat16")
    assert config.compute_dtype == "bfloat16" and hash(config)
