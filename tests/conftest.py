"""Test configuration: float64 available, and silent rank promotion is an error."""

import collections
import contextlib
import os
import pathlib

import numpy as np
import pytest

# The suite compiles thousands of small XLA programs and runs most of them a few times on tiny
# arrays, so compiling is most of its time. It compiles them faster than users' defaults do:
# - without LLVM's optimisations (slower machine code, same programs), and
# - with XLA's CPU loop emitters for fusions instead of the newer MLIR fusion emitters (XLA then
#   fuses slightly less: reductions stay outside the elementwise fusions).
# Both change how XLA turns the same jaxpr into machine code, not what jaxdnn asks it to compute;
# every test passes with and without them, at the same tolerances (what each saves: the commits
# that set them). The compute-bound course runs (test_course) run in a subprocess at XLA's
# defaults, as users run them. Set before JAX starts its backend; a flag that XLA_FLAGS already
# names is kept as given. The controller sets them once, and pytest-xdist's workers inherit them.
SUITE_XLA_FLAGS = {"xla_backend_optimization_level": "0", "xla_cpu_use_fusion_emitters": "false"}


def _xla_accepts(flags: str) -> bool:
    """Whether this jaxlib's XLA starts with ``XLA_FLAGS=flags``: XLA aborts on a flag it does
    not know, and a newer XLA may drop the emitter switch (jaxlib 0.8.0 and 0.10.2 have it)."""
    import subprocess
    import sys

    probe = subprocess.run([sys.executable, "-c", "import jax; jax.devices('cpu')"],
                           env=dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu"),
                           capture_output=True)
    return probe.returncode == 0


def _suite_xla_flags(given: str) -> str:
    """``given`` with each of :data:`SUITE_XLA_FLAGS` that it does not name added; the emitter
    switch only where this XLA knows it (the optimisation level is in every XLA)."""
    added = [name for name in SUITE_XLA_FLAGS if name not in given]
    if set(added) - {"xla_backend_optimization_level"} and not _xla_accepts(_join(given, added)):
        added = [name for name in added if name == "xla_backend_optimization_level"]
    return _join(given, added)


def _join(given: str, names) -> str:
    return " ".join([given, *(f"--{name}={SUITE_XLA_FLAGS[name]}" for name in names)]).strip()


os.environ["XLA_FLAGS"] = XLA_FLAGS = _suite_xla_flags(os.environ.get("XLA_FLAGS", ""))

import jax  # noqa: E402 (after XLA_FLAGS, which JAX reads when its backend starts)

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_report_header(config):
    return f"XLA_FLAGS: {XLA_FLAGS}"

DATA_DIR = pathlib.Path(  # as jaxdnn.data.find_cat_dir(): $JAXDNN_DATA, else the package's copy
    os.environ.get("JAXDNN_DATA") or pathlib.Path(__file__).resolve().parents[1]
    / "jaxdnn" / "datasets" / "catvnoncat")


@pytest.fixture(params=["eager", "jit"])
def mode(request):
    """Run a numeric test both eagerly and under ``jax.jit``."""
    return request.param


def maybe_jit(fn, mode, static_argnames=("activations",)):
    """``fn`` itself in eager mode, else ``jax.jit(fn)`` with the activations static."""
    return fn if mode == "eager" else jax.jit(fn, static_argnames=static_argnames)


def assert_trees_close(actual, expected, *, rtol, atol=0.0, what=""):
    """Leaf-by-leaf closeness, naming the leaf path on failure."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected), (
        f"{what}: tree structures differ: {jax.tree.structure(actual)} vs "
        f"{jax.tree.structure(expected)}")
    for (path, a), e in zip(jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(e), rtol=rtol, atol=atol,
            err_msg=f"{what} leaf {jax.tree_util.keystr(path)} (rtol={rtol}, atol={atol})")


def as_jax(x, dtype):
    """``x`` as a device array of ``dtype``, converted in NumPy and placed with ``device_put``: no
    compile (``jnp.asarray`` compiles a copy for every new shape, ~0.1 s each here)."""
    return jax.device_put(np.asarray(x, dtype))


def random_params(rng, dims, dtype, method="xavier"):
    """Params as ``jaxdnn.init_params(key, dims, method, dtype)`` draws them (W is ``N(0, 1)``
    times the method's scale, b is 0), but drawn with NumPy from ``rng``
    (``np.random.default_rng(seed)``): test data at a new shape then costs no eager JAX compiles.
    ``init_params`` itself is tested in test_initializers."""
    from jaxdnn.initializers import SCALES

    return [{"W": as_jax(rng.standard_normal((n, n_prev)) * SCALES[method](n_prev), dtype),
             "b": as_jax(np.zeros((n, 1)), dtype)}
            for n_prev, n in zip(dims[:-1], dims[1:])]


def once_per_session(request, tmp_path_factory, name, produce):
    """``produce(folder)`` run once per test session, also under pytest-xdist; the folder.

    Under xdist the workers share the session's temporary root: the first worker to create
    ``name`` there runs ``produce``, the others wait for it, so an expensive subprocess (a
    benchmark, a multi-device run) runs once rather than once per worker. A failure of
    ``produce`` fails every test that asks for the folder, with its message.
    """
    import time
    import traceback

    shared = hasattr(request.config, "workerinput")  # under xdist: the session's common folder
    root = tmp_path_factory.getbasetemp().parent if shared else tmp_path_factory.getbasetemp()
    out = root / name
    try:
        out.mkdir()
    except FileExistsError:  # another worker runs it: wait for its result (or its failure)
        for _ in range(1800):
            if (out / "done").exists():
                break
            time.sleep(0.5)
    else:
        try:
            produce(out)
            status = "0\n"
        except BaseException:  # noqa: BLE001 - recorded, and raised below in every worker
            status = "1\n" + traceback.format_exc()[-5000:]
        (out / "done").write_text(status)
    status, _, log = (out / "done").read_text().partition("\n")
    if status != "0":
        pytest.fail(f"{name} failed:\n{log}")
    return out


@contextlib.contextmanager
def count_compiles():
    """A list that collects one entry per XLA compile (of any function) inside the block.

    Built on ``jax.monitoring``: JAX records a ``/jax/core/compile/backend_compile_duration``
    event each time it hands a program to XLA, and never when a cached executable runs.
    """
    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield compiles
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def he_params(dims, seed=0, dtype="float64"):
    """He-initialised params (``W ~ N(0, 2 / n_{l-1})``, ``b = 0``) drawn with NumPy from ``seed``:
    :func:`random_params` with ``np.random.default_rng(seed)`` and the ``"he"`` scale."""
    return random_params(np.random.default_rng(seed), dims, dtype, "he")


def pytest_collection_modifyitems(config, items):
    """The longest files first: pytest-xdist (``--dist loadfile --no-loadscope-reorder``) hands
    whole files to its two workers in this order, so the long ones overlap the many short ones
    instead of one finishing alone while the other worker idles. A file's length is guessed from
    its tests: first the files with tests marked ``slow`` (subprocesses of 10 s and more), most
    such tests first, then the others, most tests first; a file's tests keep their order."""
    files = collections.defaultdict(lambda: [0, 0])  # file -> [slow tests, tests]
    for item in items:
        count = files[item.path]
        count[0] += item.get_closest_marker("slow") is not None
        count[1] += 1
    rank = {path: i for i, path in enumerate(sorted(files, key=lambda p: (-files[p][0],
                                                                          -files[p][1])))}
    items.sort(key=lambda item: rank[item.path])  # stable: a file's tests stay in order
