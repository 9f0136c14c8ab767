"""Forward mode by hand: the blocks equal jax.jvp of the forward blocks, and cost_with_manual_jvp
gives jaxdnn.cost's jvp, jacfwd, linearize, hessian and grad on networks that cover every
activation, L2 and dropout (float64)."""

import jax
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxdnn
from jaxdnn.activations import ACTIVATIONS, HIDDEN, OUTPUTS

from .conftest import as_jax, assert_trees_close, random_params

TOL = dict(rtol=1e-10, atol=1e-10)


def tangent_like(rng, tree):
    return jax.tree.map(lambda x: as_jax(rng.standard_normal(np.shape(x)), np.float64), tree)


def labels(rng, output, n, m):
    if output == "softmax":
        return as_jax(np.eye(n)[:, rng.integers(0, n, m)], np.float64)
    if output == "linear":
        return as_jax(rng.standard_normal((n, m)), np.float64)
    return as_jax(rng.uniform(size=(n, m)) > 0.5, np.float64)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_the_layer_blocks_equal_jax_jvp_of_the_forward_blocks(activation):
    rng = np.random.default_rng(1)
    primals = (as_jax(rng.standard_normal((3, 4)), np.float64),
               as_jax(rng.standard_normal((2, 3)), np.float64),
               as_jax(rng.standard_normal((2, 1)), np.float64))
    tangents = tangent_like(rng, primals)
    Z, dZ = jaxdnn.linear_jvp(primals, tangents)
    assert_trees_close((Z, dZ), jax.jvp(lambda *p: jaxdnn.linear_forward(*p)[0], primals,
                                        tangents), **TOL, what="linear_jvp")
    (A, dA), (Z2, dZ2) = jaxdnn.linear_activation_jvp(primals, tangents, activation)
    expected = jax.jvp(lambda *p: jaxdnn.linear_activation_forward(*p, activation)[0], primals,
                       tangents)
    assert_trees_close((A, dA), expected, **TOL, what=f"linear_activation_jvp {activation}")
    assert_trees_close((Z2, dZ2), (Z, dZ), rtol=0, what="its (Z, dZ)")


def test_the_network_pass_equals_jax_jvp_of_forward_with_dropout():
    rng = np.random.default_rng(2)
    params = random_params(rng, [3, 4, 3, 2], np.float64)
    X = as_jax(rng.standard_normal((3, 5)), np.float64)
    acts, key = ("relu", "tanh", "softmax"), jax.random.key(3)
    dparams, dX = tangent_like(rng, params), tangent_like(rng, X)

    @jax.jit  # both in one compiled program, not op by op
    def both(params, X, dparams, dX):
        (AL, dAL), _ = jaxdnn.forward_jvp(params, X, acts, dparams, dX, keep_prob=0.7, key=key)
        expected = jax.jvp(lambda p, x: jaxdnn.forward(p, x, acts, keep_prob=0.7, key=key)[0],
                           (params, X), (dparams, dX))
        return (AL, dAL), expected

    got, expected = both(params, X, dparams, dX)
    assert_trees_close(got, expected, **TOL, what="forward_jvp")
    with pytest.raises(ValueError, match="dX must have the shape of X"):
        jaxdnn.forward_jvp(params, X, acts, dparams, dX[:, :2])


# The architectures of the transformation tests: every output, every hidden activation, no hidden
# layer, a width-1 layer, L2, dropout and both at once, in as few networks as cover them (each
# network is traced and compiled 2 x 5 times over: that, not running them, is these tests' time).
ARCHITECTURES = [  # (dims, activations, regularisation)
    ([2, 3, 2, 3], ("relu", "tanh", "softmax"), "l2"),  # softmax; relu, tanh; L2
    ([3, 2, 3, 2], ("leaky_relu", "sigmoid", "linear"), "dropout"),  # linear; dropout
    ([2, 1], ("sigmoid",), ""),  # sigmoid, no hidden layer: logistic regression
    ([3, 1, 1], ("linear", "sigmoid"), "l2+dropout"),  # linear hidden, width 1; both at once
]


