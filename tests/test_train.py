"""fit and train_steps: equality with independent loops, vmap and sweeps without recompiling,
validation curves, decay schedules, errors (the course's published cat runs: test_course.py; a
process whose first fit runs under jit: test_determinism.py, in its fresh process)."""

import os
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdnn

from .conftest import assert_trees_close, count_compiles, he_params

# ----------------------------------------------------------------------------------------------
# small problems: fit against independent reference loops

DIMS, ACTS = [3, 5, 4, 1], ("tanh", "relu", "sigmoid")


def problem(m=24, dtype=jnp.float64, seed=0):
    """He-initialised params and random data, ``X: (3, m)``, ``Y: (1, m)``, made with NumPy:
    eager jax.random calls would compile op by op at every new shape and dtype."""
    X = np.random.default_rng(seed).standard_normal((3, m))
    Y = (X[:1] * X[1:2] + 0.3 * X[2:] > 0).astype(np.float64)
    return he_params(DIMS, seed + 1, dtype), jnp.asarray(X, dtype), jnp.asarray(Y, dtype)


# The reference loops below are Python loops of compiled steps (one program per shape, shared by
# the tests): eagerly, every operation of a step would compile on its own at each new shape.
# The eager passes themselves are tested in test_backward.
value_and_grad = jax.jit(jaxdnn.manual_value_and_grad, static_argnames="activations")
gd_update = jax.jit(jaxdnn.gd_update)
cost = jax.jit(jaxdnn.cost, static_argnames=("activations", "keep_prob"))
grad = jax.jit(jax.grad(jaxdnn.cost), static_argnames="activations")
accuracy = jax.jit(jaxdnn.accuracy, static_argnames="activations")


def reference_loop(params, X, Y, lr, n, keep=()):
    """The course's loop, one step at a time: cost, hand-derived grads, update. With ``keep``,
    also the params after each of those numbers of updates."""
    costs, kept = [], {}
    for i in range(n):
        J, g = value_and_grad(params, X, Y, activations=ACTS)
        costs.append(float(J))
        params = gd_update(params, g, lr)
        if i + 1 in keep:
            kept[i + 1] = params
    return (params, np.array(costs), kept) if keep else (params, np.array(costs))


# m = 2 < n_x = 3 as well: fewer examples than features must train exactly as the course does
@pytest.mark.parametrize("grad,m", [("manual", 24), ("autodiff", 24), ("manual", 2)])
def test_fit_equals_the_step_by_step_loop(grad, m):
    params, X, Y = problem(m)
    ref_params, ref_costs = reference_loop(params, X, Y, 0.3, 40)
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.3, num_iterations=40,
                                       grad=grad, chunk_size=20)
    np.testing.assert_allclose(got_costs, ref_costs, rtol=1e-12)
    assert_trees_close(got_params, ref_params, rtol=1e-11, atol=1e-14, what=f"fit[{grad}]")
    assert float(got_costs[0]) == pytest.approx(float(cost(params, X, Y, ACTS)), rel=1e-15)


def test_chunking_does_not_change_the_result_bitwise():
    """One chunk of 20 against six of 3 and a last one of 2 (the lengths 20 and 3 are compiled
    for other tests too: each chunk length is a program)."""
    params, X, Y = problem()
    a = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, chunk_size=20)
    b = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=20, chunk_size=3)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


def test_vmap_over_8_seeds_equals_8_separate_fits():
    # a jitted, vmapped fit first in the process must leave nothing traced behind for the
    # separate fits below
    _, X, Y = problem()
    keys = jax.random.split(jax.random.key(42), 8)
    init = jax.jit(lambda k: jaxdnn.init_params(k, DIMS, "he", jnp.float64))  # one program
    stacked = jax.vmap(init)(keys)
    fit = lambda p: jaxdnn.fit(p, X, Y, ACTS, learning_rate=0.2, num_iterations=20)
    # (the rows are read in NumPy: indexing a device array compiles a slice per shape)
    v_params, v_costs = jax.device_get(jax.jit(jax.vmap(fit))(stacked))
    assert v_costs.shape == (8, 20)
    for i, k in enumerate(keys):
        p, c = fit(init(k))
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-12, atol=0)
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], v_params), p, rtol=1e-12, atol=1e-13,
                           what=f"seed {i}")


