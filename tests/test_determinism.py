"""Determinism: the same key and data give the same bits.

What is asserted bitwise (same dtype, shape and bytes, so -0.0 != 0.0 and NaN payloads count):

- ``init_params``: same key -> identical params; a different key -> different W;
- ``fit`` called twice, in this process and in a fresh Python process: identical params and costs,
  full batch and minibatch + dropout + Adam (that fresh process first runs a fit under
  ``jax.jit``, then an eager one: a first call under a trace must leave later ones working);
- ``fit`` with minibatches, dropout and Adam cut into chunks of 1 iteration == ``fit`` in a single
  chunk (the library promises it: resumed runs end bitwise equal to uninterrupted ones; full-batch
  chunking is tested in test_train).

What is only close, with the reason (each test prints whether it happened to be bitwise here):

- ``fit`` called directly vs inside the caller's ``jax.jit`` (the traced path: one scan instead of
  host-driven chunks, the learning rate a compile-time constant), ``manual_value_and_grad`` /
  ``autodiff_value_and_grad`` eager vs jitted, and ``init_params`` eager vs jitted: these are
  different XLA programs. Eager runs every op as its own compiled kernel; under ``jit`` XLA fuses
  elementwise ops into their consumers and reductions (the cost's elementwise terms into its sum,
  ``dZ * g'(Z)`` into the next matmul, the init scale into the normal draw) and may reassociate or
  contract (FMA) differently, so the last bits can differ: ~1e-16 of a leaf's scale in float64,
  ~1e-7 in float32. On this machine the float64 full-batch fit differed under jit (1.5e-16) while
  the float32 and minibatch runs came out bitwise equal; value-and-grads and init_params differed.
"""

import hashlib
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn

ACTS = ("tanh", "relu", "sigmoid")
DIMS = [3, 5, 4, 1]
M = 23  # 4 minibatches of 5 and a last one of 3
# 5 iterations (epochs): fit's default chunk is then 1, so the chunked runs below compile only
# chunks of 5 and of 2 more (every new chunk length is a new XLA program)
ITERATIONS = 5
FULL_BATCH = dict(learning_rate=0.1, num_iterations=ITERATIONS)
MINIBATCH = dict(num_iterations=ITERATIONS, batch_size=5, keep_prob=0.8, key=jax.random.key(7),
                 optimizer=jaxdnn.adam(0.01))
SETTINGS = {"full batch": FULL_BATCH, "minibatch+dropout+adam": MINIBATCH}
CLOSE_RTOL = {jnp.float64: 1e-14, jnp.float32: 1e-5}  # relative to each leaf's largest entry
# (setting, dtype) pairs for fit; a minibatch program takes ~3 s to compile here, so float32 runs
# the full-batch setting only
FIT_RUNS = [pytest.param("full batch", jnp.float32, id="full batch-float32"),
            pytest.param("full batch", jnp.float64, id="full batch-float64"),
            pytest.param("minibatch+dropout+adam", jnp.float64,
                         id="minibatch+dropout+adam-float64")]


def problem(dtype=jnp.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.standard_normal((DIMS[0], M)), dtype)
    Y = jnp.asarray(rng.standard_normal((1, M)) > 0, dtype)
    params = jaxdnn.init_params(jax.random.key(seed), DIMS, "he", dtype)
    return params, X, Y


def digest(tree) -> str:
    """SHA-256 over every leaf's dtype, shape and bytes: equal digests are bitwise-equal trees."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def assert_bitwise(actual, expected, what):
    assert jax.tree.structure(actual) == jax.tree.structure(expected), what
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)):
        a, b = np.asarray(a), np.asarray(b)
        where = f"{what}: leaf {jax.tree_util.keystr(path)}"
        assert a.dtype == b.dtype and a.shape == b.shape, (
            f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
        if a.tobytes() != b.tobytes():
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            raise AssertionError(f"{where}: not bitwise equal; {int(np.sum(a != b))} entries "
                                 f"differ, by up to {np.nanmax(diff):.3e}")


def is_bitwise(a, b) -> bool:
    return digest(a) == digest(b)


def assert_close(actual, expected, rtol, what):
    """Every leaf within ``rtol`` times that leaf's largest |entry| (rounding-level agreement)."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected), what
    worst = 0.0
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(actual), jax.tree.leaves(expected)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = max(float(np.max(np.abs(b), initial=0.0)), np.finfo(np.float64).tiny)
        rel = float(np.max(np.abs(a - b), initial=0.0)) / scale
        assert rel <= rtol, (f"{what}: leaf {jax.tree_util.keystr(path)} differs by {rel:.3e} "
                             f"(> {rtol:g}) of its scale")
        worst = max(worst, rel)
    return worst


