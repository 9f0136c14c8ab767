"""Tests for jaxdnn.optimizers: hand-written update rules against independent references."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdnn import schedules
from jaxdnn.optimizers import (
    AdamState,
    GradientDescentState,
    MomentumState,
    RMSpropState,
    adam,
    gd_update,
    gradient_descent,
    momentum,
    rmsprop,
)

from .conftest import as_jax, assert_trees_close, count_compiles

DIMS = (3, 4, 1)


# Test data is made, sliced and stacked in NumPy and put on the device with device_put: eagerly,
# jnp.asarray, indexing and jnp.stack would each compile a program for every new shape.


def make_params(seed, dtype):
    """A small list-of-{"W", "b"} params tree, [3, 4, 1], from a fixed NumPy seed."""
    rng = np.random.default_rng(seed)
    return [{"W": as_jax(rng.standard_normal((n, n_prev)), dtype),
             "b": as_jax(rng.standard_normal((n, 1)), dtype)}
            for n_prev, n in zip(DIMS[:-1], DIMS[1:])]


def grad_sequence(seed, params, steps):
    """``steps`` random gradient trees shaped like ``params`` (leading axis: the step)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: as_jax(rng.standard_normal((steps,) + p.shape), p.dtype),
                        params)


def row(tree, i):
    """Entry ``i`` of every leaf's leading axis, in NumPy (to compare)."""
    return jax.tree.map(lambda x: np.asarray(x)[i], tree)


def at(tree, i):
    """Entry ``i`` of every leaf's leading axis, on the device (to compute with)."""
    return jax.device_put(row(tree, i))


def run_eager(opt, params, grads_seq, steps):
    """Apply ``opt`` step by step in Python (no jit); return the params after each step, stacked
    (in NumPy), and the final state."""
    state, history = opt.init(params), []
    for t in range(steps):
        updates, state = opt.update(at(grads_seq, t), state, params)
        params = optax.apply_updates(params, updates)
        history.append(params)
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *history), state


def run_scan(opt, params, grads_seq, steps):
    """Apply ``opt`` for ``steps`` steps with ``lax.scan``; return the stacked params history."""
    def body(carry, g):
        params, state = carry
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), params

    (_, state), history = jax.lax.scan(body, (params, opt.init(params)), grads_seq, length=steps)
    return history, state


# ----------------------------------------------------------------------------------------------
# Adam against optax.adam


@jax.jit
def _adam_vs_optax(params, grads, lr, b1, b2, eps):
    mine = run_scan(adam(lr, b1, b2, eps), params, grads, 100)
    ref = run_scan(optax.adam(lr, b1=b1, b2=b2, eps=eps), params, grads, 100)
    return mine, ref


@pytest.mark.parametrize("dtype, rtol, atol", [(jnp.float64, 1e-12, 1e-14),
                                               (jnp.float32, 1e-5, 1e-6)])
def test_adam_matches_optax_adam_100_steps(dtype, rtol, atol):
    params = make_params(0, dtype)
    grads = grad_sequence(1, params, 100)
    (hist, state), (hist_ref, state_ref) = _adam_vs_optax(params, grads, 0.01, 0.9, 0.999, 1e-8)
    for t in range(100):
        assert_trees_close(row(hist, t), row(hist_ref, t), rtol=rtol, atol=atol,
                           what=f"{jnp.dtype(dtype)} params after step {t + 1}")
    assert isinstance(state, AdamState)
    assert state.count.dtype == jnp.int32 and state.count.shape == ()
    assert int(state.count) == 100
    assert_trees_close(state.v, state_ref[0].mu, rtol=rtol, atol=atol, what="first moment")
    assert_trees_close(state.s, state_ref[0].nu, rtol=rtol, atol=atol, what="second moment")


def test_adam_matches_optax_adam_eager():
    params = make_params(2, jnp.float64)
    grads = grad_sequence(3, params, 5)
    hist, _ = run_eager(adam(0.01, b1=0.8, b2=0.99, eps=1e-6), params, grads, 5)
    hist_ref, _ = run_eager(optax.adam(0.01, b1=0.8, b2=0.99, eps=1e-6), params, grads, 5)
    assert_trees_close(hist, hist_ref, rtol=1e-12, atol=1e-14, what="eager Adam history")


