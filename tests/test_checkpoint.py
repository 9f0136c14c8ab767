"""Tests for jaxdnn.checkpoint: bitwise round trips into templates, refusal of bad files and of
templates that do not fit, atomic writes."""

import json
import os
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdnn import checkpoint
from jaxdnn.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load,
    prune_checkpoints,
    save,
)
from jaxdnn.optimizers import adam, gradient_descent, momentum

from .conftest import assert_trees_close

DIMS = (4, 3, 1)
CONFIG = {"layer_dims": [4, 3, 1], "activations": ["relu", "sigmoid"], "learning_rate": 0.0075,
          "seed": 1, "optimizer": {"name": "adam", "b1": 0.9}}


def make_params(seed, dtype, dims=DIMS):
    """List-of-{"W", "b"} params from a fixed NumPy seed (no jax.random compiles: fast)."""
    rng = np.random.default_rng(seed)
    return [{"W": jnp.asarray(rng.standard_normal((n, n_prev)), dtype),
             "b": jnp.asarray(rng.standard_normal((n, 1)), dtype)}
            for n_prev, n in zip(dims[:-1], dims[1:])]


def stacked_params(dtype, n_models=3):
    """A vmapped stack of models: every leaf has a leading model axis."""
    models = [make_params(seed, dtype) for seed in range(n_models)]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *models)


def stepped_state(opt, params):
    """The optimizer state after one update, so moments and counts are non-trivial."""
    grads = jax.tree.map(lambda p: jnp.cos(p) * 0.1, params)
    state = opt.init(params)
    _, state = opt.update(grads, state, params)
    return state


