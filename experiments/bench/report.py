"""The benchmark's result as Markdown: a summary, one table per problem, the sweep, growth."""

from __future__ import annotations

from experiments.bench.configs import PEERS, num_weights
from experiments.markdown import markdown_table

QUESTION = ("Same network, same data, same training (full-batch or minibatch gradient descent, "
            "float32): seconds per iteration (epoch) of jaxdnn.fit beside its peers, against the "
            "machine's floor; and how fit's time and memory grow with m and width.")


def seconds(x) -> str:
    """Seconds, readably."""
    if x is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} s"


def _ok(res, peer):
    rec = res["peers"].get(peer, {})
    return rec if rec.get("status") == "ok" else None


def summary_rows(problems: dict) -> list:
    """One row per timed problem: jaxdnn (manual), the fastest other peer, the floors."""
    rows = []
    for name, res in problems.items():
        if name in ("sweep", "growth"):
            continue
        if res.get("status") != "ok":
            rows.append([name, res.get("status"), "", "", ""])
            continue
        mine = _ok(res, "jaxdnn-manual")
        others = {p: r for p in PEERS if p != "jaxdnn-manual" and (r := _ok(res, p))}
        best = min(others, key=lambda p: others[p]["seconds"]) if others else None
        f = res["floor"]
        shape = f"{res['layers']} m={res['m']}" + (f" batch {res['batch_size']}"
                                                   if res["batch_size"] else "")
        rows.append([
            f"{name} {shape}",
            (f"{seconds(mine['seconds'])} / {res['unit']}" if mine else
             res["peers"]["jaxdnn-manual"].get("reason", "-")),
            (f"{best} {seconds(others[best]['seconds'])}" + (
                f" (jaxdnn x{mine['seconds'] / others[best]['seconds']:.2f})" if mine else ""))
            if best else "-",
            f"{mine['ratio_to_floor']:.2f}x ({f['bound']})" if mine else "-",
            f"{mine['ratio_to_own_shapes_floor']:.2f}x" if mine else "-"])
    return rows


def _problem(name: str, res: dict) -> list[str]:
    lines = [f"## {name}", ""]
    if res.get("status") != "ok":
        return lines + [f"**{res.get('status', 'failed').upper()}**: {res.get('reason')}", ""]
    f, mem, unit = res["floor"], res["memory"], res["unit"]
    batch = f"minibatches of {res['batch_size']}" if res["batch_size"] else "full batch"
    lines += [f"layers {res['layers']}, {', '.join(res['activations'])}; m = {res['m']}, {batch}; "
              f"{res['iterations']} {unit}s, lr {res['learning_rate']}, init `{res['init']}`, "
              f"float32, {res['repeats']} rounds. Data: {res['data']}.", ""]
    rows = []
    for peer in PEERS:
        rec = res["peers"][peer]
        if rec["status"] != "ok":
            rows.append([peer, f"{rec['status']}: {rec['reason']}"] + [""] * 8)
            continue
        bold = "**" if peer == res["fastest"] else ""
        rows.append([
            f"{bold}{peer}{bold}", f"{bold}{seconds(rec['seconds'])}{bold}",
            f"{seconds(rec['min_seconds'])} - {seconds(rec['max_seconds'])}",
            f"{rec['ratio_to_fastest']:.2f}", f"{rec['ratio_to_floor']:.2f}",
            f"{rec['ratio_to_own_shapes_floor']:.2f}", f"{rec['final_cost']:.6g}",
            seconds(rec["compile_seconds"]),
            f"{rec['peak_rss_mib']:.0f} (+{rec['rss_growth_mib']:.0f})", rec["description"]])
    rows.append(["*floor, best rate*", seconds(f["seconds"]), "", "", "1.00", "", "", "", "",
                 f"{f['bound']}-bound: 6mP = {f['gemm_flops']:.3g} FLOPs at "
                 f"{f['gemm_flops_per_s'][f['best_gemm']] / 1e9:.0f} GFLOP/s ({f['best_gemm']}) = "
                 f"{seconds(f['gemm_seconds'])}; transcendentals "
                 f"{seconds(f['elementwise_seconds'])}"])
    rows.append(["*floor, own shapes*", seconds(f["own_shapes_seconds"]), "", "", "", "1.00", "",
                 "", "", f"the 3L-1 GEMMs of one update at width {res['batch_size'] or res['m']}, "
                 f"one program, x updates per {unit}: {seconds(f['own_shapes_gemm_seconds'])}"])
    lines += [markdown_table(
        ["peer", f"s / {unit}", "spread", "x fastest", "x floor", "x own-shapes floor",
         "final cost", "compile", "peak RSS MiB (+ growth)", "what"], rows), ""]
    rates = ", ".join(f"{k} {v / 1e9:.3g}" for k, v in f["gemm_flops_per_s"].items())
    lines.append(f"- Floor probes (jax): GEMM GFLOP/s {rates}; tanh {f['tanh_per_s'] / 1e9:.2f} "
                 f"G/s, exp {f['exp_per_s'] / 1e9:.2f} G/s.")
    if res["cost_agreement"]:
        parts = []
        for peer, a in res["cost_agreement"].items():
            apart = ("never apart by more than 1e-4" if a["first_iteration_apart"] is None
                     else f"apart by more than 1e-4 from {unit} {a['first_iteration_apart']}")
            parts.append(f"{peer} {a['final']:.1e} ({apart})")
        lines.append(f"- Cost curves against {res['cost_reference']}, relative difference of the "
                     "final cost: " + "; ".join(parts) + ".")
    dev = mem.get("device")
    lines += [f"- Memory: data + params {mem['data_params_mib']:.1f} MiB; RSS before the data "
              f"{mem['rss_before_data_mib']:.0f} MiB; peak RSS {mem['peak_rss_mib']:.0f} MiB "
              f"({mem['method']})" + (f"; device peak {dev['peak']:.0f} MiB" if dev else "")
              + "; `+ growth` is how far a peer's runs raised the RSS above what it found.",
              f"- Load average before / after: {res['load_average']['before']} / "
              f"{res['load_average']['after']}.", ""]
    return lines