def architectures(seed=0):
    """:data:`ARCHITECTURES` with params (b nonzero), X, Y and m drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    for i, (dims, acts, regularisation) in enumerate(ARCHITECTURES):
        m = int(rng.integers(2, 4))
        reg = {}
        if "l2" in regularisation:
            reg["l2"] = 0.3
        if "dropout" in regularisation:
            reg.update(keep_prob=0.75, key=jax.random.key(i))
        params = random_params(rng, dims, np.float64)
        params = [dict(p, b=as_jax(rng.standard_normal(np.shape(p["b"])), np.float64))
                  for p in params]
        X = as_jax(rng.standard_normal((dims[0], m)), np.float64)
        yield params, X, labels(rng, acts[-1], dims[-1], m), acts, reg, rng


def test_the_architectures_cover_every_activation_and_regularisation():
    assert {acts[-1] for _, acts, _ in ARCHITECTURES} == set(OUTPUTS)
    assert {a for _, acts, _ in ARCHITECTURES for a in acts[:-1]} == set(HIDDEN)
    assert {reg for *_, reg in ARCHITECTURES} == {"", "l2", "dropout", "l2+dropout"}
    assert {len(dims) - 1 for dims, *_ in ARCHITECTURES} == {1, 2, 3}


def transformations(cost, acts, reg, primals, tangents):
    """jvp, jacfwd, linearize, hessian and grad of ``cost`` with respect to params, X and Y."""
    f = lambda p, x, y: cost(p, x, y, acts, **reg)
    args = (0, 1, 2)
    J, lin = jax.linearize(f, *primals)
    return {"jvp": jax.jvp(f, primals, tangents), "jacfwd": jax.jacfwd(f, args)(*primals),
            "linearize": (J, lin(*tangents)), "hessian": jax.hessian(f, (0, 1))(*primals),
            "grad": jax.grad(f, args)(*primals)}


def test_every_transformation_of_the_manual_jvp_cost_equals_that_of_the_cost():
    """On every architecture of :data:`ARCHITECTURES`, all compiled as one program."""
    problems = [(acts, reg, (params, X, Y), tangent_like(rng, (params, X, Y)))
                for params, X, Y, acts, reg, rng in architectures()]

    @jax.jit
    def both(data):
        return [(transformations(jaxdnn.cost_with_manual_jvp, acts, reg, *d),
                 transformations(jaxdnn.cost, acts, reg, *d))
                for (acts, reg, *_), d in zip(problems, data)]

    results = both([(primals, tangents) for _, _, primals, tangents in problems])
    for (acts, reg, *_), (manual, auto) in zip(problems, results):
        for name in manual:
            assert_trees_close(manual[name], auto[name], **TOL, what=f"{name} {acts} {reg}")


def test_the_l2_strength_has_its_tangent():
    params, X, Y, acts, _, rng = next(architectures(seed=4))
    # eager: the custom_jvp rule run op by op (the other tests here compile it)
    manual = jax.jvp(lambda l2: jaxdnn.cost_with_manual_jvp(params, X, Y, acts, l2=l2),
                     (0.3,), (1.0,))
    auto = jax.jvp(lambda l2: jaxdnn.cost(params, X, Y, acts, l2=l2), (0.3,), (1.0,))
    assert_trees_close(manual, auto, **TOL, what="d/dl2")


def test_check_grads_of_the_manual_jvp_cost_in_both_modes_to_second_order(output="softmax"):
    rng = np.random.default_rng(5)
    params = random_params(rng, [3, 3, 2], np.float64)
    X = as_jax(rng.standard_normal((3, 4)), np.float64)
    Y = labels(rng, output, 2, 4)
    # jitted: check_grads evaluates each derivative at many points; compiled once per derivative,
    # not op by op (the custom_jvp rule is traced through jit just the same)
    cost = jax.jit(lambda p, x: jaxdnn.cost_with_manual_jvp(p, x, Y, ("tanh", output)))
    check_grads(cost, (params, X), order=2, modes=("fwd", "rev"))


def test_under_jit_and_with_bad_input():
    params, X, Y, acts, _, rng = next(architectures(seed=6))
    f = jax.jit(jax.grad(jaxdnn.cost_with_manual_jvp), static_argnums=3)
    reference = jax.jit(jax.grad(jaxdnn.cost), static_argnums=3)  # compiled, not op by op
    assert_trees_close(f(params, X, Y, acts), reference(params, X, Y, acts), **TOL,
                       what="jit(grad)")
    with pytest.raises(ValueError):
        jaxdnn.cost_with_manual_jvp(params, X, Y[0], acts)