def test_adam_bias_correction_first_step_is_sign_step():
    """At t = 1, v_hat = g and s_hat = g^2, so the step is -lr * g / (|g| + eps)."""
    g = [{"W": jnp.array([[2.0, -0.5]]), "b": jnp.array([[1e-3]])}]
    opt = adam(0.1, eps=1e-8)
    updates, state = opt.update(g, opt.init(g))
    expected = jax.tree.map(lambda x: -0.1 * x / (jnp.abs(x) + 1e-8), g)
    assert_trees_close(updates, expected, rtol=1e-12, what="first Adam step")


# ----------------------------------------------------------------------------------------------
# RMSprop against optax.rmsprop


@jax.jit
def _rmsprop_vs_optax(params, grads, lr, beta, eps):
    mine = run_scan(rmsprop(lr, beta, eps), params, grads, 100)
    ref = run_scan(optax.rmsprop(lr, decay=beta, eps=eps, eps_in_sqrt=False), params, grads, 100)
    return mine, ref


@pytest.mark.parametrize("dtype, rtol, atol", [(jnp.float64, 1e-12, 1e-14),
                                               (jnp.float32, 1e-5, 1e-6)])
def test_rmsprop_matches_optax_rmsprop_100_steps(dtype, rtol, atol):
    params = make_params(25, dtype)
    grads = grad_sequence(26, params, 100)
    (hist, state), (hist_ref, state_ref) = _rmsprop_vs_optax(params, grads, 0.01, 0.9, 1e-8)
    for t in range(100):
        assert_trees_close(row(hist, t), row(hist_ref, t), rtol=rtol, atol=atol,
                           what=f"{jnp.dtype(dtype)} params after step {t + 1}")
    assert isinstance(state, RMSpropState) and int(state.count) == 100
    assert_trees_close(state.s, state_ref[0].nu, rtol=rtol, atol=atol, what="squared average")


def test_rmsprop_first_step_by_hand():
    """From s = 0: s = (1 - beta) g^2, so the step is -lr g / (sqrt(1 - beta) |g| + eps)."""
    g = [{"W": jnp.array([[2.0, -0.5]]), "b": jnp.array([[1e-3]])}]
    opt = rmsprop(0.1, beta=0.75, eps=1e-8)
    updates, state = opt.update(g, opt.init(g))
    expected = jax.tree.map(lambda x: -0.1 * x / (0.5 * jnp.abs(x) + 1e-8), g)
    assert_trees_close(updates, expected, rtol=1e-12, what="first RMSprop step")
    assert_trees_close(state.s, jax.tree.map(lambda x: 0.25 * x * x, g), rtol=1e-12, what="s")


# ----------------------------------------------------------------------------------------------
# momentum against a NumPy reference of the course formula


def numpy_momentum(params, grads, lr, beta, steps):
    """The course's momentum in NumPy float64: v = beta v + (1-beta) g; W -= lr v."""
    p = [{k: np.asarray(x, np.float64).copy() for k, x in layer.items()} for layer in params]
    v = [{k: np.zeros_like(x) for k, x in layer.items()} for layer in p]
    history = []
    for t in range(steps):
        for l, layer in enumerate(p):
            for k in layer:
                g = np.asarray(grads[l][k], np.float64)[t]
                v[l][k] = beta * v[l][k] + (1 - beta) * g
                layer[k] = layer[k] - lr * v[l][k]
        history.append([{k: x.copy() for k, x in layer.items()} for layer in p])
    return history


# beta is an argument (traced), so the three parametrized cases share one compilation
_momentum_scan = jax.jit(lambda params, grads, lr, beta: run_scan(momentum(lr, beta), params,
                                                                   grads, 50))


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99])
def test_momentum_matches_numpy_reference_50_steps(beta):
    params = make_params(4, jnp.float64)
    grads = grad_sequence(5, params, 50)
    hist, state = _momentum_scan(params, grads, 0.05, beta)
    ref = numpy_momentum(params, grads, 0.05, beta, 50)
    for t in range(50):
        assert_trees_close(row(hist, t), ref[t], rtol=1e-12, atol=1e-14,
                           what=f"momentum beta={beta} step {t + 1}")
    assert isinstance(state, MomentumState)


def test_momentum_eager_matches_numpy_reference():
    params = make_params(4, jnp.float64)
    grads = grad_sequence(5, params, 5)
    hist, _ = run_eager(momentum(0.05, beta=0.9), params, grads, 5)
    ref = numpy_momentum(params, grads, 0.05, 0.9, 5)
    for t in range(5):
        assert_trees_close(row(hist, t), ref[t], rtol=1e-12, atol=1e-14,
                           what=f"eager momentum step {t + 1}")