def test_minibatch_epochs_equal_an_explicit_loop():
    """Reshuffled minibatches, last one partial, cost = mean per-example cost of the epoch."""
    params, X, Y = problem(m=23)
    key, bs, lr, epochs = jax.random.key(3), 5, 0.2, 4
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=epochs,
                                       batch_size=bs, key=key)
    k_shuffle, _ = jax.random.split(key)
    p, costs, Xn, Yn = params, [], np.asarray(X), np.asarray(Y)
    for e in range(epochs):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_shuffle, e), 23))
        total = 0.0
        for lo in range(0, 23, bs):  # batches of 5, 5, 5, 5, 3
            idx = perm[lo:lo + bs]
            J, g = value_and_grad(p, Xn[:, idx], Yn[:, idx], activations=ACTS)
            total += float(J) * len(idx)
            p = gd_update(p, g, lr)
        costs.append(total / 23)
    np.testing.assert_allclose(got_costs, costs, rtol=1e-12)
    assert_trees_close(got_params, p, rtol=1e-11, atol=1e-14, what="minibatch fit")


@pytest.mark.parametrize("make_opt", [
    lambda: optax.adam(0.01), lambda: jaxdnn.adam(0.01), lambda: jaxdnn.momentum(0.1, 0.9)])
def test_fit_with_an_optax_optimizer_equals_the_optax_loop(make_opt):
    params, X, Y = problem()
    opt = make_opt()

    @jax.jit
    def step(p, state):  # one compiled step of the optax loop
        J, g = jaxdnn.manual_value_and_grad(p, X, Y, ACTS)
        updates, state = opt.update(g, state, p)
        return J, optax.apply_updates(p, updates), state

    state, p, costs = opt.init(params), params, []
    for _ in range(20):
        J, p, state = step(p, state)
        costs.append(float(J))
    got_params, got_costs = jaxdnn.fit(params, X, Y, ACTS, optimizer=opt, num_iterations=20)
    np.testing.assert_allclose(got_costs, costs, rtol=1e-12)
    assert_trees_close(got_params, p, rtol=1e-10, atol=1e-13, what="optimizer fit")


def test_fit_with_dropout_runs_the_regularised_gradients():
    """The first cost is the core's dropout cost with the first iteration's masks (that with L2
    it is the core's L2 cost: test_vmap_over_learning_rates_and_l2_strengths_equals_separate_fits).
    """
    params, X, Y = problem()
    key = jax.random.key(1)
    _, c_drop = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=5,
                           keep_prob=0.7, key=key)
    _, k_drop = jax.random.split(key)
    expected = cost(params, X, Y, ACTS, keep_prob=0.7, key=jax.random.fold_in(k_drop, 0))
    assert float(c_drop[0]) == pytest.approx(float(expected), rel=1e-14)


def test_fit_leaves_the_callers_params_usable():
    params, X, Y = problem()
    before = [np.asarray(x).copy() for x in jax.tree.leaves(params)]
    jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.1, num_iterations=3)
    for b, x in zip(before, jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(x), b)  # not modified


@pytest.mark.parametrize("kwargs", [
    dict(), dict(batch_size=8, key=jax.random.key(3)), dict(validation_data="train"),
    dict(optimizer="adam")], ids=["full", "minibatch", "validation", "adam"])
def test_fit_makes_no_implicit_transfers(kwargs):
    """Once compiled, a fit call moves nothing between host and device behind the caller's back:
    its scalars go over explicitly, and only the costs it checks come back (jax.device_get)."""
    params, X, Y = problem()
    if kwargs.get("validation_data") == "train":
        kwargs = dict(validation_data=(X, Y))
    if kwargs.get("optimizer") == "adam":  # its state: moments, hyperparameters, count
        kwargs = dict(optimizer=jaxdnn.adam(0.01))
    kw = dict(num_iterations=6, chunk_size=3, **kwargs)
    kw.setdefault("learning_rate", None if "optimizer" in kw else 0.1)
    expected = jaxdnn.fit(params, X, Y, ACTS, **kw)  # compiles; the guarded call reuses it
    with jax.transfer_guard("disallow"):
        got = jaxdnn.fit(params, X, Y, ACTS, **kw)
    assert_trees_close(got, expected, rtol=0, what="the guarded call")


