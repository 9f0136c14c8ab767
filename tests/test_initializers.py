"""init_params: shapes, dtypes, determinism and the documented scale of each method."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_shapes_and_dtypes(dtype):
    params = jaxdnn.init_params(jax.random.key(0), [5, 4, 3, 1], dtype=dtype)
    assert [(p["W"].shape, p["b"].shape) for p in params] == [
        ((4, 5), (4, 1)), ((3, 4), (3, 1)), ((1, 3), (1, 1))]
    assert all(leaf.dtype == dtype for leaf in jax.tree.leaves(params))
    assert all(float(jnp.abs(p["b"]).max()) == 0 for p in params)


@pytest.mark.parametrize("method,std", [
    ("small", lambda n: 0.01), ("large", lambda n: 10.0),
    ("xavier", lambda n: 1 / np.sqrt(n)), ("he", lambda n: np.sqrt(2 / n))])
def test_weight_std_matches_the_documented_scale(method, std):
    # 400 x 400 weights per layer: the sample std of 160000 normals is within 1 % (about 4 sigma)
    params = jaxdnn.init_params(jax.random.key(1), [400, 400, 100], method, jnp.float64)
    for p in params:
        n_prev = p["W"].shape[1]
        W = np.asarray(p["W"])
        assert abs(W.std() / std(n_prev) - 1) < 0.01 + 4 / np.sqrt(2 * W.size)
        assert abs(W.mean()) < 4 * std(n_prev) / np.sqrt(W.size)


def test_zeros_and_determinism():
    zeros = jaxdnn.init_params(jax.random.key(0), [3, 2, 1], "zeros")
    assert all(float(jnp.abs(leaf).max()) == 0 for leaf in jax.tree.leaves(zeros))
    a = jaxdnn.init_params(jax.random.key(7), [3, 2, 1])
    b = jaxdnn.init_params(jax.random.key(7), [3, 2, 1])
    c = jaxdnn.init_params(jax.random.key(8), [3, 2, 1])
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    assert not np.array_equal(a[0]["W"], c[0]["W"])


def test_layers_draw_from_independent_keys():
    params = jaxdnn.init_params(jax.random.key(0), [4, 4, 4], "xavier")
    assert not np.allclose(params[0]["W"], params[1]["W"])


def test_vmap_over_keys_stacks_models():
    keys = jax.random.split(jax.random.key(0), 5)
    stacked = jax.vmap(lambda k: jaxdnn.init_params(k, [3, 4, 1]))(keys)
    assert stacked[0]["W"].shape == (5, 4, 3)
    np.testing.assert_array_equal(stacked[0]["W"][2],
                                  jaxdnn.init_params(keys[2], [3, 4, 1])[0]["W"])


@pytest.mark.parametrize("dims,error,match", [
    ([5], ValueError, "at least two entries"),
    ([], ValueError, "at least two entries"),
    ([5, 0, 1], ValueError, r"layer_dims\[1\] must be positive, got 0"),
    ([5, -3, 1], ValueError, r"layer_dims\[1\] must be positive, got -3"),
    ([5, 2.5, 1], TypeError, r"layer_dims\[1\] must be an int"),
    (7, TypeError, "sequence of ints"),
])
def test_bad_layer_dims(dims, error, match):
    with pytest.raises(error, match=match):
        jaxdnn.init_params(jax.random.key(0), dims)


def test_bad_method_and_dtype():
    with pytest.raises(ValueError, match="unknown init method 'glorot'"):
        jaxdnn.init_params(jax.random.key(0), [2, 1], "glorot")
    with pytest.raises(TypeError, match="dtype must be floating, got int32"):
        jaxdnn.init_params(jax.random.key(0), [2, 1], dtype=jnp.int32)