def _sweep(sw: dict) -> list[str]:
    lines = ["## sweep: many planar models in one program", ""]
    if sw.get("status") != "ok":
        return lines + [f"**{sw.get('status', 'failed').upper()}**: {sw.get('reason')}", ""]
    f, mem = sw["floor"], sw["memory"]
    return lines + [
        f"`jax.jit(jax.vmap(fit))` over {sw['models']} initial params (init `{sw['init']}`, "
        f"different seeds), layers {sw['layers']}, m = {sw['m']}, {sw['iterations']} iterations, "
        "beside one `fit` of the same length.", "",
        markdown_table(["", "s / model-iteration", "x single model", "x floor"], [
            [f"sweep of {sw['models']}", seconds(sw["seconds_per_model_iteration"]),
             f"{sw['ratio_to_single']:.3g}", f"{sw['ratio_to_floor']:.2f}"],
            ["one model", seconds(sw["single_model_seconds"]), "1",
             f"{sw['single_model_seconds'] / f['seconds']:.1f}"],
            ["*floor*", seconds(f["seconds"]), "", "1.0"]]), "",
        f"- One call: {seconds(sw['seconds_per_call'])} (compile {seconds(sw['compile_seconds'])});"
        f" model 0 of the sweep equals the single fit: {sw['model0_matches_single_fit']}; final "
        "costs min / median / max "
        + " / ".join(f"{c:.4f}" for c in sw["final_cost_min_median_max"]) + ".",
        f"- Floor per model-iteration: {f['bound']}-bound, GEMM {seconds(f['gemm_seconds'])}, "
        f"transcendentals {seconds(f['elementwise_seconds'])} (tanh {f['tanh_per_s'] / 1e9:.2f} "
        f"G/s, exp {f['exp_per_s'] / 1e9:.2f} G/s).",
        f"- Memory: data + params {mem['data_params_mib']:.2f} MiB; peak RSS "
        f"{mem['peak_rss_mib']:.0f} MiB, RSS before the data {mem['rss_before_data_mib']:.0f} MiB.",
        ""]


