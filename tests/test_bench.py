"""The speed benchmark (experiments/bench.py) runs end to end and reports every peer.

One ``--quick`` run (a subprocess, so this session's float64 / rank-promotion settings do not leak
into it) is shared by the tests below; it writes ``NAME.json`` and ``NAME.md`` into a temporary
folder. Timings are not asserted (they depend on the machine); correctness of the peers is:
every peer trains the same network from the same params, so the final costs must agree to float32
round-off.
"""

import json
import time

import pytest

from experiments import bench

RTOL_F32 = 1e-4  # float32 round-off after a few iterations, with headroom
QUICK_BUDGET_S = 40


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    t0 = time.perf_counter()
    result = bench.main(["--quick", "--repeats", "1", "--out", str(out), "--name", "quick"])
    return out, result, time.perf_counter() - t0


def test_quick_run_is_quick(quick_run):
    _, _, seconds = quick_run
    assert seconds < QUICK_BUDGET_S, f"--quick took {seconds:.1f} s (budget {QUICK_BUDGET_S} s)"


def test_writes_json_and_markdown(quick_run):
    out, result, _ = quick_run
    data = json.loads((out / "quick.json").read_text())
    md = (out / "quick.md").read_text()
    assert data["name"] == "quick" and data["config"]["quick"] is True
    assert set(data["problems"]) == set(bench.PROBLEMS)
    assert data["machine"]["cores"] >= 1 and data["machine"]["versions"]["jax"]
    for heading in ("# jaxdnn speed benchmark: quick", "## planar", "## cat", "## wide",
                    "## sweep", "## Goals", "| CPU |"):
        assert heading in md, f"{heading!r} missing from the Markdown"
    assert result["goals"] == data["goals"] and len(data["goals"]) == 7


@pytest.mark.parametrize("name", ["planar", "cat", "wide"])
def test_every_peer_is_timed_or_skipped_with_a_reason(quick_run, name):
    _, result, _ = quick_run
    res = result["problems"][name]
    assert res["status"] == "ok", res.get("reason")
    assert set(res["peers"]) == set(bench.PEERS)
    for peer, rec in res["peers"].items():
        if rec["status"] == "ok":
            assert rec["seconds_per_iteration"] > 0, peer
            assert rec["ratio_to_fastest"] >= 1.0 and rec["ratio_to_floor"] > 0, peer
        else:
            assert rec["status"] in ("skipped", "failed") and rec["reason"], (peer, rec)
        assert peer in (bench.markdown(result)), peer
    for peer in ("jaxdnn-manual", "jaxdnn-autodiff", "jax-jit-loop", "jax-scan-grad", "numpy"):
        assert res["peers"][peer]["status"] == "ok", (peer, res["peers"][peer])
    assert res["floor"]["seconds_per_iteration"] > 0
    assert res["memory"]["peak_rss_mib"] > 0 and res["memory"]["data_params_mib"] > 0


@pytest.mark.parametrize("name", ["planar", "cat", "wide"])
def test_final_costs_agree_to_float32_round_off(quick_run, name):
    _, result, _ = quick_run
    peers = result["problems"][name]["peers"]
    manual = peers["jaxdnn-manual"]["final_cost"]
    for other in ("jaxdnn-autodiff", "numpy", "jax-scan-grad", "jax-jit-loop"):
        got = peers[other]["final_cost"]
        assert got == pytest.approx(manual, rel=RTOL_F32), (
            f"{name}: {other} final cost {got} vs jaxdnn-manual {manual} (rtol={RTOL_F32})")
    for other in ("torch-eager", "sklearn"):  # optional packages: compared where they ran
        if peers[other]["status"] == "ok":
            assert peers[other]["final_cost"] == pytest.approx(manual, rel=RTOL_F32), other


def test_sweep_trains_many_models_in_one_program(quick_run):
    _, result, _ = quick_run
    sw = result["problems"]["sweep"]
    assert sw["status"] == "ok", sw.get("reason")
    assert sw["models"] == 1024 and sw["model0_matches_single_fit"]
    assert sw["seconds_per_model_iteration"] > 0 and sw["ratio_to_floor"] > 0


def test_parse_args_quick_and_overrides():
    cfg = bench.parse_args(["--quick", "--configs", "cat,planar", "--repeats", "4"])
    assert cfg.quick and cfg.repeats == 4 and cfg.configs == ("cat", "planar")
    assert cfg.isolate is False  # --quick runs every problem in one subprocess
    assert bench.parse_args([]).isolate is True
    assert bench.problem("wide", cfg).dims == (256, 256, 256, 1)
    assert bench.problem("wide", bench.parse_args([])).dims == (1024, 1024, 1024, 1)
    assert bench.problem("cat", bench.parse_args(["--iterations", "7"])).iterations == 7
    with pytest.raises(SystemExit):
        bench.parse_args(["--configs", "nope"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--repeats", "0"])


def test_numpy_peer_matches_jaxdnn_gradient_step():
    """One hand-derived NumPy step equals jaxdnn's manual gradient step (float32)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxdnn

    rs = np.random.RandomState(0)
    X = rs.standard_normal((3, 16)).astype(np.float32)
    Y = (rs.uniform(size=(1, 16)) < 0.5).astype(np.float32)
    for hidden in ("tanh", "relu"):
        acts = (hidden, hidden, "sigmoid")
        params = jaxdnn.init_params(jax.random.key(1), [3, 5, 4, 1], "he", dtype=jnp.float32)
        J, grads = jaxdnn.manual_value_and_grad(params, jnp.asarray(X), jnp.asarray(Y), acts)
        mine = [(np.array(p["W"]), np.array(p["b"])) for p in params]
        costs = bench.numpy_train(mine, X, Y, acts, 0.5, 1)
        np.testing.assert_allclose(costs[0], float(J), rtol=1e-6, err_msg=f"{hidden} (rtol=1e-6)")
        for l, ((W, b), p, g) in enumerate(zip(mine, params, grads)):
            for got, p0, d in ((W, p["W"], g["W"]), (b, p["b"], g["b"])):
                np.testing.assert_allclose(got, np.asarray(p0 - 0.5 * d), rtol=1e-5, atol=1e-6,
                                           err_msg=f"{hidden} layer {l + 1} (rtol=1e-5, atol=1e-6)")