def assert_bitwise_equal(actual, expected, what=""):
    """Same tree (containers and NamedTuple classes), same dtypes and shapes, identical bytes."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected), (
        f"{what}: {jax.tree.structure(actual)} vs {jax.tree.structure(expected)}")
    for (path, a), e in zip(jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)):
        where = f"{what}{jax.tree_util.keystr(path)}"
        assert isinstance(a, jax.Array), f"{where} came back as {type(a).__name__}"
        assert a.dtype == e.dtype and a.shape == e.shape, (where, a.dtype, e.dtype, a.shape)
        assert np.asarray(a).tobytes() == np.asarray(e).tobytes(), f"{where} differs"


def write(tmp_path, name="ckpt.npz", dtype=jnp.float64, iteration=7):
    params = make_params(0, dtype)
    state = stepped_state(optax.adam(1e-3), params)
    path = tmp_path / name
    save(path, params, state, CONFIG, np.linspace(0.7, 0.1, 5), iteration)
    return path, params, state


# ----------------------------------------------------------------------------------------------
# round trips

def _cases():
    cases = []
    for dtype in (jnp.float32, jnp.float64):
        d = jnp.dtype(dtype).name
        cases += [
            (f"params-list-{d}", lambda d=dtype: (make_params(0, d), None)),
            (f"vmapped-stack-{d}", lambda d=dtype: (stacked_params(d), None)),
            (f"optax-adam-{d}", lambda d=dtype: (
                make_params(1, d), stepped_state(optax.adam(1e-3), make_params(1, d)))),
            (f"jaxdnn-adam-{d}", lambda d=dtype: (
                make_params(2, d), stepped_state(adam(1e-3), make_params(2, d)))),
        ]
    p32 = lambda: make_params(3, jnp.float32)
    cases += [
        ("optax-chain", lambda: (p32(), stepped_state(
            optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3)), p32()))),
        ("optax-sgd-momentum", lambda: (p32(), stepped_state(optax.sgd(0.1, momentum=0.9), p32()))),
        ("optax-inject-hyperparams", lambda: (p32(), stepped_state(
            optax.inject_hyperparams(optax.adam)(learning_rate=0.1), p32()))),
        ("optax-empty-state", lambda: (p32(), optax.EmptyState())),
        ("jaxdnn-gradient-descent", lambda: (p32(), stepped_state(gradient_descent(0.1), p32()))),
        ("jaxdnn-momentum", lambda: (p32(), stepped_state(momentum(0.1, 0.9), p32()))),
        ("vmapped-adam", lambda: (stacked_params(jnp.float32),
                                  stepped_state(optax.adam(1e-3), stacked_params(jnp.float32)))),
        ("tuple-dict-none", lambda: ((p32()[0]["W"], {"z": None, "a": p32()[1]}),
                                     (None, [optax.EmptyState(), None]))),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("make", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_round_trip_is_bitwise(tmp_path, make):
    params, state = make()
    path = save(tmp_path / "c.npz", params, state, CONFIG, np.arange(3.0), 3)
    ckpt = load(path, like=(params, state))
    assert isinstance(ckpt, Checkpoint)
    assert_bitwise_equal(ckpt.params, params, "params")
    assert_bitwise_equal(ckpt.opt_state, state, "opt_state")
    # the NamedTuple classes themselves come back, not look-alikes
    for a, e in zip(jax.tree.leaves(ckpt.opt_state, is_leaf=lambda x: isinstance(x, tuple)),
                    jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, tuple))):
        assert type(a) is type(e)
    # dict key order is kept (jax sorts keys when flattening; the user's order is preserved here)
    if isinstance(params, list):
        assert [list(layer) for layer in ckpt.params] == [list(layer) for layer in params]


@pytest.mark.parametrize("costs", [np.linspace(0.69, 0.05, 25),
                                   np.linspace(0.69, 0.05, 30, dtype=np.float32).reshape(3, 10)],
                         ids=["1d", "2d"])
def test_config_costs_iteration_come_back(tmp_path, costs):
    path = tmp_path / "c.npz"
    save(path, make_params(0, jnp.float32), None, CONFIG, costs, 2400)
    ckpt = load(path)
    assert ckpt.config == CONFIG
    assert ckpt.iteration == 2400 and type(ckpt.iteration) is int
    assert ckpt.costs.dtype == costs.dtype and ckpt.costs.shape == costs.shape
    np.testing.assert_array_equal(ckpt.costs, costs)  # exact (rtol 0)


def test_resumed_optimizer_continues_identically(tmp_path):
    params = make_params(4, jnp.float64)
    grads = jax.tree.map(lambda p: jnp.sin(p), params)
    opt = adam(0.01)
    state = stepped_state(opt, params)
    save(tmp_path / "c.npz", params, state, {}, np.zeros(1), 1)
    ckpt = load(tmp_path / "c.npz", like=(params, state))
    u_orig, s_orig = opt.update(grads, state, params)
    u_load, s_load = opt.update(grads, ckpt.opt_state, ckpt.params)
    assert_trees_close(u_load, u_orig, rtol=0.0, atol=0.0, what="update after resume")
    assert_bitwise_equal(s_load, s_orig, "state after resume")


def test_bfloat16_leaves_round_trip(tmp_path):
    params = make_params(5, jnp.bfloat16)
    save(tmp_path / "c.npz", params, None, {}, np.zeros(1), 0)
    assert_bitwise_equal(load(tmp_path / "c.npz", like=(params, None)).params, params,
                         "bfloat16 params")


def test_file_is_plain_npz_with_json_manifest(tmp_path):
    path, params, _ = write(tmp_path)
    with np.load(path, allow_pickle=False) as npz:
        manifest = json.loads(npz["manifest"].tobytes().decode("utf-8"))
        assert npz["params_00000"].dtype == np.float64
    assert manifest["format"] == "jaxdnn-checkpoint" and manifest["version"] == 2
    assert manifest["iteration"] == 7 and manifest["config"] == CONFIG
    assert manifest["checksum"]["algorithm"] == "sha256" and len(manifest["checksum"]["hex"]) == 64
    assert {"key": "params_00000", "path": "params[0]['W']", "dtype": "float64",
            "shape": [3, 4]} in manifest["arrays"]
    assert {"key": "opt_state_00000", "path": "opt_state[0].count", "dtype": "int32",
            "shape": []} in manifest["arrays"]


# ----------------------------------------------------------------------------------------------
# bad files: each raises CheckpointError naming the path and the problem


class RawManifest(str):
    """An ``edit_manifest`` that returns one of these replaces the manifest's text by it."""


