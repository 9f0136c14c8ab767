"""fit and train_steps: the course's published runs, equality with independent loops, vmap and
sweeps without recompiling, validation curves, decay schedules, errors."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn

from .conftest import DATA_DIR, assert_trees_close, count_compiles, he_params


def cat_data_dir():
    if not (DATA_DIR / "train_catvnoncat.h5").exists():
        msg = f"the course's cat data is not at {DATA_DIR} (set JAXDNN_DATA to its folder)"
        if os.environ.get("CI"):
            pytest.fail(msg)  # in CI the data must be found
        pytest.skip(msg)
    return DATA_DIR


# The course's cat runs are 2500 float64 iterations of GEMMs and elementwise passes over
# 12288 x 209: compute-bound, so they run in a fresh process at XLA's default optimisation level,
# as users run them (the rest of the suite compiles with cheaper settings: conftest.py).
COURSE_CAT_RUN = """
import json, sys
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import jaxdnn
from jaxdnn.course import course_params
dims, init, acts = json.loads(sys.argv[2])
d = jaxdnn.data.load_catvnoncat(sys.argv[1])
X, Y, Xt, Yt = (jnp.asarray(a, jnp.float64) for a in (d.train_x, d.train_y, d.test_x, d.test_y))
acts = tuple(acts)
params, costs = jaxdnn.fit(course_params(dims, 1, init), X, Y, acts, learning_rate=0.0075,
                           num_iterations=2500, progress=False)
accuracy = jax.jit(jaxdnn.accuracy, static_argnames="activations")
print(json.dumps({"costs": [float(c) for c in costs],
                  "train_accuracy": float(accuracy(params, X, Y, activations=acts)),
                  "test_accuracy": float(accuracy(params, Xt, Yt, activations=acts))}))
"""


def course_cat_run(dims, init, acts):
    """fit's 2500 iterations of the course's cat run, from the course's params, in a subprocess:
    ``{"costs", "train_accuracy", "test_accuracy"}``."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", COURSE_CAT_RUN, str(cat_data_dir()),
                          json.dumps([dims, init, acts])], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_course_l_layer_cat_run():
    """The course: cost 0.771749 at iteration 0, 0.092878 at 2400; accuracy 0.9856 / 0.80."""
    run = course_cat_run([12288, 20, 7, 5, 1], "xavier", ["relu", "relu", "relu", "sigmoid"])
    assert len(run["costs"]) == 2500
    assert round(run["costs"][0], 6) == 0.771749
    assert round(run["costs"][2400], 6) == 0.092878
    assert round(run["train_accuracy"], 4) == 0.9856
    assert run["test_accuracy"] == 0.80


@pytest.mark.slow
def test_course_two_layer_cat_run():
    """The course: 0.6930497356599888 -> 0.04855478562877018 at 2400; accuracy 1.0 / 0.72."""
    run = course_cat_run([12288, 7, 1], "small", ["relu", "sigmoid"])
    assert run["costs"][0] == pytest.approx(0.6930497356599888, abs=5e-6)
    assert run["costs"][2400] == pytest.approx(0.04855478562877018, abs=5e-6)
    assert run["train_accuracy"] == 1.0
    assert run["test_accuracy"] == 0.72


# ----------------------------------------------------------------------------------------------
# small problems: fit against independent reference loops

DIMS, ACTS = [3, 5, 4, 1], ("tanh", "relu", "sigmoid")


def problem(m=24, dtype=jnp.float64, seed=0):
    """He-initialised params and random data, ``X: (3, m)``, ``Y: (1, m)``, made with NumPy:
    eager jax.random calls would compile op by op at every new shape and dtype."""
    X = np.random.default_rng(seed).standard_normal((3, m))
    Y = (X[:1] * X[1:2] + 0.3 * X[2:] > 0).astype(np.float64)
    return he_params(DIMS, seed + 1, dtype), jnp.asarray(X, dtype), jnp.asarray(Y, dtype)


def reference_loop(params, X, Y, lr, n):
    """The course's loop, one eager step at a time: cost, hand-derived grads, update."""
    costs = []
    for _ in range(n):
        J, g = jaxdnn.manual_value_and_grad(params, X, Y, ACTS)
        costs.append(float(J))
        params = jaxdnn.gd_update(params, g, lr)
    return params, np.array(costs)