def test_momentum_is_not_optax_sgd_momentum():
    """The course averages the gradients; optax.sgd(momentum=) sums them (1/(1-beta) larger)."""
    g = [{"W": jnp.ones((1, 1)), "b": jnp.ones((1, 1))}]
    opt = momentum(1.0, beta=0.9)
    updates, _ = opt.update(g, opt.init(g))
    assert_trees_close(updates, jax.tree.map(lambda x: -0.1 * x, g), rtol=1e-12,
                       what="first momentum step is -lr (1-beta) g")


# ----------------------------------------------------------------------------------------------
# gradient descent against gd_update


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_gradient_descent_equals_gd_update(dtype):
    params = make_params(6, dtype)
    grads = grad_sequence(7, params, 5)
    hist, state = run_eager(gradient_descent(0.1), params, grads, 5)
    assert isinstance(state, GradientDescentState) and int(state.count) == 5
    p = params
    for t in range(5):
        p = gd_update(p, at(grads, t), 0.1)
        # eagerly p + (-lr g) and p - lr g round identically: bitwise equal
        assert_trees_close(row(hist, t), p, rtol=0.0, atol=0.0, what=f"gd step {t + 1}")


# ----------------------------------------------------------------------------------------------
# dtypes, jit, vmap over learning rates

OPTIMIZERS = {
    "gradient_descent": gradient_descent,
    "momentum": momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_updates_and_state_keep_leaf_dtype(name, dtype):
    params = make_params(8, dtype)
    g = at(grad_sequence(9, params, 1), 0)
    # a float64 learning rate must not promote float32 leaves
    opt = OPTIMIZERS[name](jnp.asarray(0.1, jnp.float64))
    updates, state = opt.update(g, opt.init(params), params)
    moments = state._replace(count=jnp.zeros((2, 2), dtype), hyperparams={})
    for path, leaf in jax.tree_util.tree_leaves_with_path((updates, moments)):
        assert leaf.dtype == dtype, (name, jax.tree_util.keystr(path), leaf.dtype)
    assert state.count.dtype == jnp.int32 and state.count.shape == ()
    # the hyperparameters are data, in the default float dtype (not the params')
    for leaf in jax.tree.leaves(state.hyperparams):
        assert leaf.dtype == jnp.result_type(float) and leaf.shape == ()


def test_a_new_state_survives_a_donated_one():
    """New states share one device zero as their count; a caller donating a state must not
    break the next init."""
    params = make_params(8, jnp.float32)
    opt = adam(0.1)
    jax.jit(lambda s: jax.tree.map(lambda x: x + 1, s), donate_argnums=0)(opt.init(params))
    updates, state = opt.update(at(grad_sequence(9, params, 1), 0), opt.init(params), params)
    assert int(state.count) == 1 and all(bool(jnp.all(jnp.isfinite(u)))
                                         for u in jax.tree.leaves(updates))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_jit_equals_eager(name):
    params = make_params(10, jnp.float64)
    grads = grad_sequence(11, params, 3)
    opt = OPTIMIZERS[name](0.05)
    eager, _ = run_eager(opt, params, grads, 3)
    jitted, _ = jax.jit(lambda p, g: run_scan(opt, p, g, 3))(params, grads)
    assert_trees_close(jitted, eager, rtol=1e-13, atol=1e-15, what=f"{name} jit vs eager")


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_vmap_over_learning_rates_equals_separate_runs(name):
    params = make_params(12, jnp.float64)
    grads = grad_sequence(13, params, 10)
    lrs = [0.001, 0.01, 0.1]

    def train(lr):
        return run_scan(OPTIMIZERS[name](lr), params, grads, 10)[0]

    batched = jax.jit(jax.vmap(train))(jnp.array(lrs))
    for i, lr in enumerate(lrs):
        separate = run_eager(OPTIMIZERS[name](lr), params, grads, 10)[0]
        assert_trees_close(row(batched, i), separate, rtol=1e-12, atol=1e-15,
                           what=f"{name} vmapped lr={lr}")


# ----------------------------------------------------------------------------------------------
# hyperparameter validation

BAD = [
    (gradient_descent, {"learning_rate": 0.0}, ValueError, "learning_rate"),
    (gradient_descent, {"learning_rate": -0.1}, ValueError, "learning_rate"),
    (gradient_descent, {"learning_rate": float("nan")}, ValueError, "learning_rate"),
    (gradient_descent, {"learning_rate": float("inf")}, ValueError, "learning_rate"),
    (gradient_descent, {"learning_rate": np.float32(-1.0)}, ValueError, "learning_rate"),
    (gradient_descent, {"learning_rate": jnp.array(-1.0)}, ValueError, "learning_rate"),
    (gradient_descent, {"learning_rate": jnp.array([0.1, 0.2])}, ValueError, "scalar"),
    (gradient_descent, {"learning_rate": "0.1"}, TypeError, "learning_rate"),
    (gradient_descent, {"learning_rate": True}, TypeError, "learning_rate"),
    (momentum, {"learning_rate": 0.1, "beta": 1.0}, ValueError, "beta"),
    (momentum, {"learning_rate": 0.1, "beta": -0.1}, ValueError, "beta"),
    (momentum, {"learning_rate": -0.1}, ValueError, "learning_rate"),
    (adam, {"learning_rate": 0.0}, ValueError, "learning_rate"),
    (adam, {"learning_rate": 0.1, "b1": 1.0}, ValueError, "b1"),
    (adam, {"learning_rate": 0.1, "b2": 1.5}, ValueError, "b2"),
    (adam, {"learning_rate": 0.1, "b2": -1e-3}, ValueError, "b2"),
    (adam, {"learning_rate": 0.1, "eps": 0.0}, ValueError, "eps"),
    (adam, {"learning_rate": 0.1, "eps": -1e-8}, ValueError, "eps"),
    (rmsprop, {"learning_rate": 0.0}, ValueError, "learning_rate"),
    (rmsprop, {"learning_rate": 0.1, "beta": 1.0}, ValueError, "beta"),
    (rmsprop, {"learning_rate": 0.1, "beta": -0.1}, ValueError, "beta"),
    (rmsprop, {"learning_rate": 0.1, "eps": 0.0}, ValueError, "eps"),
]


@pytest.mark.parametrize("factory, kwargs, error, word", BAD,
                         ids=[f"{f.__name__}-{k}" for f, k, _, _ in BAD])
def test_bad_hyperparameters_raise(factory, kwargs, error, word):
    with pytest.raises(error, match=word):
        factory(**kwargs)


def test_boundary_hyperparameters_accepted():
    momentum(0.1, beta=0.0)
    adam(0.1, b1=0.0, b2=0.0)


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam"])
def test_update_rejects_grads_not_shaped_like_state(name):
    params = make_params(14, jnp.float64)
    opt = OPTIMIZERS[name](0.1)
    state = opt.init(params)
    with pytest.raises(ValueError, match="structure"):
        opt.update(params[:1], state)
    bad = [dict(params[0], W=params[0]["W"].T), params[1]]
    with pytest.raises(ValueError, match="shape"):
        opt.update(bad, state)


def layer(tree, l, **changes):
    """``tree`` with layer ``l``'s dict updated (``None`` deletes a key)."""
    tree = [dict(d) for d in tree]
    for k, v in changes.items():
        if v is None:
            tree[l].pop(k)
        else:
            tree[l][k] = v
    return tree


def _gd(grads_fn=lambda g: g, lr=0.1, params_fn=lambda p: p):
    def run():
        params = make_params(15, jnp.float64)
        grads = at(grad_sequence(16, params, 1), 0)
        return gd_update(params_fn(params), grads_fn(grads), lr)
    return run


GD_MUTATIONS = [  # (name, call, error, match)
    ("grads missing b", _gd(lambda g: layer(g, 1, b=None)), ValueError, r"same structure"),
    ("grads without any b", _gd(lambda g: [{"W": d["W"]} for d in g]), ValueError,
     r"same structure"),
    ("grads extra key", _gd(lambda g: layer(g, 0, gamma=g[0]["b"])), ValueError, r"grads"),
    ("grads dW/db keys", _gd(lambda g: [{"dW": d["W"], "db": d["b"]} for d in g]), ValueError,
     r"grads"),
    ("grads W transposed", _gd(lambda g: layer(g, 0, W=g[0]["W"].T)), ValueError,
     r"grads\[0\]\['W'\] has shape \(3, 4\), expected \(4, 3\)"),
    ("grads last W transposed", _gd(lambda g: layer(g, 1, W=g[1]["W"].T)), ValueError,
     r"\[1\]\['W'\] has shape"),
    ("grads b 1-D", _gd(lambda g: layer(g, 0, b=g[0]["b"][:, 0])), ValueError, r"grads"),
    ("grads one layer short", _gd(lambda g: g[:1]), ValueError, r"same structure"),
    ("grads one layer too many", _gd(lambda g: g + g[:1]), ValueError, r"grads"),
    ("grads None", _gd(lambda g: None), ValueError, r"grads"),
    ("grads dict", _gd(lambda g: {"W1": g[0]["W"]}), ValueError, r"grads"),
    ("grads nested one level deeper", _gd(lambda g: [[d] for d in g]), ValueError, r"grads"),
    ("grads str leaf", _gd(lambda g: layer(g, 0, W="W")), ValueError, r"grads"),
    ("grads nested-list leaf", _gd(lambda g: layer(g, 0, W=np.asarray(g[0]["W"]).tolist())),
     ValueError, r"grads"),
    ("grads of a transposed W", _gd(params_fn=lambda p: layer(p, 0, W=p[0]["W"].T)), ValueError,
     r"grads"),
    ("learning_rate NaN", _gd(lr=float("nan")), ValueError, r"learning_rate"),
    ("learning_rate Inf", _gd(lr=float("inf")), ValueError, r"learning_rate"),
    ("learning_rate str", _gd(lr="0.1"), TypeError, r"learning_rate"),
    ("learning_rate None", _gd(lr=None), TypeError, r"learning_rate"),
    ("learning_rate complex", _gd(lr=0.1j), TypeError, r"learning_rate"),
    ("learning_rate shape (4, 1)", _gd(lr=jnp.ones((4, 1))), ValueError, r"learning_rate"),
    ("learning_rate shape (2,)", _gd(lr=jnp.ones(2)), ValueError, r"learning_rate"),
    ("learning_rate list", _gd(lr=[0.1]), TypeError, r"learning_rate"),
    ("python-float leaves", lambda: gd_update([1.0, 2.0], [0.5, 0.5], 0.1), TypeError,
     r"array|params"),
]


@pytest.mark.parametrize("name,call,error,match", GD_MUTATIONS, ids=[r[0] for r in GD_MUTATIONS])
def test_gd_update_rejects_bad_arguments(name, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gd_update_keeps_float32_under_a_float64_rate_and_takes_vmapped_rates():
    to32 = lambda t: jax.tree.map(lambda a: a.astype(jnp.float32), t)
    new = _gd(to32, lr=np.float64(0.1), params_fn=to32)()
    assert all(leaf.dtype == jnp.float32 and np.isfinite(np.asarray(leaf)).all()
               for leaf in jax.tree.leaves(new))
    p = make_params(15, jnp.float64)  # vmapped learning rates are documented to work
    g = at(grad_sequence(16, p, 1), 0)
    lrs = jnp.asarray([0.1, 0.2])
    stacked = jax.vmap(lambda lr: gd_update(p, g, lr))(lrs)
    for i, lr in enumerate((0.1, 0.2)):
        assert_trees_close(row(stacked, i), gd_update(p, g, lr), rtol=1e-15, what=f"lr={lr}")


# ----------------------------------------------------------------------------------------------
# hyperparameters as data: one update function, and schedules


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_hyperparameters_are_state_data_so_the_update_function_is_shared(name):
    a, b = OPTIMIZERS[name](0.1), OPTIMIZERS[name](0.02)
    assert a.update is b.update  # a jitted loop keyed on it compiles once for every lr
    params = make_params(16, jnp.float64)
    assert float(a.init(params).hyperparams["learning_rate"]) == 0.1
    assert float(b.init(params).hyperparams["learning_rate"]) == 0.02


def test_a_jitted_update_compiles_once_for_many_learning_rates():
    params = make_params(17, jnp.float64)
    g = at(grad_sequence(18, params, 1), 0)
    step = jax.jit(lambda g, s: adam(1.0).update(g, s))  # the state carries the lr
    states = {lr: adam(lr).init(params) for lr in (0.1, 0.01, 0.001)}
    expected = {lr: adam(lr).update(g, s)[0] for lr, s in states.items()}
    with count_compiles() as compiles:
        updates = {lr: step(g, s)[0] for lr, s in states.items()}
    assert len(compiles) == 1, f"{len(compiles)} compiles for 3 learning rates, expected 1"
    for lr, u in updates.items():
        assert_trees_close(u, expected[lr], rtol=1e-13, what=f"lr={lr}")


def test_vmap_over_adam_betas_equals_separate_runs():
    params = make_params(19, jnp.float64)
    grads = grad_sequence(20, params, 10)
    b2s = [0.9, 0.99, 0.999]
    batched = jax.jit(jax.vmap(lambda b2: run_scan(adam(0.01, b2=b2), params, grads, 10)[0]))(
        jnp.array(b2s))
    for i, b2 in enumerate(b2s):
        ref = run_eager(optax.adam(0.01, b2=b2), params, grads, 10)[0]
        assert_trees_close(row(batched, i), ref, rtol=1e-12, atol=1e-15, what=f"b2={b2}")


COURSE_DECAYS = [  # (schedule, the course's formula at epoch e)
    (schedules.inverse_time_decay(0.5, 1.0), lambda e: 0.5 / (1 + 1.0 * e)),
    (schedules.inverse_time_decay(0.5, 0.3, time_interval=3),
     lambda e: 0.5 / (1 + 0.3 * np.floor(e / 3))),
    (schedules.exponential_decay(0.5, 0.9), lambda e: 0.5 * 0.9 ** e),
]


@pytest.mark.parametrize("schedule, formula", COURSE_DECAYS, ids=["update_lr", "scheduled",
                                                                 "exponential"])
def test_course_decays_with_steps_per_epoch(schedule, formula):
    per_epoch = schedule._replace(steps_per_epoch=jnp.asarray(4.0))
    for count in range(0, 40, 3):
        assert float(per_epoch(count)) == pytest.approx(formula(count // 4), rel=1e-14)


@pytest.mark.parametrize("make, ref", [
    (lambda s: gradient_descent(s), lambda s: optax.sgd(s)),
    (lambda s: adam(s), lambda s: optax.adam(s)),
    (lambda s: rmsprop(s), lambda s: optax.rmsprop(s, eps_in_sqrt=False)),
], ids=["gradient_descent", "adam", "rmsprop"])
@pytest.mark.parametrize("schedule", [schedules.inverse_time_decay(0.1, 0.5, steps_per_epoch=2),
                                      optax.exponential_decay(0.1, 3, 0.5)],
                         ids=["jaxdnn-schedule", "optax-schedule"])
def test_schedules_drive_jaxdnn_rules_as_they_drive_optax(make, ref, schedule):
    """The same schedule in jaxdnn's rule and optax's: the same steps (count starts at 0)."""
    params = make_params(21, jnp.float64)
    grads = grad_sequence(22, params, 8)
    mine, state = run_eager(make(schedule), params, grads, 8)
    theirs, _ = run_eager(ref(schedule), params, grads, 8)
    assert_trees_close(mine, theirs, rtol=1e-12, atol=1e-15, what="scheduled updates")
    if isinstance(schedule, tuple):  # a jaxdnn schedule is data in the state
        assert state.hyperparams["learning_rate"] is schedule


def test_vmap_over_decay_rates():
    params = make_params(23, jnp.float64)
    grads = grad_sequence(24, params, 6)
    rates = [0.0, 1.0]
    sched = lambda r: schedules.inverse_time_decay(0.1, r)
    batched = jax.jit(jax.vmap(lambda r: run_scan(momentum(sched(r), 0.5), params, grads, 6)[0]))(
        jnp.array(rates))
    for i, r in enumerate(rates):
        ref = run_eager(momentum(sched(r), 0.5), params, grads, 6)[0]
        assert_trees_close(row(batched, i), ref, rtol=1e-12, atol=1e-15, what=f"decay {r}")


@pytest.mark.parametrize("make, word", [
    (lambda: schedules.inverse_time_decay(0.0, 1.0), "learning_rate0"),
    (lambda: schedules.inverse_time_decay(0.1, -1.0), "decay_rate"),
    (lambda: schedules.inverse_time_decay(0.1, 1.0, time_interval=0), "time_interval"),
    (lambda: schedules.exponential_decay(0.1, 1.5), "decay_rate"),
    (lambda: schedules.exponential_decay(0.1, 0.9, steps_per_epoch=0), "steps_per_epoch"),
])
def test_bad_schedule_arguments_raise(make, word):
    with pytest.raises(ValueError, match=word):
        make()