def note(capsys, text):
    """Print a finding to the terminal (also under xdist)."""
    with capsys.disabled():
        print(f"\n[test_determinism] {text}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# init_params


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("method", ["zeros", "small", "large", "xavier", "he"])
def test_init_params_same_key_gives_identical_params(method, dtype):
    a = jaxdnn.init_params(jax.random.key(3), DIMS, method, dtype)
    b = jaxdnn.init_params(jax.random.key(3), DIMS, method, dtype)
    assert_bitwise(a, b, f"init_params({method}) twice with key(3)")
    # the raw uint32 key of the legacy API draws the same numbers
    c = jaxdnn.init_params(jax.random.wrap_key_data(jax.random.key_data(jax.random.key(3))), DIMS,
                           method, dtype)
    assert_bitwise(c, a, f"init_params({method}) from the key's data")


@pytest.mark.parametrize("method", ["small", "large", "xavier", "he"])
def test_init_params_different_key_gives_different_W(method):
    a = jaxdnn.init_params(jax.random.key(3), DIMS, method, jnp.float64)
    b = jaxdnn.init_params(jax.random.key(4), DIMS, method, jnp.float64)
    for l, (la, lb) in enumerate(zip(a, b)):
        assert not np.any(np.asarray(la["W"]) == np.asarray(lb["W"])), (
            f"{method}: layer {l + 1} shares entries between key(3) and key(4)")
        assert_bitwise(la["b"], lb["b"], f"{method}: b is zero whatever the key")


def test_init_params_eager_vs_jit(capsys):
    init = jax.jit(jaxdnn.init_params, static_argnums=(1, 2, 3))
    found = []
    for dtype in (jnp.float32, jnp.float64):
        a = jaxdnn.init_params(jax.random.key(5), DIMS, "he", dtype)
        b = init(jax.random.key(5), tuple(DIMS), "he", dtype)
        worst = assert_close(b, a, CLOSE_RTOL[dtype], f"init_params jit vs {jnp.dtype(dtype)}")
        found.append(f"{jnp.dtype(dtype)}: bitwise={is_bitwise(a, b)} (worst {worst:.1e})")
    note(capsys, "init_params eager vs jit: " + ", ".join(found))


# ----------------------------------------------------------------------------------------------
# fit


@pytest.mark.parametrize("setting,dtype", FIT_RUNS)
def test_fit_twice_is_bitwise_and_inside_jit_is_close(setting, dtype, capsys):
    """Twice directly: bitwise. Inside jax.jit (one scan, no host checks, another XLA program):
    close, maybe bitwise. One test, so the direct run's programs compile once for both."""
    params, X, Y = problem(dtype)
    a = jaxdnn.fit(params, X, Y, ACTS, **SETTINGS[setting])
    b = jaxdnn.fit(params, X, Y, ACTS, **SETTINGS[setting])
    assert_bitwise(b, a, f"fit twice ({setting}, {jnp.dtype(dtype)})")
    assert np.all(np.isfinite(np.asarray(a[1])))
    if "key" in SETTINGS[setting]:  # the key is what fixes the shuffles and the dropout masks
        c = jaxdnn.fit(params, X, Y, ACTS, **dict(SETTINGS[setting], key=jax.random.key(8)))
        assert not np.array_equal(np.asarray(c[1]), np.asarray(a[1])), "another key, same costs"

    kw = dict(SETTINGS[setting])
    key = kw.pop("key", None)
    traced = jax.jit(lambda p, x, y, k: jaxdnn.fit(p, x, y, ACTS, key=k, **kw))(params, X, Y, key)
    what = f"fit direct vs inside jax.jit ({setting}, {jnp.dtype(dtype)})"
    worst = assert_close(traced, a, CLOSE_RTOL[dtype] * 100, what)  # 5 steps compound
    note(capsys, f"{what}: bitwise={is_bitwise(traced, a)}, worst difference {worst:.1e} of "
                 f"the leaf's scale")


def test_chunked_minibatch_fit_equals_one_chunk_bitwise():
    """Every epoch its own chunk: the shuffles, the dropout masks and Adam's state must carry over
    between chunks exactly (full-batch chunking, uneven chunks included, is tested bitwise in
    test_train; each chunk length is another program, and a minibatch one takes seconds to
    compile)."""
    params, X, Y = problem()
    kw = MINIBATCH
    n = kw["num_iterations"]
    one = jaxdnn.fit(params, X, Y, ACTS, chunk_size=n, **kw)
    got = jaxdnn.fit(params, X, Y, ACTS, chunk_size=1, **kw)
    assert_bitwise(got, one, f"minibatch fit in chunks of 1 vs one chunk of {n}")


# One fresh interpreter for two checks (each launch pays a JAX import):
# - its first fit, and the first optimizer made in it, run under jax.jit; an eager fit of the same
#   problem must then run and agree (this goes first, before anything else in the process);
# - then the runs of SETTINGS, compiled from scratch: the compiled programs themselves must be
#   deterministic, not just their execution.
_CHILD = textwrap.dedent("""
    import sys
    import jax, numpy as np
    import jaxdnn
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_numpy_rank_promotion", "raise")
    X = jax.device_put(np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32))
    Y = jax.device_put((np.asarray(X[:1]) > 0).astype(np.float32))
    params = jaxdnn.init_params(jax.random.key(0), [2, 3, 1])
    run = lambda p: jaxdnn.fit(p, X, Y, ("tanh", "sigmoid"), optimizer=jaxdnn.adam(0.01),
                               num_iterations=3)[1]
    try:
        traced = jax.jit(run)(params)  # the process's first fit and optimizer, under a trace
        eager = run(params)
        print("first fit under jit:", "equal" if np.array_equal(traced, eager)
              else f"{{traced}} vs {{eager}}".replace("\\n", " "))
    except Exception as e:
        print("first fit under jit:", type(e).__name__, str(e)[:3000].replace("\\n", " "))
    sys.path.insert(0, {tests!r})
    import test_determinism as t
    params, X, Y = t.problem()
    for name, kw in t.SETTINGS.items():
        print(name, t.digest(jaxdnn.fit(params, X, Y, t.ACTS, **kw)))
""")


@pytest.fixture(scope="module")
def fresh_process():
    """``(first fit under jit, {setting: digest})`` as the fresh process printed them."""
    script = _CHILD.format(tests=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert out.returncode == 0, out.stderr[-3000:]
    first, *runs = out.stdout.strip().splitlines()
    return first, dict(line.rsplit(" ", 1) for line in runs)


def test_a_first_fit_under_jit_leaves_later_fits_working(fresh_process):
    """What fit and the optimizers make once per process is made outside any trace: a first
    call under jit leaks no tracer into the next, eager, one, and both give the same costs."""
    assert fresh_process[0] == "first fit under jit: equal", fresh_process[0]


def test_fit_in_a_fresh_process_is_bitwise(fresh_process):
    params, X, Y = problem()
    expected = {name: digest(jaxdnn.fit(params, X, Y, ACTS, **kw)) for name, kw in SETTINGS.items()}
    got = fresh_process[1]
    assert got == expected, f"fresh process {got} vs this process {expected}"


# ----------------------------------------------------------------------------------------------
# value-and-grad: eager vs jit


@pytest.mark.parametrize("fn,dtype", [
    pytest.param("manual_value_and_grad", jnp.float32, id="manual-float32"),
    pytest.param("manual_value_and_grad", jnp.float64, id="manual-float64"),
    pytest.param("autodiff_value_and_grad", jnp.float64, id="autodiff-float64")])
def test_value_and_grad_eager_vs_jit(fn, dtype, capsys):
    f = getattr(jaxdnn, fn)
    params, X, Y = problem(dtype)
    eager = f(params, X, Y, ACTS)
    assert_bitwise(f(params, X, Y, ACTS), eager, f"{fn} eager twice")
    jf = jax.jit(f, static_argnames="activations")
    jitted = jf(params, X, Y, activations=ACTS)
    assert_bitwise(jf(params, X, Y, activations=ACTS), jitted, f"{fn} jitted twice")
    worst = assert_close(jitted, eager, CLOSE_RTOL[dtype], f"{fn} eager vs jit")
    note(capsys, f"{fn} eager vs jit, {jnp.dtype(dtype)}: bitwise={is_bitwise(jitted, eager)}, "
                 f"worst difference {worst:.1e} of the leaf's scale")