# m = 2 < n_x = 3: the full-batch loop reads X from its examples-first copy (the layout choice
# of jaxdnn.speed.examples_first_products), and must still train exactly as the course does
@pytest.mark.parametrize("grad,m", [("manual", 24), ("autodiff", 24), ("manual", 2)])
def test_fit_equals_the_step_by_step_loop(grad, m):
    params, X, Y = problem(m)
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
    # a jitted, vmapped fit first in the process must leave nothing traced behind for the
    # separate fits below
    _, X, Y = problem()
    keys = jax.random.split(jax.random.key(42), 8)
    init = lambda k: jaxdnn.init_params(k, DIMS, "he", jnp.float64)
    stacked = jax.vmap(init)(keys)
    fit = lambda p: jaxdnn.fit(p, X, Y, ACTS, learning_rate=0.2, num_iterations=60)
    v_params, v_costs = jax.jit(jax.vmap(fit))(stacked)
    assert v_costs.shape == (8, 60)
    for i, k in enumerate(keys):
        p, c = fit(init(k))
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-12, atol=0)
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], v_params), p, rtol=1e-12, atol=1e-13,
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
    assert float(c_l2[0]) == pytest.approx(float(jaxdnn.cost(params, X, Y, ACTS, l2=0.5)),
                                           rel=1e-14)
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


@pytest.mark.parametrize("kwargs", [
    dict(), dict(batch_size=8, key=jax.random.key(3)), dict(validation_data="train")],
    ids=["full", "minibatch", "validation"])
def test_fit_makes_no_implicit_transfers(kwargs):
    """Once compiled, a fit call moves nothing between host and device behind the caller's back:
    its scalars go over explicitly, and only the costs it checks come back (jax.device_get)."""
    params, X, Y = problem()
    if kwargs.get("validation_data") == "train":
        kwargs = dict(validation_data=(X, Y))
    kw = dict(learning_rate=0.1, num_iterations=6, chunk_size=3, **kwargs)
    expected = jaxdnn.fit(params, X, Y, ACTS, **kw)  # compiles; the guarded call reuses it
    with jax.transfer_guard("disallow"):
        got = jaxdnn.fit(params, X, Y, ACTS, **kw)
    assert_trees_close(got, expected, rtol=0, what="the guarded call")


FIRST_FIT_TRACED = """
import jax, numpy as np, jaxdnn
X = jax.device_put(np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32))
Y = jax.device_put((np.asarray(X[:1]) > 0).astype(np.float32))
params = jaxdnn.init_params(jax.random.key(0), [2, 3, 1])
run = lambda p: jaxdnn.fit(p, X, Y, ("tanh", "sigmoid"), optimizer=jaxdnn.adam(0.01),
                           num_iterations=3)[1]
traced = jax.jit(run)(params)  # the process's first fit and init run under a trace
assert np.array_equal(traced, run(params)), (traced, run(params))
"""


def test_a_first_fit_under_jit_leaves_later_fits_working():
    """What fit and the optimizers make once per process is made outside any trace: a first
    call under jit leaks no tracer into the next, eager, one (a fresh process: first calls)."""
    out = subprocess.run([sys.executable, "-c", FIRST_FIT_TRACED], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def test_a_second_call_does_not_compile_again():
    params, X, Y = problem(m=17)
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, chunk_size=10)
    params2, _, _ = problem(m=17, seed=9)
    X2 = X + 1.0
    with count_compiles() as compiles:
        jaxdnn.fit(params2, X2, Y, ACTS, learning_rate=0.05, num_iterations=20, chunk_size=10)
    assert len(compiles) == 0


def test_progress_bar_advances_between_chunks(capsys):
    params, X, Y = problem()
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, chunk_size=10,
               progress=True)
    err = capsys.readouterr().err
    assert "10/20" in err and "20/20" in err and "cost=" in err  # tqdm's bar, after each chunk
    assert "5/20" not in err
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


# ----------------------------------------------------------------------------------------------
# sweeps: no recompiling, vmap over hyperparameters, fit knows when it is traced


