"""The speed benchmark (experiments/bench) runs end to end, and its peers do the same training.

One ``--quick`` run (in a subprocess, so this session's float64 / rank-promotion settings do not
leak into it) is shared by the tests below; it writes ``NAME.json`` and ``NAME.md`` into a temporary
folder. Timings are not asserted (they depend on the machine). What is asserted is that the peers
train the same network from the same params (on minibatch problems, on the same batches in the
same order), so their final costs equal jaxdnn's to float32 round-off.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import bench
from experiments.bench import configs, peers

from .conftest import once_per_session

RTOL_F32 = 1e-4  # float32 round-off after a few iterations (epochs), with headroom
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def quick_run(request, tmp_path_factory):
    """One run per test session, shared by pytest-xdist's workers (the first one runs it)."""
    def produce(out):
        proc = subprocess.run([sys.executable, "-m", "experiments.bench", "--quick", "--out",
                               str(out), "--name", "quick"], cwd=PROJECT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.returncode == 0, (
            f"python -m experiments.bench --quick failed:\n{proc.stderr[-5000:]}")

    out = once_per_session(request, tmp_path_factory, "bench-quick", produce)
    return out, json.loads((out / "quick.json").read_text())


@pytest.mark.slow
def test_writes_json_markdown_and_the_growth_plot(quick_run):
    out, data = quick_run
    md = (out / "quick.md").read_text()
    assert data["name"] == "quick" and data["config"]["quick"] is True
    assert set(data["problems"]) == set(bench.Config.QUICK["configs"])
    assert data["machine"]["cores"] >= 1 and data["machine"]["versions"]["jax"]
    for heading in ("# jaxdnn speed benchmark: quick", "## planar", "## cat", "## mnist",
                    "## softmax", "## softmax-mb", "## sweep", "## growth", "| CPU |"):
        assert heading in md, f"{heading!r} missing from the Markdown"
    assert (out / "quick-growth.png").stat().st_size > 0


@pytest.mark.parametrize("name", ["planar", "cat", "mnist", "softmax", "softmax-mb"])
def test_every_peer_is_timed_or_skipped_with_a_reason(quick_run, name):
    _, data = quick_run
    res = data["problems"][name]
    assert res["status"] == "ok", res.get("reason")
    assert set(res["peers"]) == set(bench.PEERS)
    for peer, rec in res["peers"].items():
        if rec["status"] == "ok":
            assert rec["seconds"] > 0 and rec["ratio_to_fastest"] >= 1.0, peer
        else:
            assert rec["status"] == "skipped" and rec["reason"], (peer, rec)
    for peer in ("jax-jit-loop", "jax-scan-grad", "numpy"):
        assert res["peers"][peer]["status"] == "ok", (peer, res["peers"][peer])
    assert res["floor"]["seconds"] > 0 and res["floor"]["own_shapes_seconds"] > 0


def _reference(res):
    """jaxdnn's manual fit; where this jaxdnn lacks the problem's output, the plain-JAX peer."""
    ok = res["peers"]["jaxdnn-manual"]["status"] == "ok"
    if not ok:  # only a missing output may skip jaxdnn
        assert res["activations"][-1] == "softmax", res["peers"]["jaxdnn-manual"]
    return "jaxdnn-manual" if ok else "jax-scan-grad"


@pytest.mark.parametrize("name", ["planar", "cat", "mnist", "softmax", "softmax-mb"])
def test_numpy_and_torch_do_the_same_training_as_jaxdnn(quick_run, name):
    _, data = quick_run
    res = data["problems"][name]
    ref = _reference(res)
    want = res["peers"][ref]["final_cost"]
    assert res["cost_reference"] == ref
    others = ["jaxdnn-autodiff", "jax-jit-loop", "jax-scan-grad", "numpy", "torch-eager",
              "sklearn"]
    for other in others:
        rec = res["peers"][other]
        if other in ("torch-eager", "sklearn", "jaxdnn-autodiff") and rec["status"] == "skipped":
            continue  # an optional package (or jaxdnn's softmax) missing: reported as skipped
        if other == ref:
            continue
        assert rec["final_cost"] == pytest.approx(want, rel=RTOL_F32), (
            f"{name}: {other} final cost {rec['final_cost']} vs {ref} {want} (rtol={RTOL_F32})")
        curve = res["cost_agreement"][other]
        assert curve["max"] <= RTOL_F32, (name, other, curve)


def test_torch_peer_ran_where_installed(quick_run):
    if importlib.util.find_spec("torch") is None:  # found, not imported: importing takes seconds
        pytest.skip("torch is not installed")
    _, data = quick_run
    for name in ("planar", "mnist", "softmax-mb"):
        assert data["problems"][name]["peers"]["torch-eager"]["status"] == "ok", name


def test_sweep_and_growth(quick_run):
    _, data = quick_run
    sw, g = data["problems"]["sweep"], data["problems"]["growth"]
    assert sw["status"] == "ok" and sw["model0_matches_single_fit"], sw.get("reason")
    assert g["status"] == "ok", g.get("reason")
    assert {p["mode"] for p in g["points"]} == {"full", "minibatch"}
    for p in g["points"]:
        assert p["status"] == "ok" and p["seconds"] > 0 and p["model_mib"]["total"] > 0, p


def test_config_quick_and_overrides():
    cfg = common_parse(["--quick", "--configs", "cat,planar", "--repeats", "4"])
    assert cfg.quick and cfg.repeats == 4 and cfg.configs == ("cat", "planar")
    assert cfg.isolate is False  # --quick runs every problem in one process
    assert common_parse([]).isolate is True
    assert configs.problem("wide", cfg).dims == (256, 256, 256, 1)
    assert configs.problem("wide", common_parse([])).dims == (1024, 1024, 1024, 1)
    assert configs.problem("cat", common_parse(["--iterations", "7"])).iterations == 7
    for bad in (["--configs", "nope"], ["--repeats", "0"], ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            common_parse(bad)


def common_parse(argv):
    from experiments import common

    return common.parse_config(bench.Config, argv)


def test_minibatch_slices_cover_every_example_once():
    assert configs.batch_slices(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert configs.batch_slices(10, None) == [(0, 10)]


def test_shuffle_orders_are_fits_minibatches():
    """Training one epoch on ``shuffle_orders``' batches with NumPy equals ``fit``'s epoch."""
    import jax

    import jaxdnn

    prob = configs.Problem("t", (5, 4, 1), "tanh", "sigmoid", 37, 0.5, "he", 1, batch_size=8)
    rs = np.random.RandomState(0)
    X = rs.standard_normal((5, 37)).astype(np.float32)
    Y = (rs.uniform(size=(1, 37)) < 0.5).astype(np.float32)
    key = jax.random.key(3)
    params = configs.init_params(1, prob)
    order = configs.shuffle_orders(key, 1, prob.m)[0]
    assert sorted(order.tolist()) == list(range(prob.m))
    # the reference epoch: the course's NumPy backprop (itself checked against jax.grad below) on
    # the batches order[lo:hi]; no compile, where a jitted step would compile once per batch shape
    p = [(np.array(q["W"]), np.array(q["b"])) for q in params]
    total = 0.0
    for lo, hi in configs.batch_slices(prob.m, prob.batch_size):
        idx = order[lo:hi]
        total += peers.numpy_step(p, X[:, idx], Y[:, idx], prob.activations,
                                  np.float32(prob.learning_rate)) * (hi - lo)
    fitted, costs = jaxdnn.fit(params, X, Y, prob.activations, learning_rate=prob.learning_rate,
                               num_iterations=1, batch_size=prob.batch_size, key=key,
                               progress=False)
    np.testing.assert_allclose(float(costs[0]), total / prob.m, rtol=1e-5, err_msg="rtol=1e-5")
    for l, (a, (W, _)) in enumerate(zip(fitted, p)):
        np.testing.assert_allclose(a["W"], W, rtol=1e-5, atol=1e-6,
                                   err_msg=f"layer {l + 1} W (rtol=1e-5, atol=1e-6)")


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_numpy_step_is_the_gradient_step_of_jax_grad(hidden, output):
    """One hand-derived NumPy update equals ``W - lr jax.grad(cost)`` (float32)."""
    import jax
    import jax.numpy as jnp

    rs = np.random.RandomState(0)
    n_L = 4 if output == "softmax" else 1
    X = rs.standard_normal((3, 16)).astype(np.float32)
    Y = (np.eye(4)[:, rs.randint(0, 4, 16)] if output == "softmax"
         else rs.uniform(size=(1, 16)) < 0.5).astype(np.float32)
    acts = (hidden, hidden, output)
    dims = (3, 5, 4, n_L)
    params = [{"W": rs.standard_normal((b, a)).astype(np.float32),
               "b": 0.1 * rs.standard_normal((b, 1)).astype(np.float32)}
              for a, b in zip(dims[:-1], dims[1:])]
    # one compiled program: eagerly, every operation of the cost and its gradient compiles alone
    value_and_grad = jax.jit(jax.value_and_grad(peers.jax_cost), static_argnums=3)
    J, grads = value_and_grad(jax.tree.map(jnp.asarray, params), jnp.asarray(X), jnp.asarray(Y),
                              acts)
    mine = [(p["W"].copy(), p["b"].copy()) for p in params]
    cost = peers.numpy_step(mine, X, Y, acts, 0.5)
    np.testing.assert_allclose(cost, float(J), rtol=1e-6, err_msg="cost (rtol=1e-6)")
    for l, ((W, b), p, g) in enumerate(zip(mine, params, grads)):
        for got, p0, d in ((W, p["W"], g["W"]), (b, p["b"], g["b"])):
            np.testing.assert_allclose(got, p0 - 0.5 * np.asarray(d), rtol=1e-5, atol=1e-6,
                                       err_msg=f"layer {l + 1} (rtol=1e-5, atol=1e-6)")
