"""fit: the course's published runs, equality with independent loops, vmap, errors, compile reuse."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn
from jaxdnn import train
from jaxdnn.course import course_params

from .conftest import DATA_DIR, assert_trees_close


@pytest.fixture(scope="module")
def cat():
    if not (DATA_DIR / "train_catvnoncat.h5").exists():
        msg = f"the course's cat data is not at {DATA_DIR} (set JAXDNN_DATA to its folder)"
        if os.environ.get("CI"):
            pytest.fail(msg)  # in CI the data must be found
        pytest.skip(msg)
    d = jaxdnn.data.load_catvnoncat(DATA_DIR)
    f64 = lambda a: jnp.asarray(a, jnp.float64)  # noqa: E731
    return f64(d.train_x), f64(d.train_y), f64(d.test_x), f64(d.test_y)


def test_course_l_layer_cat_run(cat):
    """The course: cost 0.771749 at iteration 0, 0.092878 at 2400; accuracy 0.9856 / 0.80."""
    X, Y, Xt, Yt = cat
    acts = ("relu", "relu", "relu", "sigmoid")
    params, costs = jaxdnn.fit(course_params([12288, 20, 7, 5, 1], 1, "xavier"), X, Y, acts,
                               learning_rate=0.0075, num_iterations=2500, progress=False)
    assert costs.shape == (2500,)
    assert round(float(costs[0]), 6) == 0.771749
    assert round(float(costs[2400]), 6) == 0.092878
    assert round(float(jaxdnn.accuracy(params, X, Y, acts)), 4) == 0.9856
    assert float(jaxdnn.accuracy(params, Xt, Yt, acts)) == 0.80


def test_course_two_layer_cat_run(cat):
    """The course: 0.6930497356599888 -> 0.04855478562877018 at 2400; accuracy 1.0 / 0.72."""
    X, Y, Xt, Yt = cat
    acts = ("relu", "sigmoid")
    params, costs = jaxdnn.fit(course_params([12288, 7, 1], 1, "small"), X, Y, acts,
                               learning_rate=0.0075, num_iterations=2500, progress=False)
    assert float(costs[0]) == pytest.approx(0.6930497356599888, abs=5e-6)
    assert float(costs[2400]) == pytest.approx(0.04855478562877018, abs=5e-6)
    assert float(jaxdnn.accuracy(params, X, Y, acts)) == 1.0
    assert float(jaxdnn.accuracy(params, Xt, Yt, acts)) == 0.72


# ----------------------------------------------------------------------------------------------
# small problems: fit against independent reference loops

DIMS, ACTS = [3, 5, 4, 1], ("tanh", "relu", "sigmoid")


def problem(m=24, dtype=jnp.float64, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(k1, (3, m), dtype)
    Y = (X[:1] * X[1:2] + 0.3 * X[2:] > 0).astype(dtype)
    params = jaxdnn.init_params(k2, DIMS, "he", dtype)
    return params, X, Y


def reference_loop(params, X, Y, lr, n):
    """The course's loop, one eager step at a time: cost, hand-derived grads, update."""
    costs = []
    for _ in range(n):
        J, g = jaxdnn.manual_value_and_grad(params, X, Y, ACTS)
        costs.append(float(J))
        params = jaxdnn.gd_update(params, g, lr)
    return params, np.array(costs)


@pytest.mark.parametrize("grad", ["manual", "autodiff"])
def test_fit_equals_the_step_by_step_loop(grad):
    params, X, Y = problem()
    ref_params, ref_costs = reference_loop(params, X, Y, 0.3, 40)
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.3, num_iterations=40,
                                       grad=grad, chunk_size=15)
    np.testing.assert_allclose(got_costs, ref_costs, rtol=1e-12)
    assert_trees_close(got_params, ref_params, rtol=1e-11, atol=1e-14, what=f"fit[{grad}]")
    assert float(got_costs[0]) == pytest.approx(float(jaxdnn.cost(params, X, Y, ACTS)), rel=1e-15)


def test_chunking_does_not_change_the_result_bitwise():
    params, X, Y = problem()
    a = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=30, chunk_size=30)
    b = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=30, chunk_size=7)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