def rewrite(path, edit_manifest=None, edit_arrays=None):
    """Rewrite a checkpoint with a manipulated manifest and/or arrays (a valid zip again)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    manifest = json.loads(arrays["manifest"].tobytes().decode("utf-8"))
    text = edit_manifest(manifest) if edit_manifest else None
    if edit_arrays:
        edit_arrays(arrays)
    text = text if isinstance(text, RawManifest) else json.dumps(manifest)
    arrays["manifest"] = np.frombuffer(text.encode("utf-8"), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def expect_error(path, *problems):
    with pytest.raises(CheckpointError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message, message
    assert any(p in message for p in problems), message
    return message


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.npz", "no such checkpoint file")


def test_directory_instead_of_file(tmp_path):
    expect_error(tmp_path, "is a directory")


@pytest.mark.parametrize("keep", [lambda n: n // 2, lambda n: n - 1],
                         ids=["first-half", "all-but-the-last-byte"])
def test_truncated_file(tmp_path, keep):
    path, _, _ = write(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])
    expect_error(path, "truncated or not a jaxdnn checkpoint")


def test_flipped_byte_in_the_middle(tmp_path):
    params = make_params(0, jnp.float64, dims=(64, 64, 1))  # the middle of the file is in W1
    path = save(tmp_path / "c.npz", params, None, {}, np.zeros(2), 1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    expect_error(path, "checksum mismatch")


def test_changed_leaf_with_valid_zip_fails_sha256(tmp_path):
    """Rewritten by another tool: zip CRCs are fine, the manifest's SHA-256 is not."""
    path, _, _ = write(tmp_path)

    def nudge(arrays):
        arrays["params_00000"] = np.nextafter(arrays["params_00000"], np.inf)

    rewrite(path, edit_arrays=nudge)
    expect_error(path, "checksum mismatch")


def test_wrong_version(tmp_path):
    path, _, _ = write(tmp_path)
    rewrite(path, edit_manifest=lambda m: m.update(version=3))
    expect_error(path, "format version 3, this jaxdnn reads version 2")


def test_wrong_format_name(tmp_path):
    path, _, _ = write(tmp_path)
    rewrite(path, edit_manifest=lambda m: m.update(format="other-checkpoint"))
    expect_error(path, "not a jaxdnn checkpoint")


def test_array_shape_disagrees_with_manifest(tmp_path):
    path, _, _ = write(tmp_path)
    rewrite(path, edit_arrays=lambda a: a.update(params_00000=a["params_00000"].T.copy()))
    expect_error(path, "corrupted")


