"""Test configuration: float64 available, and silent rank promotion is an error."""

import os
import pathlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

DATA_DIR = pathlib.Path(
    os.environ.get("JAXDNN_DATA", pathlib.Path(__file__).resolve().parents[1].parent
                   / "shared" / "data" / "catvnoncat"))


@pytest.fixture(params=["eager", "jit"])
def mode(request):
    """Run a numeric test both eagerly and under ``jax.jit``."""
    return request.param


def maybe_jit(fn, mode, static_argnames=("activations",)):
    """``fn`` itself in eager mode, else ``jax.jit(fn)`` with the activations static."""
    return fn if mode == "eager" else jax.jit(fn, static_argnames=static_argnames)


def assert_trees_close(actual, expected, *, rtol, atol=0.0, what=""):
    """Leaf-by-leaf closeness, naming the leaf path on failure."""
    import numpy as np

    assert jax.tree.structure(actual) == jax.tree.structure(expected), (
        f"{what}: tree structures differ: {jax.tree.structure(actual)} vs "
        f"{jax.tree.structure(expected)}")
    for (path, a), e in zip(jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(e), rtol=rtol, atol=atol,
            err_msg=f"{what} leaf {jax.tree_util.keystr(path)} (rtol={rtol}, atol={atol})")