def test_ten_fits_with_new_adam_optimizers_compile_once(caplog):
    """Hyperparameters are data: ten learning rates, one compiled training program."""
    params, X, Y = problem(m=19)  # a shape no other test uses: the first fit compiles
    kw = dict(num_iterations=6, chunk_size=3, batch_size=5, key=jax.random.key(0))
    with count_compiles() as first:
        jaxdnn.fit(params, X, Y, ACTS, optimizer=jaxdnn.adam(0.001), **kw)
    assert len(first) >= 1
    costs = []
    with jax.log_compiles(True), caplog.at_level("WARNING"), count_compiles() as later:
        for lr in np.geomspace(1e-3, 1e-1, 9):
            costs.append(jaxdnn.fit(params, X, Y, ACTS, optimizer=jaxdnn.adam(lr), **kw)[1])
    compiles = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert compiles == [] and len(later) == 0, compiles  # nothing at all compiled for fits 2..10
    assert len({float(c[-1]) for c in costs}) == 9  # and the learning rates did differ


@pytest.mark.parametrize("make", [jaxdnn.adam, optax.adam], ids=["jaxdnn.adam", "optax.adam"])
def test_vmap_over_learning_rates_equals_separate_fits(make):
    params, X, Y = problem()
    lrs = [0.003, 0.03, 0.3]
    kw = dict(num_iterations=12, batch_size=8, key=jax.random.key(2))
    v_params, v_costs = jax.vmap(
        lambda lr: jaxdnn.fit(params, X, Y, ACTS, optimizer=make(lr), **kw))(jnp.array(lrs))
    for i, lr in enumerate(lrs):
        p, c = jaxdnn.fit(params, X, Y, ACTS, optimizer=make(lr), **kw)
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-10, err_msg=f"lr={lr}")
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], v_params), p, rtol=1e-10, atol=1e-12,
                           what=f"vmapped lr={lr}")


def test_jit_over_a_learning_rate_inside_an_optax_closure():
    """The only traced value hides in optax.adam's closure: fit must still take its traced path,
    and one compiled program serves every learning rate."""
    params, X, Y = problem()
    sweep = jax.jit(lambda lr: jaxdnn.fit(params, X, Y, ACTS, optimizer=optax.adam(lr),
                                          num_iterations=8))
    counts = []
    for lr in (0.01, 0.1):
        with count_compiles() as compiles:
            p, c = sweep(jnp.asarray(lr))
        counts.append(len(compiles))
        p_ref, c_ref = jaxdnn.fit(params, X, Y, ACTS, optimizer=optax.adam(lr), num_iterations=8)
        np.testing.assert_allclose(c, c_ref, rtol=1e-10)
        assert_trees_close(p, p_ref, rtol=1e-10, atol=1e-13, what=f"jit lr={lr}")
    assert counts[0] >= 1 and counts[1] == 0, counts  # the second learning rate: no new program


def test_vmap_over_l2_strength_equals_separate_fits():
    params, X, Y = problem()
    l2s = [0.0, 0.5, 2.0]
    v_params, v_costs = jax.vmap(lambda l2: jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1,
                                                       num_iterations=10, l2=l2))(jnp.array(l2s))
    for i, l2 in enumerate(l2s):
        p, c = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=10, l2=l2)
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-12)
    # the independent reference: the core's own L2 cost at the initial params
    assert float(v_costs[2, 0]) == pytest.approx(
        float(jaxdnn.cost(params, X, Y, ACTS, l2=2.0)), rel=1e-14)


# ----------------------------------------------------------------------------------------------
# the pure training function, validation curves, decay


def test_train_steps_called_directly_equals_fit():
    params, X, Y = problem(m=23)
    key, opt = jax.random.key(3), jaxdnn.adam(0.01)
    config = jaxdnn.TrainConfig(ACTS, opt.update, batch_size=5, keep_prob=0.9)
    state = jaxdnn.TrainState(params, opt.init(params), jnp.int32(0))
    run = jax.jit(jaxdnn.train_steps, static_argnums=(0, 1))
    data = jaxdnn.examples_first(X, Y)
    assert data.X.shape == (23, 3) and data.Y.shape == (23, 1)
    state, m1 = run(config, 3, state, data, key)
    state, m2 = run(config, 3, state, data, key)  # continues at epoch 3
    p, c = jaxdnn.fit(params, X, Y, ACTS, optimizer=opt, num_iterations=6, batch_size=5,
                      keep_prob=0.9, key=key)
    np.testing.assert_array_equal(np.concatenate([m1.costs, m2.costs]), c)
    assert int(state.step) == 6 and int(m2.bad) == -1
    assert_trees_close(state.params, p, rtol=0, atol=0, what="train_steps vs fit")