def test_a_repeated_fit_transfers_nothing_and_trains_as_an_explicit_optimizer():
    """fit's default gradient descent puts a number learning rate (and L2 strength) on the device
    once: a repeated call makes no host-to-device transfer at all, not even an explicit one, also
    after the first was traced under jit (a traced first call must not leave a tracer behind), and
    trains exactly as the same rule passed as ``optimizer``."""
    params, X, Y = problem()
    kw = dict(num_iterations=6, l2=0.25)
    first = jax.jit(lambda p: jaxdnn.fit(p, X, Y, ACTS, learning_rate=0.0625, **kw))(params)
    with jax.transfer_guard_host_to_device("disallow_explicit"):
        got = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.0625, **kw)
        with pytest.raises(Exception, match="host-to-device"):  # a new rate: one transfer
            jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.125, **kw)
    explicit = jaxdnn.fit(params, X, Y, ACTS, optimizer=jaxdnn.gradient_descent(0.0625), **kw)
    assert_trees_close(got, explicit, rtol=0, what="the default optimizer against the explicit")
    assert_trees_close(first, explicit, rtol=1e-12, what="the jitted call")


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


def test_bad_checkpoint_dirs_and_params_raise_before_any_work(tmp_path):
    params, X, Y = problem()
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o500)
    if os.access(read_only, os.W_OK):  # root writes anywhere: /proc takes no new file or folder
        read_only = pathlib.Path("/proc")
    cases = [(a_file, r"is a file, expected a directory"),
             (a_file / "run", r"cannot be created"),
             (read_only / "run", r"cannot be created"),
             (read_only, r"is not writable")]
    nan_params = [dict(p) for p in params]
    nan_params[1]["W"] = params[1]["W"].at[0, 0].set(jnp.inf)
    with count_compiles() as compiles:
        for where, match in cases:
            expected = f"checkpoint_dir '{re.escape(str(where))}' {match}"
            with pytest.raises(ValueError, match=expected):
                jaxdnn.fit(params, X, Y, ACTS, num_iterations=4, checkpoint_dir=where)
        with pytest.raises(ValueError, match=r"initial params\[1\]\['W'\] hold 1 NaN or Inf"):
            jaxdnn.fit(nan_params, X, Y, ACTS, num_iterations=4)
    assert compiles == []


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


# jaxdnn.adam with minibatches (the settings of test_train_steps_called_directly_equals_fit,
# which reuses the separate fits' program), RMSprop with full batches (a minibatch program takes
# about twice as long to compile); optax.adam's learning rate: the next test
@pytest.mark.parametrize("make,kw", [
    (jaxdnn.adam, dict(num_iterations=12, batch_size=8, key=jax.random.key(2))),
    (jaxdnn.rmsprop, dict(num_iterations=8))], ids=["jaxdnn.adam", "jaxdnn.rmsprop"])
def test_vmap_over_learning_rates_equals_separate_fits(make, kw):
    params, X, Y = problem()
    lrs = [0.003, 0.03, 0.3]
    v_params, v_costs = jax.device_get(jax.vmap(
        lambda lr: jaxdnn.fit(params, X, Y, ACTS, optimizer=make(lr), **kw))(jnp.array(lrs)))
    for i, lr in enumerate(lrs):
        p, c = jaxdnn.fit(params, X, Y, ACTS, optimizer=make(lr), **kw)
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-10, err_msg=f"lr={lr}")
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], v_params), p, rtol=1e-10, atol=1e-12,
                           what=f"vmapped lr={lr}")


def test_jit_and_vmap_over_a_learning_rate_inside_an_optax_closure():
    """The only traced value hides in optax.adam's closure: under vmap (and jit) fit must still
    take its traced path, each learning rate's run equals its separate fit (a program each: a new
    closure), and one compiled program serves other learning rates."""
    params, X, Y = problem()
    sweep = jax.jit(jax.vmap(lambda lr: jaxdnn.fit(params, X, Y, ACTS, optimizer=optax.adam(lr),
                                                   num_iterations=8)))
    refs = {lr: jaxdnn.fit(params, X, Y, ACTS, optimizer=optax.adam(lr), num_iterations=8)
            for lr in (0.01, 0.1)}
    counts = []
    for lrs in ([0.01, 0.1], [0.1, 0.01]):
        with count_compiles() as compiles:
            v_params, v_costs = jax.device_get(sweep(jnp.asarray(lrs)))
        counts.append(len(compiles))
        for i, lr in enumerate(lrs):
            p_ref, c_ref = refs[lr]
            np.testing.assert_allclose(v_costs[i], c_ref, rtol=1e-10, err_msg=f"lr={lr}")
            assert_trees_close(jax.tree.map(lambda a, i=i: a[i], v_params), p_ref, rtol=1e-10,
                               atol=1e-12, what=f"vmapped lr={lr}")
    assert counts[0] >= 1 and counts[1] == 0, counts  # other learning rates: no new program