def test_corrupted_manifest_json(tmp_path):
    path, _, _ = write(tmp_path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["manifest"] = arrays["manifest"][:-5]
    np.savez(path, **arrays)
    expect_error(path, "corrupted manifest")


def test_non_checkpoint_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    expect_error(path, "not a jaxdnn checkpoint")


def test_npy_file(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(3))
    expect_error(path, "not a jaxdnn checkpoint")


def _set(*keys_and_value):
    """An edit that sets ``manifest[k0][k1]... = value``."""
    *keys, value = keys_and_value

    def edit(manifest):
        node = manifest
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return edit


def _pop(*keys):
    """An edit that deletes ``manifest[k0][k1]...``."""
    def edit(manifest):
        node = manifest
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return edit


CRAFTED_MANIFESTS = [  # (name, edit, a phrase of the message)
    ("a JSON list", lambda m: RawManifest("[1, 2]"), "manifest is not a JSON object"),
    ("nested 100000 deep", lambda m: RawManifest("[" * 100000), "corrupted manifest"),
    ("version true", _set("version", True), "format version True"),
    ("arrays a str", _set("arrays", "abc"), "corrupted manifest"),
    ("array entry a str", _set("arrays", 0, "abc"), "corrupted manifest"),
    ("array entry without key", _pop("arrays", 0, "key"), "corrupted manifest"),
    ("array entry without path", _pop("arrays", 0, "path"), "corrupted manifest"),
    ("array dtype object", _set("arrays", 0, "dtype", "object"), "the manifest says object"),
    ("array dtype a dict", _set("arrays", 0, "dtype", {"a": 1}), "corrupted manifest"),
    ("array shape an int", _set("arrays", 0, "shape", 5), "corrupted manifest"),
    ("array key a list", _set("arrays", 0, "key", ["x"]), "corrupted manifest"),
    ("array key unknown", _set("arrays", 0, "key", "nope"), "array 'nope' is missing"),
    ("array path a list", _set("arrays", 0, "path", ["x"]), "corrupted manifest"),
    ("checksum an int", _set("checksum", "hex", 5), "checksum mismatch"),
    ("checksum algorithm md5", _set("checksum", "algorithm", "md5"), "corrupted manifest"),
    ("no checksum", _pop("checksum"), "corrupted manifest"),
    ("iteration a str", _set("iteration", "3"), "bad config, iteration or costs"),
    ("iteration a float", _set("iteration", 3.0), "bad config, iteration or costs"),
    ("iteration negative", _set("iteration", -5), "bad config, iteration or costs"),
    ("config a list", _set("config", [1]), "bad config, iteration or costs"),
    ("config missing", _pop("config"), "bad config, iteration or costs"),
]


@pytest.mark.parametrize("name,edit,problem", CRAFTED_MANIFESTS,
                         ids=[r[0] for r in CRAFTED_MANIFESTS])
def test_a_crafted_manifest_is_refused(tmp_path, name, edit, problem):
    path, _, _ = write(tmp_path)
    rewrite(path, edit_manifest=edit)
    expect_error(path, problem)


def _zip_regions(raw):
    """Byte offsets worth flipping, by region: every byte of the first local header, of the first
    central-directory record and of the end record, and every 97th byte of the members."""
    lh, cd, eocd = raw.index(b"PK\x03\x04"), raw.index(b"PK\x01\x02"), raw.rindex(b"PK\x05\x06")
    headers = {"local header": range(lh + 4, lh + 30), "central directory": range(cd + 4, cd + 46),
               "end record": range(eocd + 4, eocd + 22)}
    taken = {o for r in headers.values() for o in r}
    return {**headers, "members": [o for o in range(30, cd, 97) if o not in taken]}


@pytest.mark.parametrize("region", ["local header", "central directory", "end record", "members"])
def test_a_flipped_byte_fails_clearly_or_returns_the_saved_data(tmp_path, region):
    path, _, _ = write(tmp_path)
    raw = path.read_bytes()
    good = load(path)
    flipped = tmp_path / "flipped.npz"
    for offset in _zip_regions(raw)[region]:
        data = bytearray(raw)
        data[offset] ^= 0xFF
        flipped.write_bytes(bytes(data))
        try:
            loaded = load(flipped)
        except CheckpointError as e:
            assert str(flipped) in str(e), f"offset {offset}: {e}"
            continue
        # a flip the zip format ignores (a timestamp, a field zipfile does not read) is harmless
        # only if exactly the saved data comes back
        what = f"offset {offset}: "
        assert_bitwise_equal((loaded.params, loaded.opt_state), (good.params, good.opt_state), what)
        assert (loaded.config, loaded.iteration) == (good.config, good.iteration), what
        assert loaded.costs.tobytes() == good.costs.tobytes(), what
        assert loaded.metrics.keys() == good.metrics.keys(), what


@pytest.mark.parametrize("path", [None, ["a.npz"]], ids=["None", "a list"])
def test_load_rejects_a_path_that_is_not_one(path):
    with pytest.raises(TypeError, match=r"str|path"):
        load(path)


@pytest.mark.parametrize("content", [b"iteration,cost\n0,0.69\n", b"", b"PK",
                                     b"PK\x03\x04" + b"\0" * 100],
                         ids=["text", "empty", "two-bytes", "zip-magic-then-zeros"])
def test_text_or_empty_file(tmp_path, content):
    path = tmp_path / "notes.npz"
    path.write_bytes(content)
    message = expect_error(path, "truncated or not a jaxdnn checkpoint")
    assert "pickle" not in message  # no advice to load it unsafely


def test_float64_leaves_refused_without_x64(tmp_path):
    path, _, _ = write(tmp_path, dtype=jnp.float64)
    jax.config.update("jax_enable_x64", False)
    try:
        expect_error(path, "jax_enable_x64")
    finally:
        jax.config.update("jax_enable_x64", True)


def test_float32_checkpoint_loads_without_x64(tmp_path):
    params = make_params(0, jnp.float32)
    # (jaxdnn's rules hold hyperparameters in the default float: float64 under x64)
    path = save(tmp_path / "c.npz", params, stepped_state(optax.adam(1e-3), params), {},
                np.zeros(2), 1)
    jax.config.update("jax_enable_x64", False)
    try:
        ckpt = load(path)
        leaves = jax.tree.leaves((ckpt.params, ckpt.opt_state))
        assert all(leaf.dtype in (jnp.float32, jnp.int32) for leaf in leaves)
    finally:
        jax.config.update("jax_enable_x64", True)


# ----------------------------------------------------------------------------------------------
# templates: the structure comes from the caller, the file holds leaves only


class LocalState(NamedTuple):
    x: jax.Array


def test_any_pytree_round_trips_into_its_template_and_load_imports_nothing(tmp_path):
    params = make_params(0, jnp.float32)
    state = (LocalState(jnp.arange(3.0)), {"z": None, "a": jnp.ones((2, 2), jnp.int32)})
    path = save(tmp_path / "c.npz", params, state, {}, np.zeros(1), 0)
    modules_before = set(sys.modules)
    ckpt = load(path, like=(params, state))
    assert set(sys.modules) == modules_before  # nothing named in a file is imported
    assert_bitwise_equal(ckpt.opt_state, state, "opt_state")
    assert type(ckpt.opt_state[0]) is LocalState


def test_without_a_template_each_tree_comes_back_as_its_leaves(tmp_path):
    path, params, state = write(tmp_path)
    ckpt = load(path)
    assert_bitwise_equal(ckpt.params, jax.tree.leaves(params), "params leaves")
    assert_bitwise_equal(ckpt.opt_state, jax.tree.leaves(state), "opt_state leaves")


def test_many_leaves_keep_their_order(tmp_path):
    params = [{"W": jnp.full((1, 1), float(i)), "b": jnp.zeros((1, 1))} for i in range(12)]
    path = save(tmp_path / "c.npz", params, None, {}, np.zeros(1), 0)
    assert_bitwise_equal(load(path, like=(params, None)).params, params, "12 layers")


@pytest.mark.parametrize("template, problem", [
    (lambda p, s: (p[:1], s), "holds 4 params leaves, the template has 2"),
    (lambda p, s: ([p[1], p[0]], s), "the file's leaf params[0]['W'] is float64[3, 4], the "
                                     "template's params[0]['W'] is float64[1, 3]"),
    (lambda p, s: (jax.tree.map(lambda a: a.astype(jnp.float32), p), s), "float32"),
    (lambda p, s: (p, adam(0.1).init(p)), "opt_state leaves"),
    (lambda p, s: ([{"W": p[0]["W"], "c": p[0]["b"]}, p[1]], s), "params[0]['c']"),
], ids=["fewer-leaves", "other-shape", "other-dtype", "other-optimizer", "other-path"])
def test_a_template_that_does_not_fit_is_an_error_naming_the_leaf(tmp_path, template, problem):
    path, params, state = write(tmp_path)
    with pytest.raises(CheckpointError) as info:
        load(path, like=template(params, state))
    assert str(path) in str(info.value) and problem in str(info.value), str(info.value)


def test_shape_dtype_structs_are_templates_too(tmp_path):
    path, params, state = write(tmp_path)
    like = jax.eval_shape(lambda: (params, state))
    ckpt = load(path, like=like)
    assert_bitwise_equal(ckpt.params, params, "params")


def test_metrics_round_trip(tmp_path):
    params = make_params(0, jnp.float32)
    curves = {"val_cost": np.array([0.7, 0.5]), "val_iteration": np.array([10, 20])}
    save(tmp_path / "c.npz", params, None, {}, np.zeros(2), 20, metrics=curves)
    got = load(tmp_path / "c.npz").metrics
    assert sorted(got) == sorted(curves)
    for k in curves:
        np.testing.assert_array_equal(got[k], curves[k])
    with pytest.raises(ValueError, match="metric names"):
        save(tmp_path / "d.npz", params, None, {}, np.zeros(2), 20, metrics={"a b": np.zeros(1)})


# ----------------------------------------------------------------------------------------------
# save's own checks

SAVE_MUTATIONS = [  # (name, kwargs, error, match)
    ("path None", {"path": None}, TypeError, r"str|path"),
    ("path int", {"path": 5}, TypeError, r"str|path"),
    ("params str leaf", {"params": [{"W": "W"}]}, TypeError, r"params.*str"),
    ("opt_state str leaf", {"opt_state": "adam"}, TypeError, "str"),
    ("params object leaf", {"params": [{"W": object()}]}, TypeError, r"params"),
    ("params object array", {"params": [{"W": np.array([object()])}]}, TypeError, r"params"),
    ("params structured array", {"params": [{"W": np.zeros(2, dtype=[("a", "f8")])}]},
     TypeError, r"params"),
    ("params str array", {"params": [{"W": np.array(["a"])}]}, TypeError, r"params"),
    ("params bytes array", {"params": [{"W": np.array([b"ab"])}]}, TypeError, r"params"),
    ("params datetime array", {"params": [{"W": np.array(["2020-01-01"], "datetime64[D]")}]},
     TypeError, r"params"),
    ("params a set", {"params": {1, 2}}, TypeError, r"params"),
    ("params a function", {"params": [jnp.tanh]}, TypeError, r"params"),
    ("opt_state PRNG key", {"opt_state": jax.random.key(0)}, TypeError, "PRNG key"),
    ("config object", {"config": {"f": object()}}, TypeError, "JSON"),
    ("config NaN", {"config": {"nan": float("nan")}}, TypeError, "JSON"),
    ("config tuple key", {"config": {(1, 2): 3}}, TypeError, r"config"),
    ("config list", {"config": [1, 2]}, TypeError, "config must be a dict"),
    ("config None", {"config": None}, TypeError, "config must be a dict"),
    ("iteration negative", {"iteration": -1}, ValueError, "iteration"),
    ("iteration float", {"iteration": 1.5}, TypeError, "iteration"),
    ("iteration bool", {"iteration": True}, TypeError, "iteration"),
    ("iteration None", {"iteration": None}, TypeError, "iteration"),
    ("iteration str", {"iteration": "3"}, TypeError, "iteration"),
    ("costs 3-D", {"costs": np.zeros((2, 2, 2))}, ValueError, "costs"),
    ("costs 0-D", {"costs": np.zeros(())}, ValueError, "costs"),
    ("costs str array", {"costs": np.array(["a"])}, ValueError, "costs"),
    ("costs str", {"costs": "abc"}, TypeError, "costs"),
    ("costs None", {"costs": None}, TypeError, "costs"),
    ("costs complex", {"costs": np.zeros(2, complex)}, ValueError, "costs"),
    ("costs bool", {"costs": np.array([True])}, ValueError, "costs"),
    ("costs ragged list", {"costs": [[1.0], [1.0, 2.0]]}, ValueError, "costs"),
]


@pytest.mark.parametrize("name, kwargs, error, match", SAVE_MUTATIONS,
                         ids=[r[0] for r in SAVE_MUTATIONS])
def test_save_rejects_bad_arguments(tmp_path, name, kwargs, error, match):
    args = {"path": tmp_path / "c.npz", "params": make_params(0, jnp.float32), "opt_state": None,
            "config": {}, "costs": np.zeros(3), "iteration": 0, **kwargs}
    with pytest.raises(error, match=match):
        save(**args)
    assert list(tmp_path.iterdir()) == []


def test_save_takes_none_params_list_costs_numpy_iterations_and_nan_costs(tmp_path):
    """What a diverged or unusual run may hand ``save``: all of it comes back as given."""
    cases = [dict(params=None, costs=np.zeros(3), iteration=3),
             dict(params=make_params(0, jnp.float32), costs=[1.0, 2.0], iteration=np.int64(2)),
             dict(params=make_params(0, jnp.float32), costs=np.array([1.0, np.nan]), iteration=4)]
    for i, case in enumerate(cases):
        path = save(tmp_path / f"c{i}.npz", case["params"], None, {}, case["costs"],
                    case["iteration"])
        ckpt = load(path, like=(case["params"], None))
        if case["params"] is None:
            assert ckpt.params is None
        else:
            assert_bitwise_equal(ckpt.params, case["params"], f"case {i} params")
        np.testing.assert_array_equal(ckpt.costs, np.asarray(case["costs"]))  # NaN == NaN here
        assert ckpt.iteration == case["iteration"] and type(ckpt.iteration) is int


def test_save_refuses_tracers(tmp_path):
    params = make_params(0, jnp.float32)

    def inside_jit(p):
        save(tmp_path / "c.npz", p, None, {}, np.zeros(1), 0)
        return p

    with pytest.raises(TypeError, match="outside jit"):
        jax.jit(inside_jit)(params)


# ----------------------------------------------------------------------------------------------
# atomic writes


def _only_checkpoint_left(tmp_path, path):
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], list(tmp_path.iterdir())