def test_vmap_over_8_seeds_equals_8_separate_fits():
    _, X, Y = problem()
    keys = jax.random.split(jax.random.key(42), 8)
    init = lambda k: jaxdnn.init_params(k, DIMS, "he", jnp.float64)  # noqa: E731
    stacked = jax.vmap(init)(keys)
    fit = lambda p: jaxdnn.fit(p, X, Y, ACTS, learning_rate=0.2, num_iterations=60)  # noqa: E731
    v_params, v_costs = jax.vmap(fit)(stacked)
    assert v_costs.shape == (8, 60)
    for i, k in enumerate(keys):
        p, c = fit(init(k))
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-12, atol=0)
        assert_trees_close(jax.tree.map(lambda a: a[i], v_params), p, rtol=1e-12, atol=1e-13,
                           what=f"seed {i}")


def test_vmap_over_learning_rates():
    params, X, Y = problem()
    lrs = jnp.array([0.01, 0.1, 0.5])
    v_params, v_costs = jax.vmap(
        lambda lr: jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=25))(lrs)
    for i, lr in enumerate([0.01, 0.1, 0.5]):
        p, c = jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=25)
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-12)


def test_minibatch_epochs_equal_an_explicit_loop():
    """Reshuffled minibatches, last one partial, cost = mean per-example cost of the epoch."""
    params, X, Y = problem(m=23)
    key, bs, lr, epochs = jax.random.key(3), 5, 0.2, 4
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=epochs,
                                       batch_size=bs, key=key)
    k_shuffle, _ = jax.random.split(key)
    p, costs = params, []
    for e in range(epochs):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_shuffle, e), 23))
        total = 0.0
        for lo in range(0, 23, bs):  # batches of 5, 5, 5, 5, 3
            idx = perm[lo:lo + bs]
            J, g = jaxdnn.manual_value_and_grad(p, X[:, idx], Y[:, idx], ACTS)
            total += float(J) * len(idx)
            p = jaxdnn.gd_update(p, g, lr)
        costs.append(total / 23)
    np.testing.assert_allclose(got_costs, costs, rtol=1e-12)
    assert_trees_close(got_params, p, rtol=1e-11, atol=1e-14, what="minibatch fit")


@pytest.mark.parametrize("make_opt", [
    lambda: optax.adam(0.01), lambda: jaxdnn.adam(0.01), lambda: jaxdnn.momentum(0.1, 0.9)])
def test_fit_with_an_optax_optimizer_equals_the_optax_loop(make_opt):
    params, X, Y = problem()
    opt = make_opt()
    state, p, costs = opt.init(params), params, []
    for _ in range(20):
        J, g = jaxdnn.manual_value_and_grad(p, X, Y, ACTS)
        costs.append(float(J))
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, optimizer=opt, num_iterations=20)
    np.testing.assert_allclose(got_costs, costs, rtol=1e-12)
    assert_trees_close(got_params, p, rtol=1e-10, atol=1e-13, what="optimizer fit")


def test_fit_with_l2_and_dropout_runs_the_regularised_gradients():
    params, X, Y = problem()
    p_l2, c_l2 = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=5, l2=0.5)
    assert float(c_l2[0]) == pytest.approx(float(jaxdnn.cost(params, X, Y, ACTS, l2=0.5)), rel=1e-14)
    key = jax.random.key(1)
    _, c_drop = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=5,
                           keep_prob=0.7, key=key)
    _, k_drop = jax.random.split(key)
    expected = jaxdnn.cost(params, X, Y, ACTS, keep_prob=0.7, key=jax.random.fold_in(k_drop, 0))
    assert float(c_drop[0]) == pytest.approx(float(expected), rel=1e-14)


def test_fit_leaves_the_callers_params_usable():
    params, X, Y = problem()
    before = [np.asarray(x).copy() for x in jax.tree.leaves(params)]
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=3)
    for b, x in zip(before, jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(x), b)  # not donated, not modified