def test_vmap_over_learning_rates_and_l2_strengths_equals_separate_fits():
    """Learning rates and L2 strengths batched together in one vmap, norms asked for: costs,
    norms and params equal those of separate fits (one program for the three: both are data),
    and each run's first cost is the core's L2 cost at the initial params."""
    params, X, Y = problem()
    lrs, l2s = [0.01, 0.1, 0.5], [0.1, 0.5, 2.0]
    fit = lambda lr, l2: jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, l2=l2, norms=True,
                                    num_iterations=6, chunk_size=3)
    v_params, v_costs, v_norms = jax.device_get(jax.vmap(fit)(jnp.array(lrs), jnp.array(l2s)))
    for i, (lr, l2) in enumerate(zip(lrs, l2s)):
        p, c, n = fit(lr, l2)
        what = f"lr={lr}, l2={l2}"
        np.testing.assert_allclose(v_costs[i], c, rtol=1e-12, err_msg=what)
        np.testing.assert_allclose(v_norms.grad[i], n.grad, rtol=1e-12, err_msg=what)
        np.testing.assert_allclose(v_norms.weight[i], n.weight, rtol=1e-12, err_msg=what)
        assert_trees_close(jax.tree.map(lambda a, i=i: a[i], v_params), p, rtol=1e-12,
                           atol=1e-14, what=f"vmapped {what}")
        # the independent reference: the core's own L2 cost
        assert float(c[0]) == pytest.approx(float(cost(params, X, Y, ACTS, l2=l2)), rel=1e-14)


# ----------------------------------------------------------------------------------------------
# the pure training function, validation curves, decay


def test_train_steps_called_directly_equals_fit():
    """Two calls of 6 epochs, the second continuing at epoch 6, equal one fit of 12: Adam with
    minibatches, as in the vmap test above (whose separate fits compiled this fit's program).
    Dropout keys continuing from call to call: test_determinism's run in chunks of 1 epoch."""
    params, X, Y = problem()
    key, opt = jax.random.key(2), jaxdnn.adam(0.01)
    config = jaxdnn.TrainConfig(ACTS, opt.update, batch_size=8)
    state = jaxdnn.TrainState(params, opt.init(params), jnp.int32(0))
    run = jax.jit(jaxdnn.train_steps, static_argnums=(0, 1))
    data = jaxdnn.examples_first(X, Y)
    assert data.X.shape == (24, 3) and data.Y.shape == (24, 1)
    state, m1 = run(config, 6, state, data, key)
    state, m2 = run(config, 6, state, data, key)  # continues at epoch 6
    p, c = jaxdnn.fit(params, X, Y, ACTS, optimizer=opt, num_iterations=12, batch_size=8,
                      key=key)
    np.testing.assert_array_equal(np.concatenate([m1.costs, m2.costs]), c)
    assert int(state.step) == 12 and int(m2.bad) == -1
    assert_trees_close(state.params, p, rtol=0, atol=0, what="train_steps vs fit")


def test_validation_curves_are_measured_after_each_chunk():
    params, X, Y = problem()
    Xv = jax.device_put(np.asarray(X)[:, :10] * 0.9)
    Yv = jax.device_put(np.asarray(Y)[:, :10])
    kw = dict(learning_rate=0.2, chunk_size=4)
    p, costs, val = jaxdnn.fit(params, X, Y, ACTS, num_iterations=10,
                               validation_data=(Xv, Yv), **kw)
    np.testing.assert_array_equal(val.iteration, [4, 8, 10])
    # independent: the course's loop, then the core's cost and accuracy at its params
    _, _, kept = reference_loop(params, X, Y, 0.2, 10, keep=(4, 8, 10))
    for i, n in enumerate([4, 8, 10]):
        assert float(val.cost[i]) == pytest.approx(float(cost(kept[n], Xv, Yv, ACTS)),
                                                   rel=1e-12)
        assert float(val.accuracy[i]) == float(accuracy(kept[n], Xv, Yv, ACTS))
    # under vmap (and jit: one program, not one per chunk length) the same curves come out of the
    # traced path
    _, _, v_val = jax.device_get(jax.jit(jax.vmap(lambda lr: jaxdnn.fit(
        params, X, Y, ACTS, learning_rate=lr, num_iterations=10, chunk_size=4,
        validation_data=(Xv, Yv))))(jnp.array([0.2])))
    np.testing.assert_allclose(v_val.cost[0], val.cost, rtol=1e-12)
    np.testing.assert_array_equal(v_val.iteration[0], val.iteration)


