"""Data-parallel fit: 4 forced CPU devices and 2 processes give the single-device result.

Both run in subprocesses, so this test session keeps its single device.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn

from .conftest import XLA_FLAGS, once_per_session

PROBLEM = """
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
import jaxdnn
# data and He-scaled params from NumPy: eager jax.random calls would compile op by op in every
# process that runs this
rng = np.random.default_rng(0)
X = rng.standard_normal((6, 96))
Y = (X[:1] * X[1:2] + X[2:3] > 0).astype(np.float64)
PARAMS = [{"W": jnp.asarray(rng.standard_normal((n, n_prev)) * np.sqrt(2 / n_prev)),
           "b": jnp.asarray(np.zeros((n, 1)))} for n_prev, n in zip([6, 8, 4], [8, 4, 1])]
ACTS = ("relu", "tanh", "sigmoid")
ITERATIONS = 10  # iterations (epochs) of each run
RUNS = {
    "manual-full": dict(grad="manual", learning_rate=0.1),
    "autodiff-full": dict(grad="autodiff", learning_rate=0.1),
    "manual-minibatch": dict(grad="manual", learning_rate=0.1, batch_size=24,
                             key=jax.random.key(5)),
    "autodiff-minibatch-adam": dict(grad="autodiff", optimizer=jaxdnn.adam(0.01), batch_size=16,
                                    key=jax.random.key(6)),
}
"""

FOUR_DEVICES = PROBLEM + """
import json, sys
from jaxdnn.sharding import data_mesh, shard_data
assert len(jax.devices()) == 4, jax.devices()
mesh = jax.make_mesh((4,), ("data",))  # explicit axis types by default: fit must cope
out, single_device = {}, {}
for name, kw in RUNS.items():
    p1, c1 = jaxdnn.fit(PARAMS, jnp.asarray(X), jnp.asarray(Y), ACTS,
                        num_iterations=ITERATIONS, **kw)
    single_device.update({f"{name}/{i}": np.asarray(leaf)
                          for i, leaf in enumerate(jax.tree.leaves(p1))})
    single_device[f"{name}/costs"] = np.asarray(c1)
    p4, c4 = jaxdnn.fit(PARAMS, jnp.asarray(X), jnp.asarray(Y), ACTS, num_iterations=ITERATIONS,
                        mesh=mesh, **kw)
    diff = lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b))))  # no compiles
    out[name] = {
        "max_param_diff": max(map(diff, jax.tree.leaves(p1), jax.tree.leaves(p4))),
        "max_cost_diff": diff(c1, c4),
        "W_sharding": [str(p4[0]["W"].sharding.spec), len(p4[0]["W"].sharding.device_set),
                       p4[0]["W"].sharding.is_fully_replicated],
    }
Xs, Ys = shard_data(mesh, jnp.asarray(X), jnp.asarray(Y))
out["X_sharding"] = [str(Xs.sharding.spec), [s.data.shape for s in Xs.addressable_shards]]
p, _ = jaxdnn.fit(PARAMS, Xs, Ys, ACTS, num_iterations=ITERATIONS, mesh=mesh,
                  **RUNS["manual-full"])  # the manual-full run's settings: no new compile
out["X_after_fit"] = str(Xs.sharding.spec)
out["params_after_presharded_fit"] = str(p[1]["b"].sharding.spec)
opt = jaxdnn.gradient_descent(0.1)
state = jax.device_put(jaxdnn.TrainState(PARAMS, opt.init(PARAMS), jnp.int32(0)),
                       jaxdnn.sharding.replicated(mesh))
hlo = jax.jit(jaxdnn.train_steps, static_argnums=(0, 1)).lower(
    jaxdnn.TrainConfig(ACTS, opt.update), 3, state, jaxdnn.examples_first(Xs, Ys),
    jax.random.key(0)).compile().as_text()
out["all_reduces"] = hlo.count("all-reduce(")
try:
    jaxdnn.fit(PARAMS, jnp.asarray(X[:, :90]), jnp.asarray(Y[:, :90]), ACTS, mesh=mesh,
               num_iterations=2)
except ValueError as e:
    out["indivisible"] = str(e)
