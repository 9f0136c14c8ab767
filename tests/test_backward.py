"""Hand-derived backprop against jax.grad: random architectures, regularisation, the custom VJP."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxdnn
from jaxdnn.gradcheck import relative_difference

from .conftest import as_jax, assert_trees_close, maybe_jit, random_params

NAMES = sorted(jaxdnn.activations.HIDDEN)


def draw_architectures(n=12, seed=0):
    """n architectures: 2 to 6 layers, widths 1 to 30, hidden activations from every name."""
    rng = np.random.RandomState(seed)
    archs = []
    for i in range(n):
        L = int(rng.randint(2, 7))
        dims = [int(d) for d in rng.randint(1, 31, size=L + 1)]
        hidden = [NAMES[(i + l) % len(NAMES)] for l in range(L - 1)]  # cycles through all names
        acts = tuple(hidden) + ("sigmoid",)
        m = int(rng.choice([1, 2, 7, 33, 64]))
        archs.append((dims, acts, m))
    return archs


ARCHS = draw_architectures()


def test_the_drawn_architectures_cover_the_required_ranges():
    assert {len(d) - 1 for d, _, _ in ARCHS} == {2, 3, 4, 5, 6}
    assert {a for _, acts, _ in ARCHS for a in acts} == set(NAMES)
    widths = [w for d, _, _ in ARCHS for w in d]
    assert min(widths) == 1 and max(widths) >= 28
    assert {m for _, _, m in ARCHS} >= {1, 64}


def make_problem(dims, m, dtype, seed, output="sigmoid"):
    """A network ending in ``output`` with labels that suit it: 0/1, one-hot columns or real
    targets. Xavier-scaled W, b = 0, X ~ N(0, 1), drawn with NumPy (no eager compiles)."""
    dims = list(dims[:-1]) + [max(dims[-1], 2)] if output == "softmax" else list(dims)
    rng = np.random.default_rng(seed)
    params = random_params(rng, dims, dtype, "xavier")
    X = as_jax(rng.standard_normal((dims[0], m)), dtype)
    if output == "softmax":
        Y = as_jax(np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)], dtype)
    elif output == "linear":
        Y = as_jax(3 * rng.standard_normal((dims[-1], m)), dtype)
    else:
        Y = as_jax(rng.integers(0, 2, (dims[-1], m)), dtype)
    return params, X, Y


def assert_manual_equals_autodiff(manual, auto, dtype, tol, what):
    (J_man, g_man), (J_auto, g_auto) = manual, auto
    assert jax.tree.structure(g_man) == jax.tree.structure(g_auto), what
    assert J_man.dtype == dtype and float(J_man) == pytest.approx(float(J_auto), rel=tol), what
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(g_man), jax.tree.leaves(g_auto)):
        assert a.dtype == dtype, what
        d = relative_difference(a, b)
        assert d < tol, f"{what} leaf {jax.tree_util.keystr(path)}: {d:.2e} >= {tol}"


# Every drawn architecture is checked in float64 with one output; three of them in float32 too,
# with a sigmoid output. The output's rule only starts the pass (dZ_L and the cost) and the dtype
# does not depend on the depth, so the outputs take turns: each on four architectures that
# between them have every hidden activation, a width-1 layer and m = 1, and the float32 ones have
# all of these too (asserted below).
OUTPUT = {0: "sigmoid", 3: "sigmoid", 4: "sigmoid", 7: "sigmoid",
          2: "softmax", 5: "softmax", 6: "softmax", 10: "softmax",
          1: "linear", 8: "linear", 9: "linear", 11: "linear"}
FLOAT32 = (0, 4, 8)
TOL = {jnp.float64: 1e-10, jnp.float32: 2e-5}


def covers_activations_width_1_and_m_1(archs):
    return ({a for _, acts, _ in archs for a in acts[:-1]} == set(NAMES)
            and any(1 in dims[:-1] for dims, _, _ in archs)  # an input or hidden width of 1
            and any(m == 1 for _, _, m in archs))


def test_each_output_and_float32_run_on_every_activation_width_1_and_m_1():
    assert sorted(OUTPUT) == list(range(len(ARCHS)))
    for out in ("sigmoid", "softmax", "linear"):
        mine = [ARCHS[i] for i, o in OUTPUT.items() if o == out]
        assert len(mine) == 4 and covers_activations_width_1_and_m_1(mine), out
    assert covers_activations_width_1_and_m_1([ARCHS[i] for i in FLOAT32])


def passes(i):
    """``(output, dtype, seed)`` of the checks of architecture i."""
    f64 = [(OUTPUT[i], jnp.float64, i if OUTPUT[i] == "sigmoid" else 100 + i)]
    return f64 + [("sigmoid", jnp.float32, i)] if i in FLOAT32 else f64


@pytest.mark.parametrize("i", range(len(ARCHS)))
def test_manual_equals_autodiff_on_random_networks(i):
    """Under jit: architecture i's output (OUTPUT) in float64, and sigmoid in float32 (FLOAT32)."""
    dims, acts, m = ARCHS[i]
    problems = [make_problem(dims, m, dtype, seed=seed, output=out)
                for out, dtype, seed in passes(i)]
    outs = [acts[:-1] + (out,) for out, _, _ in passes(i)]

    # every pass in one program: one compile per architecture (each runs once on a few small
    # arrays, so compiling is all it costs)
    @jax.jit
    def run(problems):
        return [(jaxdnn.manual_value_and_grad(*prob, a), jaxdnn.autodiff_value_and_grad(*prob, a))
                for prob, a in zip(problems, outs)]

    for (out, dtype, _), (manual, auto) in zip(passes(i), run(problems)):
        what = f"{dims} {acts[:-1]} + {out} m={m} {jnp.dtype(dtype)}"
        assert_manual_equals_autodiff(manual, auto, dtype, TOL[dtype], what)