def test_validation_curves_are_measured_after_each_chunk():
    params, X, Y = problem()
    Xv, Yv = X[:, :10] * 0.9, Y[:, :10]
    kw = dict(learning_rate=0.2, chunk_size=4)
    p, costs, val = jaxdnn.fit(params, X, Y, ACTS, num_iterations=10,
                               validation_data=(Xv, Yv), **kw)
    np.testing.assert_array_equal(val.iteration, [4, 8, 10])
    for i, n in enumerate([4, 8, 10]):  # independent: a shorter run, then the core's cost
        p_n, _ = jaxdnn.fit(params, X, Y, ACTS, num_iterations=n, **kw)
        assert float(val.cost[i]) == pytest.approx(float(jaxdnn.cost(p_n, Xv, Yv, ACTS)),
                                                   rel=1e-12)
        assert float(val.accuracy[i]) == float(jaxdnn.accuracy(p_n, Xv, Yv, ACTS))
    # under vmap the same curves come out of the traced path
    _, _, v_val = jax.vmap(lambda lr: jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr,
                                                 num_iterations=10, chunk_size=4,
                                                 validation_data=(Xv, Yv)))(jnp.array([0.2]))
    np.testing.assert_allclose(v_val.cost[0], val.cost, rtol=1e-12)
    np.testing.assert_array_equal(v_val.iteration[0], val.iteration)


def test_validation_is_shown_with_the_progress(capsys):
    params, X, Y = problem()
    jaxdnn.fit(params, X, Y, ACTS, num_iterations=4, chunk_size=2, learning_rate=0.1,
               validation_data=(X, Y), progress=True)
    err = capsys.readouterr().err
    assert "val_cost=" in err and "val_acc=" in err


@pytest.mark.parametrize("time_interval", [1, 2], ids=["update_lr", "schedule_lr_decay"])
def test_fit_with_the_course_decay_equals_a_loop_with_the_course_formula(time_interval):
    """Minibatches: the rate drops per epoch, lr0 / (1 + decay_rate * floor(epoch / interval))."""
    params, X, Y = problem(m=23)
    key, bs, lr0, rate, epochs = jax.random.key(4), 5, 0.3, 0.7, 4
    schedule = jaxdnn.schedules.inverse_time_decay(lr0, rate, time_interval=time_interval,
                                                   steps_per_epoch=5)  # ceil(23 / 5)
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, learning_rate=schedule,
                                       num_iterations=epochs, batch_size=bs, key=key)
    k_shuffle, _ = jax.random.split(key)
    # compiled steps (one per minibatch shape) on NumPy minibatches: eagerly, every operation
    # would compile on its own at each shape
    value_and_grad = jax.jit(jaxdnn.manual_value_and_grad, static_argnames="activations")
    gd_update = jax.jit(jaxdnn.gd_update)
    p, Xn, Yn = params, np.asarray(X), np.asarray(Y)
    for e in range(epochs):
        lr = lr0 / (1 + rate * np.floor(e / time_interval))  # the course's formula
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_shuffle, e), 23))
        for lo in range(0, 23, bs):
            _, g = value_and_grad(p, Xn[:, perm[lo:lo + bs]], Yn[:, perm[lo:lo + bs]],
                                  activations=ACTS)
            p = gd_update(p, g, lr)
    assert_trees_close(got_params, p, rtol=1e-11, atol=1e-14, what="decayed fit")


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(validation_data=(1, 2, 3)), TypeError, r"validation_data must be a pair"),
    (dict(validation_data=(jnp.zeros((2, 5)), jnp.zeros((1, 5)))), ValueError,
     r"validation_data: X must have shape \(3, m\)"),
    (dict(key=5), TypeError, r"key must be one PRNG key"),
    (dict(progress="yes"), TypeError, r"progress must be True, False or None"),
    (dict(l2=jnp.asarray(-1.0)), ValueError, r"l2 must lie in \[0, inf\)"),
])
def test_bad_new_settings_raise_before_any_work(kwargs, error, match):
    params, X, Y = problem()
    with pytest.raises(error, match=match):
        jaxdnn.fit(params, X, Y, ACTS, **kwargs)