np.savez(sys.argv[1], **single_device)  # the reference of the two-process test too
print("RESULT " + json.dumps(out))
"""


def run_python(code, env_extra=None, args=(), timeout=240):
    env = dict(os.environ, **(env_extra or {}))
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def four_devices_dir(request, tmp_path_factory):
    """One four-device subprocess per test session, shared by pytest-xdist's workers: its folder
    holds ``result.json`` and ``single_device.npz`` (every run's params and costs on one device)."""
    def produce(out):
        stdout = run_python(FOUR_DEVICES,
                            {"XLA_FLAGS": f"{XLA_FLAGS} --xla_force_host_platform_device_count=4",
                             "JAX_PLATFORMS": "cpu"}, args=[str(out / "single_device.npz")])
        line = next(l for l in stdout.splitlines() if l.startswith("RESULT "))
        (out / "result.json").write_text(line[len("RESULT "):])

    return once_per_session(request, tmp_path_factory, "sharding-four-devices", produce)


@pytest.fixture(scope="module")
def four_devices(four_devices_dir):
    return json.loads((four_devices_dir / "result.json").read_text())


@pytest.mark.parametrize("run", ["manual-full", "autodiff-full", "manual-minibatch",
                                 "autodiff-minibatch-adam"])
def test_four_devices_give_the_single_device_result(four_devices, run):
    r = four_devices[run]
    assert r["max_param_diff"] < 1e-10, r
    assert r["max_cost_diff"] < 1e-10, r
    spec, n_devices, replicated = r["W_sharding"]
    assert (spec, n_devices, replicated) == ("P()", 4, True)


def test_data_is_split_along_m_and_reduced_inside_the_program(four_devices):
    spec, shards = four_devices["X_sharding"]
    assert spec == "P(None, 'data')"
    assert shards == [[6, 24]] * 4  # 96 examples, 24 per device
    assert four_devices["X_after_fit"] == "P(None, 'data')"
    assert four_devices["params_after_presharded_fit"] == "P()"
    assert four_devices["all_reduces"] >= 1


def test_m_not_divisible_by_the_devices_is_a_clear_error(four_devices):
    assert four_devices["indivisible"].startswith("m = 90 examples cannot be split evenly over the "
                                                  "mesh's 4 'data' devices")


# The runs the two processes repeat: gradient descent by the manual pass on full batches, Adam by
# autodiff on minibatches (each setting of RUNS once; the four-device run above covers all four)
ACROSS_PROCESSES = ("manual-full", "autodiff-minibatch-adam")

TWO_PROCESSES = """
import sys
import jax
pid, port, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid,
                           initialization_timeout=60)  # before any other JAX call
""" + PROBLEM + """
from jaxdnn.sharding import data_mesh, shard_data
mesh = data_mesh()
assert jax.process_count() == 2 and len(jax.devices()) == 2
half = slice(pid * 48, (pid + 1) * 48)  # each process holds only its half of the examples
Xg, Yg = shard_data(mesh, X[:, half], Y[:, half], process_local=True)
assert Xg.shape == (6, 96)
results = {}
for name in sys.argv[4].split(","):
    p, c = jaxdnn.fit(PARAMS, Xg, Yg, ACTS, num_iterations=ITERATIONS, mesh=mesh, progress=False,
                      **RUNS[name])
    leaves = [np.asarray(leaf.addressable_data(0)) for leaf in jax.tree.leaves(p)]
    results.update({f"{name}/{i}": leaf for i, leaf in enumerate(leaves)})
    results[f"{name}/costs"] = np.asarray(c)
np.savez(out_path, **results)
jax.distributed.shutdown()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_on_loopback_give_the_single_process_result(tmp_path, four_devices_dir):
    port = str(free_port())
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = XLA_FLAGS  # the suite's compile settings; one device each
    procs = [subprocess.Popen([sys.executable, "-c", TWO_PROCESSES, str(i), port,
                               str(tmp_path / f"p{i}.npz"), ",".join(ACROSS_PROCESSES)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(2)]
    try:
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]

    # the reference: the same fits on one device, which the four-device process ran anyway
    ref = np.load(four_devices_dir / "single_device.npz")
    got = [np.load(tmp_path / f"p{i}.npz") for i in range(2)]
    wanted = sorted(key for key in ref.files if key.split("/")[0] in ACROSS_PROCESSES)
    for g in got:
        assert sorted(g.files) == wanted
        for key in wanted:
            np.testing.assert_allclose(g[key], ref[key], rtol=0, atol=1e-10, err_msg=key)


def test_data_mesh_and_shard_data_on_one_device():
    mesh = jaxdnn.sharding.data_mesh()
    assert mesh.axis_names == ("data",) and mesh.shape["data"] == len(jax.devices())
    X = jnp.ones((3, 8))
    spec = jaxdnn.sharding.shard_data(mesh, X).sharding.spec
    assert spec == jax.sharding.PartitionSpec(None, "data")
    with pytest.raises(ValueError, match="must have a 'data' axis"):
        jaxdnn.sharding.shard_data(jax.make_mesh((1,), ("batch",)), X)