def test_a_second_call_does_not_compile_again():
    params, X, Y = problem(m=17)
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, chunk_size=10)
    size = train._run._cache_size()
    params2 = jaxdnn.init_params(jax.random.key(9), DIMS, "he", jnp.float64)
    jaxdnn.fit(params2, X + 1.0, Y, ACTS, learning_rate=0.05, num_iterations=20, chunk_size=10)
    assert train._run._cache_size() == size


def test_progress_is_printed_between_chunks(capsys):
    params, X, Y = problem()
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, chunk_size=10,
               progress=True)
    err = capsys.readouterr().err.splitlines()
    assert [line.split()[2] for line in err] == ["10/20", "20/20"]
    assert "cost" in err[0] and "iterations/s" in err[0]
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, progress=False)
    assert capsys.readouterr().err == ""


def test_a_diverging_run_raises_naming_the_iteration_and_last_finite_cost():
    params, X, Y = problem(dtype=jnp.float32)
    X = X * 1e3
    with pytest.raises(jaxdnn.NonFiniteCostError,
                       match=r"cost at iteration \d+ is (nan|inf).*last finite cost was") as info:
        jaxdnn.fit(params, X, Y, ("linear", "linear", "sigmoid"), learning_rate=1e30,
                   num_iterations=50, chunk_size=10)
    err = info.value
    assert 1 <= err.iteration < 50 and np.isfinite(err.last_finite_cost)
    # the same run step by step: the error names exactly the first non-finite cost
    _, costs = jax.jit(lambda p: jax.vmap(lambda q: jaxdnn.fit(
        q, X, Y, ("linear", "linear", "sigmoid"), learning_rate=1e30, num_iterations=50))(p))(
        jax.tree.map(lambda a: a[None], params))
    costs = np.asarray(costs[0])
    assert err.iteration == int(np.argmin(np.isfinite(costs)))
    assert err.last_finite_cost == pytest.approx(float(costs[err.iteration - 1]), rel=1e-6)


def test_check_finite_names_the_first_non_finite_gradient_leaf():
    params, X, Y = problem(dtype=jnp.float32)
    with pytest.raises(jaxdnn.NonFiniteCostError, match=r"\[\d\]\['(W|b)'\] \(layer \d\)") as info:
        jaxdnn.fit(params, X * 1e3, Y, ("linear", "linear", "sigmoid"), learning_rate=1e30,
                   num_iterations=50, chunk_size=10, check_finite=True)
    assert info.value.leaf in {f"[{l}]['{k}']" for l in range(3) for k in "Wb"}


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(grad="numeric"), ValueError, r"grad must be one of \['autodiff', 'manual'\]"),
    (dict(num_iterations=0), ValueError, r"num_iterations must be >= 1, got 0"),
    (dict(num_iterations=2.5), TypeError, r"num_iterations must be an int"),
    (dict(batch_size=0, key=jax.random.key(0)), ValueError, r"batch_size must be between 1 and m"),
    (dict(batch_size=100, key=jax.random.key(0)), ValueError, r"between 1 and m = 24, got 100"),
    (dict(batch_size=4), ValueError, r"pass key="),
    (dict(optimizer=optax.sgd(0.1), learning_rate=0.1), ValueError, r"leave learning_rate unset"),
    (dict(optimizer="adam"), TypeError, r"optimizer must be an optax.GradientTransformation"),
    (dict(learning_rate=-1.0), ValueError, r"learning_rate must lie in \(0, inf\), got -1.0"),
    (dict(chunk_size=0), ValueError, r"chunk_size must be a positive int"),
    (dict(checkpoint_every=5), ValueError, r"checkpoint_every needs checkpoint_dir"),
])
def test_bad_settings_raise_before_any_work(kwargs, error, match):
    params, X, Y = problem()
    with pytest.raises(error, match=match):
        jaxdnn.fit(params, X, Y, ACTS, **kwargs)


def test_bad_data_is_caught_by_fit_too():
    params, X, Y = problem()
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 24\)"):
        jaxdnn.fit(params, X, Y[0], ACTS)
    with pytest.raises(ValueError, match=r"X contains 1 NaN"):
        jaxdnn.fit(params, X.at[0, 0].set(jnp.nan), Y, ACTS)