# Eager mode compiles each primitive for each new shape and dtype, so the eager checks run on two
# small networks rather than on drawn ones: one with every hidden activation, in float64, its
# hidden layers all 4 wide (each layer reuses the previous one's compiled primitives), and one
# with a width-1 layer and m = 1, in float32. The other eager tests below use the same widths and
# m = 5, and so the same compiled primitives. Every drawn architecture runs under jit above.
EAGER = [([3, 4, 4, 4, 4, 4, 1], (*NAMES, "sigmoid"), 5, jnp.float64),
         ([3, 1, 4, 1], ("tanh", "relu", "sigmoid"), 1, jnp.float32)]


def test_the_eager_networks_cover_every_activation_width_1_and_both_dtypes():
    assert {a for _, acts, _, _ in EAGER for a in acts[:-1]} == set(NAMES)
    assert any(1 in dims[:-1] and m == 1 for dims, _, m, _ in EAGER)
    assert {dtype for _, _, _, dtype in EAGER} == {jnp.float32, jnp.float64}


@pytest.mark.parametrize("dims,acts,m,dtype", EAGER, ids=["float64", "float32"])
def test_manual_equals_autodiff_eagerly(dims, acts, m, dtype):
    params, X, Y = make_problem(dims, m, dtype, seed=0)
    assert_manual_equals_autodiff(jaxdnn.manual_value_and_grad(params, X, Y, acts),
                                  jaxdnn.autodiff_value_and_grad(params, X, Y, acts), dtype,
                                  TOL[dtype], f"eager {dims} {acts} m={m} {jnp.dtype(dtype)}")


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_manual_equals_autodiff_exactly_at_the_kink(name):
    """All pre-activations of layer 1 are exactly 0: the two conventions must agree there."""
    rng = np.random.default_rng(0)
    params = random_params(rng, [3, 4, 1], jnp.float64, "he")
    params[0]["W"] = as_jax(np.zeros((4, 3)), jnp.float64)
    X = as_jax(rng.standard_normal((3, 5)), jnp.float64)
    Y = jnp.array([[1.0, 0.0, 1.0, 1.0, 0.0]])
    _, g_man = jaxdnn.manual_value_and_grad(params, X, Y, (name, "sigmoid"))
    _, g_auto = jaxdnn.autodiff_value_and_grad(params, X, Y, (name, "sigmoid"))
    assert_trees_close(g_man, g_auto, rtol=1e-13, atol=0, what=f"{name} at Z = 0")


def test_the_backward_function_alone_matches():
    params, X, Y = make_problem([3, 4, 1], 5, jnp.float64, seed=3)
    acts = ("tanh", "sigmoid")
    _, caches = jaxdnn.forward(params, X, acts)
    _, g_auto = jaxdnn.autodiff_value_and_grad(params, X, Y, acts)
    assert_trees_close(jaxdnn.backward(params, caches, Y, acts), g_auto, rtol=1e-12, atol=1e-15)


# under jit: each term alone and both; eagerly: both terms at once (the same maths, and each new
# eager shape compiles every primitive again)
@pytest.mark.parametrize("mode,l2,keep_prob", [("jit", 0.7, None), ("jit", 0.0, 0.8),
                                               ("jit", 0.3, 0.6), ("eager", 0.3, 0.6)])
def test_regularised_gradients_equal_autodiff(l2, keep_prob, mode):
    params, X, Y = make_problem([3, 4, 4, 1], 5, jnp.float64, seed=4)
    acts = ("relu", "tanh", "sigmoid")
    kw = dict(l2=l2, keep_prob=keep_prob, key=jax.random.key(5))

    def both(p, x, y, activations):  # one program, one compile: both passes, the same masks
        return (jaxdnn.manual_value_and_grad(p, x, y, activations, **kw),
                jaxdnn.autodiff_value_and_grad(p, x, y, activations, **kw))

    (J_m, g_m), (J_a, g_a) = maybe_jit(both, mode)(params, X, Y, acts)
    assert float(J_m) == pytest.approx(float(J_a), rel=1e-13)
    assert_trees_close(g_m, g_a, rtol=1e-11, atol=1e-15, what=f"l2={l2}, keep_prob={keep_prob}")