def test_validation_is_shown_with_the_progress(capsys):
    params, X, Y = problem()
    jaxdnn.fit(params, X, Y, ACTS, num_iterations=6, chunk_size=3, learning_rate=0.1,
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
    p, Xn, Yn = params, np.asarray(X), np.asarray(Y)  # NumPy minibatches, compiled steps
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


# ----------------------------------------------------------------------------------------------
# gradient and weight norms


def layer_norms(tree):
    """``||W_l||_F`` of each layer, the independent way."""
    return np.array([np.linalg.norm(np.asarray(layer["W"])) for layer in tree])


def test_norms_full_batch_are_those_of_jax_grad_at_each_iteration():
    params, X, Y = problem()
    lr, l2, n = 0.3, 0.2, 6
    _, costs, norms = jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=n, l2=l2,
                                 chunk_size=3, norms=True)
    assert norms.grad.shape == norms.weight.shape == (n, 3)
    p = params
    for i in range(n):  # the course's loop on jax.grad of the L2 cost: the params of costs[i]
        g = grad(p, X, Y, activations=ACTS, l2=l2)
        np.testing.assert_allclose(norms.grad[i], layer_norms(g), rtol=1e-10,
                                   err_msg=f"||dW|| at iteration {i}")
        np.testing.assert_allclose(norms.weight[i], layer_norms(p), rtol=1e-12,
                                   err_msg=f"||W|| at iteration {i}")
        p = gd_update(p, g, lr)


def test_norms_with_minibatches_are_the_mean_over_the_epochs_minibatches():
    params, X, Y = problem(m=23)
    key, bs, lr, epochs = jax.random.key(5), 5, 0.2, 3
    _, _, norms = jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=epochs,
                             batch_size=bs, key=key, norms=True)
    k_shuffle, _ = jax.random.split(key)
    p, Xn, Yn = params, np.asarray(X), np.asarray(Y)
    for e in range(epochs):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_shuffle, e), 23))
        g_norms, w_norms = [], []
        for lo in range(0, 23, bs):  # batches of 5, 5, 5, 5, 3: five norms, each counting once
            g = grad(p, Xn[:, perm[lo:lo + bs]], Yn[:, perm[lo:lo + bs]], activations=ACTS)
            g_norms.append(layer_norms(g))
            w_norms.append(layer_norms(p))
            p = gd_update(p, g, lr)
        np.testing.assert_allclose(norms.grad[e], np.mean(g_norms, axis=0), rtol=1e-10,
                                   err_msg=f"mean ||dW|| of epoch {e}")
        np.testing.assert_allclose(norms.weight[e], np.mean(w_norms, axis=0), rtol=1e-12,
                                   err_msg=f"mean ||W|| of epoch {e}")


def test_not_asking_for_norms_changes_nothing():
    params, X, Y = problem()
    kw = dict(learning_rate=0.2, num_iterations=6, chunk_size=3, validation_data=(X, Y))
    plain = jaxdnn.fit(params, X, Y, ACTS, **kw)
    with_norms = jaxdnn.fit(params, X, Y, ACTS, norms=True, **kw)
    assert len(plain) == 3 and len(with_norms) == 4 and isinstance(with_norms[3], jaxdnn.Norms)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(with_norms[:3])):
        np.testing.assert_array_equal(a, b)  # params, costs, validation: bitwise the same
    # train_steps: no norms in the metrics, and none computed (the norms' square roots: the
    # network and gradient descent take none)
    config = jaxdnn.TrainConfig(ACTS, jaxdnn.gradient_descent(0.1).update)
    state = jaxdnn.TrainState(params, jaxdnn.gradient_descent(0.1).init(params), jnp.int32(0))
    data = jaxdnn.examples_first(X, Y)
    assert jaxdnn.train_steps(config, 2, state, data, None)[1].norms is None
    program = lambda c: str(jax.make_jaxpr(jaxdnn.train_steps, static_argnums=(0, 1))(
        c, 2, state, data, None))
    assert "sqrt" not in program(config)
    assert "sqrt" in program(jaxdnn.TrainConfig(ACTS, config.update, norms=True))