def _growth(g: dict) -> list[str]:
    lines = ["## growth: fit's time and memory as m and width grow", ""]
    if g.get("status") != "ok":
        return lines + [f"**{g.get('status', 'failed').upper()}**: {g.get('reason')}", ""]
    rows = []
    for r in g["points"]:
        if r["status"] != "ok":
            rows.append([r["mode"], r["dims"], r["m"], "failed"] + [""] * 6)
            continue
        mod, xla = r["model_mib"], r.get("xla_mib")
        rows.append([r["mode"], r["dims"], f"{r['m']:,}", num_weights(r["dims"]),
                     f"{seconds(r['seconds'])} / {'iteration' if r['mode'] == 'full' else 'epoch'}",
                     f"{seconds(r['seconds'] / r['m'])}", f"{r['memory_mib']:.0f}",
                     f"{xla['arguments']:.0f} + {xla['temporaries']:.0f}" if xla else "n/a",
                     f"{mod['total']:.0f} = {mod['data']:.0f} + {mod['params']:.1f} + "
                     f"{mod['caches']:.0f} + {mod['working_copies']:.0f}",
                     f"{xla['total'] / mod['total']:.2f}" if xla else "n/a"])
    lines += [f"Minibatches of {g['batch_size']}; memory: "
              + (g["points"][0].get("memory_method") or "") + ". XLA's buffers: its account of "
              "one compiled chunk of `train_steps`, arguments (data, params, state) + temporaries. "
              "Model: data + params + caches (Z, A of every layer over a batch) + fit's working "
              "copies of (X, Y).", "",
              markdown_table(["mode", "layers", "m", "weights P", "time", "per example",
                              "memory MiB", "XLA's buffers MiB", "model MiB", "XLA / model"],
                             rows), "",
              "Slopes (log-log least squares): " + "; ".join(
                  f"{k} {v:.2f}" for k, v in g["slopes"].items()) + ".", ""]
    if g.get("epoch_vs_full_batch"):
        lines += ["A minibatch epoch against a full-batch iteration over the same m examples: "
                  + "; ".join(f"m = {m:,}: {r:.2f}x" for m, r in g["epoch_vs_full_batch"].items())
                  + ".", ""]
    if g.get("plot"):
        lines += [f"![time and memory against m and width]({g['plot']})", ""]
    return lines


def markdown(result: dict) -> str:
    mach = result["machine"] or {}
    v = mach.get("versions", {})
    lines = [f"# jaxdnn speed benchmark: {result['name']}", "",
             f"**Question.** {result['question']}", "", markdown_table(["machine", ""], [
                 ["CPU", mach.get("cpu")], ["cores", mach.get("cores")],
                 ["device (jax)", mach.get("device")], ["device (torch)", mach.get("torch_device")],
                 ["float32 GEMMs", mach.get("matmul_precision")],
                 ["platform", mach.get("platform")],
                 ["versions", ", ".join(f"{k} {val}" for k, val in v.items() if val)],
                 ["torch threads", mach.get("torch_threads")],
                 ["environment", ", ".join(f"{k}={val}" for k, val in
                                           (mach.get("environment") or {}).items()) or "(none)"],
                 ["date", result["date"]], ["command", f"`{result['command']}`"],
                 ["wall time", f"{result['wall_seconds']:.0f} s"]]), ""]
    if result["config"]["quick"]:
        lines += ["**--quick run**: small shapes and few iterations, XLA without LLVM's "
                  "optimisations (faster compiles, slower code); not a measurement.", ""]
    lines += ["Median seconds per iteration (epoch, for minibatch problems) over the timed rounds; "
              "peers timed round-robin after a warm-up, in one process per problem. `x fastest` "
              "and `x floor` are ratios; compile is the warm-up's time beyond its iterations.", "",
              markdown_table(["problem", "jaxdnn manual", "fastest other peer", "x floor (best "
                              "rate)", "x floor (own shapes)"],
                             summary_rows(result["problems"])), ""]
    for name, res in result["problems"].items():
        if name == "sweep":
            lines += _sweep(res)
        elif name == "growth":
            lines += _growth(res)
        else:
            lines += _problem(name, res)
    return "\n".join(lines)