def test_l2_term_is_the_course_formula():
    params, X, Y = make_problem([3, 4, 1], 5, jnp.float64, seed=6)
    acts = ("relu", "sigmoid")
    plain = jaxdnn.cost(params, X, Y, acts)
    reg = jaxdnn.cost(params, X, Y, acts, l2=0.1)
    frob = sum(float(np.sum(np.asarray(p["W"]) ** 2)) for p in params)
    assert float(reg - plain) == pytest.approx(0.1 / (2 * 5) * frob, rel=1e-12)


def test_dropout_masks_drop_hidden_units_and_rescale():
    params, X, Y = make_problem([3, 200, 1], 50, jnp.float64, seed=7)
    _, caches = jaxdnn.forward(params, X, ("relu", "sigmoid"), keep_prob=0.75,
                               key=jax.random.key(0))
    D = np.asarray(caches[0].D)
    assert set(np.unique(D)) == {0.0, 1 / 0.75}
    assert abs((D > 0).mean() - 0.75) < 0.02  # 10000 Bernoulli(0.75) draws: std 0.0043
    assert caches[1].D is None
    A1 = np.asarray(jax.nn.relu(caches[0].Z))
    np.testing.assert_allclose(caches[1].linear.A_prev, A1 * D, rtol=1e-15)


def test_custom_vjp_cost_passes_check_grads():
    params, X, _ = make_problem([3, 4, 4, 2], 5, jnp.float64, seed=8)
    Y = as_jax(np.random.default_rng(9).uniform(0.2, 0.8, (2, 5)), jnp.float64)  # soft labels
    acts = ("tanh", "leaky_relu", "sigmoid")
    f = lambda p, x, y: jaxdnn.cost_with_manual_vjp(p, x, y, acts)
    check_grads(f, (params, X, Y), order=1, modes=["rev"], eps=1e-6)
    check_grads(jax.jit(f), (params, X, Y), order=1, modes=["rev"], eps=1e-6)
    # and it really is the hand-derived pass that jax.grad runs
    assert_trees_close(jax.grad(f)(params, X, Y),
                       jaxdnn.manual_value_and_grad(params, X, Y, acts)[1],
                       rtol=0, atol=0, what="grad of the custom-VJP cost")


def test_per_example_gradients_average_to_the_full_batch_gradient():
    params, X, Y = make_problem([3, 4, 1], 5, jnp.float64, seed=10)
    acts = ("relu", "sigmoid")

    def one(p, x, y):  # x: (n_x,), y: (n_L,) -> a batch of one column
        return jaxdnn.cost_with_manual_vjp(p, x[:, None], y[:, None], acts)

    # under jit only: the custom VJP runs eagerly in the check_grads test above
    per_example = jax.jit(jax.vmap(jax.grad(one), in_axes=(None, 1, 1)))
    grads = per_example(params, X, Y)
    assert grads[0]["W"].shape == (5, 4, 3)
    mean = jax.tree.map(lambda g: g.mean(axis=0), grads)
    _, full = jaxdnn.autodiff_value_and_grad(params, X, Y, acts)
    assert_trees_close(mean, full, rtol=1e-12, atol=1e-16, what="mean of per-example grads")


def test_custom_vjp_input_and_label_gradients_equal_autodiff():
    params, X, Y = make_problem([3, 4, 1], 5, jnp.float64, seed=11)
    acts = ("tanh", "sigmoid")
    manual = jax.grad(lambda x, y: jaxdnn.cost_with_manual_vjp(params, x, y, acts), (0, 1))(X, Y)
    auto = jax.grad(lambda x, y: jaxdnn.cost(params, x, y, acts), (0, 1))(X, Y)
    assert_trees_close(manual, auto, rtol=1e-12, atol=1e-16, what="dJ/dX, dJ/dY")


@pytest.mark.parametrize("output", ["softmax", "linear"])
def test_custom_vjp_cost_with_softmax_and_linear_outputs_passes_check_grads(output):
    params, X, Y = make_problem([3, 4, 3], 5, jnp.float64, seed=12, output=output)
    acts = ("tanh", output)
    f = lambda p, x, y: jaxdnn.cost_with_manual_vjp(p, x, y, acts)
    check_grads(jax.jit(f), (params, X, Y), order=1, modes=["rev"], eps=1e-6)
    # both in one program (the custom VJP runs eagerly in the sigmoid test above)
    both = jax.jit(lambda p, x, y: (jax.grad(f)(p, x, y),
                                    jaxdnn.manual_value_and_grad(p, x, y, acts)[1]))
    assert_trees_close(*both(params, X, Y), rtol=0, atol=0,
                       what=f"grad of the custom-VJP cost, {output}")
