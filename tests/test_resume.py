"""Checkpointed training: a run killed with SIGKILL and resumed ends bitwise equal to an unbroken
one."""

import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

import jaxdnn
from jaxdnn import checkpoint

# The same problem in the child and here: data and He-scaled init from a fixed NumPy seed (eager
# jax.random calls would compile op by op in each process), minibatches with dropout (an epoch is
# 16 full minibatches of 64), hand-written Adam whose learning rate decays per epoch (the course's
# schedule, kept in the optimizer state), and validation curves, so the optimizer state, the
# shuffle order, the schedule's step and the saved histories are all exercised.
PROBLEM = """
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
import jaxdnn
DIMS, ACTS = [40, 64, 32, 1], ("relu", "tanh", "sigmoid")
rng = np.random.default_rng(0)
Xn = rng.standard_normal((40, 1024))
Yn = (Xn[:1] + Xn[1:2] * Xn[2:3] > 0).astype(np.float64)
X, Y, X_VAL, Y_VAL = map(jnp.asarray, (Xn, Yn, Xn[:, :200], Yn[:, :200]))
PARAMS = [{"W": jnp.asarray(rng.standard_normal((n, n_prev)) * np.sqrt(2 / n_prev)),
           "b": jnp.asarray(np.zeros((n, 1)))} for n_prev, n in zip(DIMS[:-1], DIMS[1:])]
DECAY = jaxdnn.schedules.inverse_time_decay(0.002, 0.5, time_interval=10, steps_per_epoch=16)
KW = dict(num_iterations=20, batch_size=64, key=jax.random.key(7), keep_prob=0.9,
          optimizer=jaxdnn.adam(DECAY), validation_data=(X_VAL, Y_VAL),
          checkpoint_every=5)
"""


