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


KEY = jax.random.key(0)

INIT_MUTATIONS = [  # (name, kwargs for init_params(key, layer_dims, method, dtype), error, match)
    ("key int", dict(key=0), TypeError, r"key"),
    ("key None", dict(key=None), TypeError, r"key"),
    ("key str", dict(key="key"), TypeError, r"key"),
    ("key float array", dict(key=jnp.zeros(2)), TypeError, r"key"),
    ("batch of keys", dict(key=jax.random.split(KEY, 2)), ValueError, r"key"),
    ("layer_dims empty", dict(layer_dims=[]), ValueError, r"at least two entries"),
    ("layer_dims one entry", dict(layer_dims=[5]), ValueError, r"at least two entries"),
    ("layer_dims zero", dict(layer_dims=[5, 0, 1]), ValueError,
     r"layer_dims\[1\] must be positive, got 0"),
    ("layer_dims negative", dict(layer_dims=[5, -3, 1]), ValueError,
     r"layer_dims\[1\] must be positive, got -3"),
    ("layer_dims float", dict(layer_dims=[5, 2.5, 1]), TypeError,
     r"layer_dims\[1\] must be an int"),
    ("layer_dims integral float", dict(layer_dims=[3.0, 1]), TypeError, r"layer_dims"),
    ("layer_dims str entries", dict(layer_dims=["3", "1"]), TypeError, r"layer_dims"),
    ("layer_dims bool", dict(layer_dims=[True, 1]), TypeError, r"layer_dims"),
    ("layer_dims None entry", dict(layer_dims=[3, None]), TypeError, r"layer_dims"),
    ("layer_dims None", dict(layer_dims=None), TypeError, r"layer_dims"),
    ("layer_dims int", dict(layer_dims=7), TypeError, r"sequence of ints"),
    ("layer_dims str", dict(layer_dims="31"), TypeError, r"layer_dims"),
    ("layer_dims nested", dict(layer_dims=[[3], [1]]), TypeError, r"layer_dims"),
    ("layer_dims 2-D array", dict(layer_dims=np.array([[3, 1]])), ValueError, r"layer_dims"),
    ("layer_dims a set", dict(layer_dims={3, 1}), TypeError, r"layer_dims"),
    ("method unknown", dict(method="glorot"), ValueError, r"unknown init method 'glorot'"),
    ("method upper case", dict(method="HE"), ValueError, r"method"),
    ("method None", dict(method=None), ValueError, r"method"),
    ("method int", dict(method=1), ValueError, r"method"),
    ("method list", dict(method=["he"]), ValueError, r"method"),
    ("dtype int32", dict(dtype=jnp.int32), TypeError, r"dtype must be floating, got int32"),
    ("dtype bool", dict(dtype=bool), TypeError, r"dtype"),
    ("dtype complex64", dict(dtype=jnp.complex64), TypeError, r"dtype"),
    ("dtype object", dict(dtype=object), TypeError, r"dtype"),
    ("dtype 'banana'", dict(dtype="banana"), TypeError, r"dtype|data type"),
    ("dtype 5", dict(dtype=5), TypeError, r"dtype|data type"),
]


def _init(**kw):
    args = dict(key=KEY, layer_dims=[3, 4, 1], method="he", dtype=jnp.float32)
    args.update(kw)
    return jaxdnn.init_params(args["key"], args["layer_dims"], args["method"], args["dtype"])


@pytest.mark.parametrize("name,kw,error,match", INIT_MUTATIONS, ids=[r[0] for r in INIT_MUTATIONS])
def test_init_params_rejects_bad_arguments(name, kw, error, match):
    with pytest.raises(error, match=match):
        _init(**kw)


INIT_CONTROLS = [
    ("legacy uint32 key", dict(key=jax.random.PRNGKey(0)), [(4, 3), (1, 4)]),
    ("NumPy layer_dims", dict(layer_dims=np.array([3, 1])), [(1, 3)]),
    ("tuple layer_dims of NumPy ints", dict(layer_dims=(np.int64(2), np.int8(1))), [(1, 2)]),
    ("float16", dict(dtype=jnp.float16, method="large"), [(4, 3), (1, 4)]),
    ("dtype given as a string", dict(dtype="float64", method="xavier"), [(4, 3), (1, 4)]),
    ("width 1", dict(layer_dims=[1, 1, 1, 1], method="small"), [(1, 1)] * 3)]


@pytest.mark.parametrize("name,kw,shapes", INIT_CONTROLS, ids=[r[0] for r in INIT_CONTROLS])
def test_init_params_accepts_valid_extreme_arguments(name, kw, shapes):
    params = _init(**kw)
    assert [p["W"].shape for p in params] == shapes, name
    for leaf in jax.tree.leaves(params):
        assert leaf.dtype == jnp.dtype(kw.get("dtype", jnp.float32)), name
        assert np.isfinite(np.asarray(leaf, np.float64)).all(), name