# ----------------------------------------------------------------------------------------------
# early stopping


def early_stopping_problem():
    """24 training examples, 40 validation examples of the same rule: the validation cost falls,
    then levels out with small ups and downs, then rises (400 iterations, checked every 10)."""
    rng = np.random.default_rng(2)
    X, Xv = rng.standard_normal((3, 24)), rng.standard_normal((3, 40))
    Y, Yv = ((a[:1] * a[1:2] + 0.3 * a[2:] > 0).astype(np.float64) for a in (X, Xv))
    return he_params(DIMS, 3), *map(jnp.asarray, (X, Y, Xv, Yv))


def where_it_must_stop(val_cost, patience, min_delta):
    """``(stop, best)``, the checks (from 0) where early stopping must stop and whose params it
    returns, read off a whole validation curve: a check improves when it is below the best so
    far by more than min_delta; the run stops at the patience-th check in a row that does not."""
    best, best_i, wait = np.inf, None, 0
    for i, v in enumerate(val_cost):
        if v < best - min_delta:
            best, best_i, wait = v, i, 0
        else:
            wait += 1
            if wait == patience:
                return i, best_i
    return len(val_cost) - 1, best_i


def test_early_stopping_stops_where_the_validation_curve_says():
    params, X, Y, Xv, Yv = early_stopping_problem()
    kw = dict(learning_rate=0.5, chunk_size=10, validation_data=(Xv, Yv))
    _, full_costs, full_val = jaxdnn.fit(params, X, Y, ACTS, num_iterations=400, **kw)
    curve = np.asarray(full_val.cost)
    stops = {}
    for patience, min_delta in [(2, 0.0), (3, 0.0), (3, 0.005)]:
        stop, best = stops[patience, min_delta] = where_it_must_stop(curve, patience, min_delta)
        assert stop < len(curve) - 1  # it does stop early
        p, costs, val = jaxdnn.fit(params, X, Y, ACTS, num_iterations=400, patience=patience,
                                   min_delta=min_delta, **kw)
        where = f"patience={patience}, min_delta={min_delta}"
        np.testing.assert_array_equal(costs, full_costs[:10 * (stop + 1)], err_msg=where)
        for got, full in zip(val, full_val):
            np.testing.assert_array_equal(got, full[:stop + 1], err_msg=where)
        p_best, _ = jaxdnn.fit(params, X, Y, ACTS, learning_rate=0.5, chunk_size=10,
                               num_iterations=10 * (best + 1))
        assert_trees_close(p, p_best, rtol=0, atol=0, what=f"best params, {where}")
    assert len(set(stops.values())) == 3, stops  # patience and min_delta each change the result


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(norms="yes"), TypeError, r"norms must be True or False, got 'yes'"),
    (dict(patience=0, validation_data=(jnp.ones((3, 4)), jnp.ones((1, 4)))), ValueError,
     r"patience must be >= 1, got 0"),
    (dict(patience=1.5), TypeError, r"patience must be an int, got 1.5"),
    (dict(patience=2), ValueError, r"early stopping \(patience=2\).*pass validation_data"),
    (dict(min_delta=0.1), ValueError, r"min_delta is early stopping's threshold: it needs"),
    (dict(patience=2, min_delta=-0.1, validation_data=(jnp.ones((3, 4)), jnp.ones((1, 4)))),
     ValueError, r"min_delta must lie in \[0, inf\), got -0.1"),
])
def test_bad_norms_and_early_stopping_settings_raise_before_any_work(kwargs, error, match):
    params, X, Y = problem()
    with pytest.raises(error, match=match):
        jaxdnn.fit(params, X, Y, ACTS, **kwargs)


def test_early_stopping_is_refused_when_fit_is_traced():
    params, X, Y = problem()
    with pytest.raises(ValueError, match=r"patience cannot be used when fit is traced"):
        jax.vmap(lambda lr: jaxdnn.fit(params, X, Y, ACTS, learning_rate=lr, num_iterations=4,
                                       validation_data=(X, Y), patience=1))(jnp.array([0.1]))