def test_crash_at_replace_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path, params, state = write(tmp_path, iteration=1)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save(path, make_params(9, jnp.float64), state, {"new": True}, np.zeros(1), 2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    ckpt = load(path, like=(params, state))
    assert ckpt.iteration == 1
    assert_bitwise_equal(ckpt.params, params, "params after a failed save")
    _only_checkpoint_left(tmp_path, path)


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path, params, state = write(tmp_path, iteration=1)
    before = path.read_bytes()

    def half_write(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # also a BaseException that is not an Exception

    monkeypatch.setattr(checkpoint.np, "savez", half_write)
    with pytest.raises(KeyboardInterrupt):
        save(path, params, state, CONFIG, np.zeros(1), 2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load(path).iteration == 1
    _only_checkpoint_left(tmp_path, path)


def test_overwrite_replaces_and_fsyncs(tmp_path, monkeypatch):
    path, _, state = write(tmp_path, iteration=1)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save(path, make_params(1, jnp.float64), state, CONFIG, np.zeros(1), 2)
    assert len(synced) == 2, "expected an fsync of the file and one of the directory"
    assert load(path).iteration == 2
    _only_checkpoint_left(tmp_path, path)


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save(tmp_path / "no" / "c.npz", make_params(0, jnp.float32), None, {}, np.zeros(1), 0)


# ----------------------------------------------------------------------------------------------
# directories of checkpoints


def test_checkpoint_path_naming(tmp_path):
    assert checkpoint_path(tmp_path, 1000) == tmp_path / "ckpt_00001000.npz"
    assert checkpoint_path("runs/a", 0).name == "ckpt_00000000.npz"
    assert checkpoint_path(tmp_path, 123456789).name == "ckpt_123456789.npz"
    with pytest.raises(ValueError, match="iteration"):
        checkpoint_path(tmp_path, -1)
    with pytest.raises(TypeError, match="iteration"):
        checkpoint_path(tmp_path, 1.0)


def test_latest_list_and_prune(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None
    params = make_params(0, jnp.float32)
    for it in (10, 200, 30, 123456789):
        save(checkpoint_path(tmp_path, it), params, None, {}, np.zeros(1), it)
    (tmp_path / ".ckpt_99999999.npz.abc.tmp").write_bytes(b"unfinished")  # a crashed save
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "ckpt_00000040.npz").mkdir()  # not a file
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "ckpt_00000010.npz", "ckpt_00000030.npz", "ckpt_00000200.npz", "ckpt_123456789.npz"]
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 123456789)
    assert load(latest_checkpoint(tmp_path)).iteration == 123456789

    removed = prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in removed] == ["ckpt_00000010.npz", "ckpt_00000030.npz"]
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "ckpt_00000200.npz", "ckpt_123456789.npz"]
    assert (tmp_path / "notes.txt").exists() and (tmp_path / ".ckpt_99999999.npz.abc.tmp").exists()
    with pytest.raises(ValueError, match="keep"):
        prune_checkpoints(tmp_path, keep=0)