def run_child_and_kill_after(directory, epochs: int):
    """Start training in a subprocess; SIGKILL it once it has checkpointed ``epochs`` epochs.

    The child waits after that checkpoint (saved and the older ones pruned) until it is killed,
    as a run killed while computing its next chunk leaves its folder; so the kill never races
    the training, and the run need not be long enough for the poll below to catch it.
    """
    code = PROBLEM + textwrap.dedent(f"""
        import time
        from jaxdnn import loop
        save = loop.Checkpoints.save
        def save_then_wait(self, iteration, *args, **kwargs):
            save(self, iteration, *args, **kwargs)
            if iteration >= {epochs}:
                time.sleep(600)  # until the parent's SIGKILL
        loop.Checkpoints.save = save_then_wait
        jaxdnn.fit(PARAMS, X, Y, ACTS, progress=False, checkpoint_dir={str(directory)!r}, **KW)
        print("finished")
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL)
    seen = []
    try:
        deadline = time.monotonic() + 240
        while child.poll() is None and time.monotonic() < deadline:
            seen = [p.name for p in checkpoint.list_checkpoints(directory)]
            if seen and checkpoint.load(directory / seen[-1]).iteration >= epochs:
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, seen


@pytest.fixture(scope="module")
def problem():
    namespace = {}
    exec(PROBLEM, namespace)
    return namespace


@pytest.mark.slow
def test_killed_run_resumes_to_bitwise_equal_params(tmp_path, problem):
    rc, seen = run_child_and_kill_after(tmp_path, epochs=10)
    assert rc == -signal.SIGKILL, f"the child was not killed (rc={rc}); checkpoints seen: {seen}"
    latest = checkpoint.latest_checkpoint(tmp_path)
    assert latest is not None
    done = checkpoint.load(latest).iteration
    assert done == 10, f"the kill did not interrupt training at epoch 10: checkpoint at {done}"

    p, X, Y, acts, kw = (problem[k] for k in ("PARAMS", "X", "Y", "ACTS", "KW"))
    resumed_params, resumed_costs, resumed_val = jaxdnn.fit(p, X, Y, acts, progress=False,
                                                            checkpoint_dir=tmp_path, **kw)
    kw_plain = {k: v for k, v in kw.items() if k != "checkpoint_every"}
    params, costs, val = jaxdnn.fit(p, X, Y, acts, progress=False, chunk_size=5, **kw_plain)

    np.testing.assert_array_equal(np.asarray(resumed_costs), np.asarray(costs))
    for a, b in zip(resumed_val, val):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert val.iteration.shape == (4,)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(resumed_params),
                            jax.tree.leaves(params)):
        assert np.array_equal(np.asarray(a), np.asarray(b)), f"leaf {jax.tree_util.keystr(path)}"
    assert checkpoint.load(checkpoint.latest_checkpoint(tmp_path)).iteration == 20
    assert len(checkpoint.list_checkpoints(tmp_path)) <= 2  # older ones are pruned


def test_a_finished_run_is_not_trained_again(tmp_path, problem):
    p, X, Y, acts, kw = (problem[k] for k in ("PARAMS", "X", "Y", "ACTS", "KW"))
    kw = dict(kw, num_iterations=10)
    first = jaxdnn.fit(p, X, Y, acts, progress=False, checkpoint_dir=tmp_path, **kw)
    again = jaxdnn.fit(p, X, Y, acts, progress=False, checkpoint_dir=tmp_path, **kw)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_checkpoint_of_another_run_is_refused(tmp_path, problem):
    p, X, Y, acts, kw = (problem[k] for k in ("PARAMS", "X", "Y", "ACTS", "KW"))
    jaxdnn.fit(p, X, Y, acts, progress=False, checkpoint_dir=tmp_path, **dict(kw, num_iterations=5))
    with pytest.raises(ValueError, match=r"belongs to a different run.*batch_size"):
        jaxdnn.fit(p, X, Y, acts, progress=False, checkpoint_dir=tmp_path,
                   **dict(kw, num_iterations=5, batch_size=32))


def test_a_corrupted_checkpoint_is_an_error_not_a_silent_restart(tmp_path, problem):
    p, X, Y, acts, kw = (problem[k] for k in ("PARAMS", "X", "Y", "ACTS", "KW"))
    jaxdnn.fit(p, X, Y, acts, progress=False, checkpoint_dir=tmp_path, **dict(kw, num_iterations=5))
    latest = checkpoint.latest_checkpoint(tmp_path)
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    with pytest.raises(jaxdnn.CheckpointError, match=str(latest.name)):
        jaxdnn.fit(p, X, Y, acts, progress=False, checkpoint_dir=tmp_path,
                   **dict(kw, num_iterations=10))


def test_early_stopping_and_norms_resume_to_the_uninterrupted_run(tmp_path):
    """A run that stops early, resumed from the checkpoint before its last one: the saved best
    params, the count of checks without improvement (replayed from the saved validation curve) and
    the norms carry it to the same stop, params, curves and norms as an unbroken run."""
    rng = np.random.default_rng(2)
    Xn, Xv = rng.standard_normal((3, 24)), rng.standard_normal((3, 40))
    Yn, Yv = ((a[:1] * a[1:2] + 0.3 * a[2:] > 0).astype(np.float64) for a in (Xn, Xv))
    X, Y, Xv, Yv = map(jax.numpy.asarray, (Xn, Yn, Xv, Yv))
    params = [{"W": jax.numpy.asarray(rng.standard_normal((n, k)) * np.sqrt(2 / k)),
               "b": jax.numpy.zeros((n, 1))} for k, n in ((3, 5), (5, 4), (4, 1))]
    acts = ("tanh", "relu", "sigmoid")
    kw = dict(learning_rate=0.5, num_iterations=400, validation_data=(Xv, Yv), patience=3,
              norms=True, progress=False)
    unbroken = jaxdnn.fit(params, X, Y, acts, chunk_size=10, **kw)
    stop = int(unbroken[2].iteration[-1])
    assert stop < 400  # it stopped early

    jaxdnn.fit(params, X, Y, acts, checkpoint_dir=tmp_path, checkpoint_every=10, **kw)
    assert checkpoint.load(checkpoint.latest_checkpoint(tmp_path)).iteration == stop
    checkpoint.latest_checkpoint(tmp_path).unlink()  # as if killed before the stopping check
    assert checkpoint.load(checkpoint.latest_checkpoint(tmp_path)).iteration == stop - 10
    resumed = jaxdnn.fit(params, X, Y, acts, checkpoint_dir=tmp_path, checkpoint_every=10, **kw)
    again = jaxdnn.fit(params, X, Y, acts, checkpoint_dir=tmp_path, checkpoint_every=10, **kw)
    assert checkpoint.load(checkpoint.latest_checkpoint(tmp_path)).iteration == stop  # no more
    best = int(np.argmin(np.asarray(unbroken[2].cost)))
    assert best < len(unbroken[2].cost) - 2  # the best params came from the checkpoint
    for run in (resumed, again):
        for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(run),
                                jax.tree.leaves(unbroken)):
            assert np.array_equal(np.asarray(a), np.asarray(b)), jax.tree_util.keystr(path)
