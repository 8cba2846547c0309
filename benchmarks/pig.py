"""PIG benchmark: (1) closed-form second derivatives vs autograd double backward, and truncated vs
dense Gaussians, (2) PIG vs a tuned PINN at equal CPU-time training budget on every problem of
``geomsci.pig.problems``.

    python benchmarks/pig.py                       # 30 CPU-seconds per run, seeds 1-3, all problems
    python benchmarks/pig.py --budget 60 --seeds 3 --problems helmholtz,klein_gordon
    python benchmarks/pig.py --quick               # 3 s per run, 1 seed, derivative table + 3 problems

The numbers in ``docs/pig.md`` come from (one problem per process, same settings as the first line)

    python benchmarks/pig.py --budget 30 --seeds 3 --skip-derivatives --problems PROBLEM \
        --json assets/pig/bench30_PROBLEM.json --plots assets/pig
    python benchmarks/pig.py --skip-comparison      # derivative and truncation tables

Everything runs on one CPU thread. Relative L2 errors are on a fixed subset (<= 20k points) of
each problem's test set; "final" is the error at the end of the budget, "best" the lowest seen at
any evaluation (every 25 steps). Time counts training only, not evaluation, and by default it is
the process's CPU time (``--clock cpu``): on a machine shared with other jobs, wall-clock budgets
would hand both models whatever CPU share the neighbours leave; on an idle machine the two agree.
Settings per problem, and how they were tuned on seed 0 (not reported by default), are in
``geomsci/pig/configs.py``. Results are also written as JSON (``--json``) and error-vs-time PNGs
(``--plots DIR``, first seed).
"""

from __future__ import annotations

import time

_START = time.perf_counter()  # before importing torch: --max-seconds counts from the process start

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geomsci.pig import PIG, PINN, plot_history, train  # noqa: E402
from geomsci.pig.configs import PAPER, model_kwargs, paper_iters, train_kwargs  # noqa: E402
from geomsci.pig.lbfgs import LBFGS_INNER, make_lbfgs  # noqa: E402
from geomsci.pig.loss import draw_batch, physics_loss  # noqa: E402
from geomsci.pig.problems import PROBLEMS, get_problem  # noqa: E402
from geomsci.pig.step import AdamStep  # noqa: E402

# Kang et al. (2025), Table 1: PIG's mean relative L2 error
PAPER_TABLE1 = {"helmholtz": 4.1e-5, "klein_gordon": 2.8e-3, "flow_mixing": 4.5e-4, "diffusion": 2.7e-3, "allen_cahn": 1.0e-4}
TABLE1_PROBLEMS = tuple(PAPER_TABLE1)


def _time(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def derivative_table(quick: bool) -> list[dict]:
    """Time of a training step's derivative work: jet (u, grad, pure second derivatives) at P
    points plus the backward pass of a residual-type loss, closed form vs double backward."""
    rows = []
    cases = [(2, 100, 2000), (2, 400, 2000), (3, 100, 1500)] if not quick else [(2, 100, 1000), (3, 100, 1000)]
    for dtype in (torch.float64, torch.float32):
        for d, n, p in cases:
            m = PIG(d, [[-1.0] * d, [1.0] * d], n_gaussians=n, channels=4, seed=0, dtype=dtype)
            x = torch.rand(p, d, dtype=dtype, generator=torch.Generator().manual_seed(0)) * 2 - 1
            out = {}
            for method in ("closed", "autograd"):

                def step():
                    j = m.jet(x, order=2, method=method)
                    loss = (j.hess.sum(-1)[:, 0] + j.value[:, 0]).pow(2).mean() + j.grad.pow(2).mean()
                    loss.backward()
                    return j

                out[method] = _time(step, 3 if quick else 5)
            a, b = m.jet(x[:200], 2), m.jet(x[:200], 2, method="autograd")
            diff = max(
                float((a.hess - b.hess).abs().max().detach() / b.hess.abs().max().detach()),
                float((a.grad - b.grad).abs().max().detach() / b.grad.abs().max().detach()),
            )  # relative to the largest entry
            rows.append(
                {
                    "dtype": str(dtype).replace("torch.", ""),
                    "d": d,
                    "gaussians": 4 * n,
                    "points": p,
                    "closed_ms": 1e3 * out["closed"],
                    "autograd_ms": 1e3 * out["autograd"],
                    "speedup": out["autograd"] / out["closed"],
                    "max_diff": diff,
                }
            )
    return rows


def truncation_table(quick: bool) -> list[dict]:
    """Closed-form jet + backward with all Gaussians vs truncated ones (``truncate_tol``), points
    in chunks that ``PIG.jet`` sorts into grid cells: the Helmholtz (10,10) setting."""
    rows = []
    cases = [(900, 0.03, 2000)] if not quick else [(400, 0.05, 1000)]
    x = torch.rand(cases[0][2], 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for n, sig, p in cases:
        out, jets = {}, {}
        for tol, cs in ((None, 8192), (1e-6, 256)):
            m = PIG(2, [[-1.0, -1.0], [1.0, 1.0]], n_gaussians=n, channels=4, sigma_init=sig, truncate_tol=tol, seed=0)

            def step():
                j = m.jet(x[:p], order=2, chunk_size=cs)
                (j.hess.sum(-1)[:, 0] + j.value[:, 0]).pow(2).mean().backward()
                return j

            out[tol] = _time(step, 3 if quick else 5)
            jets[tol] = m.jet(x[:p], order=2, chunk_size=cs).hess.detach()
        diff = float((jets[None] - jets[1e-6]).abs().max() / jets[None].abs().max())
        rows.append(
            {
                "gaussians": 4 * n,
                "sigma": sig,
                "points": p,
                "dense_ms": 1e3 * out[None],
                "truncated_ms": 1e3 * out[1e-6],
                "speedup": out[None] / out[1e-6],
                "max_rel_diff": diff,
            }
        )
    return rows


def comparison(problems, budget, seeds, clock, first_seed=0, device="cpu", models=("PIG", "PINN")):
    results = {}
    for name in problems:
        problem = get_problem(name)
        problem.test_points()  # build the reference outside the timed runs
        runs = {label: [] for label in models}
        for seed in range(first_seed, first_seed + seeds):
            for label, cls, key in (("PIG", PIG, "pig"), ("PINN", PINN, "pinn")):
                if label not in models:
                    continue
                model = cls(problem.dim, problem.bounds, seed=seed, device=device, **model_kwargs(name, key, problem.bounds))
                r = train(problem, model, budget=budget, seed=seed, progress=False, clock=clock, **train_kwargs(name, key))
                runs[label].append(r)
                print(
                    f"  {name:>15} {label:<4} seed {seed}: final {r.final_rel_l2:.3e} best {r.best_rel_l2:.3e} "
                    f"({r.steps} steps, {sum(p.numel() for p in model.parameters())} params)",
                    flush=True,
                )
        results[name] = runs
    return results


# ---- steps per second: eager vs captured step, package and paper sizes --------------------------------
def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _clock(device):
    """Wall clock on a GPU; this process's CPU time on the CPU (one thread: robust on a shared machine)."""
    return time.perf_counter if torch.device(device).type == "cuda" else time.process_time


def _setup(name, preset, device, model="pig", seed=0, smoke=False):
    """Problem, model and train kwargs for ``preset`` ('cpu' = package sizes, 'paper'); ``smoke``
    shrinks everything (a CPU check of the GPU script)."""
    problem = get_problem(name)
    mk = model_kwargs(name, model, problem.bounds, preset)
    tk = train_kwargs(name, model, preset)
    if smoke:
        if "n_gaussians" in mk:
            mk["n_gaussians"] = min(mk["n_gaussians"], 16)
        tk["n_collocation"], tk["n_data"] = min(tk["n_collocation"], 200), min(tk["n_data"], 50)
        tk["eval_every"] = min(tk.get("eval_every", 25), 25)
        if "lbfgs_points" in tk:
            tk["lbfgs_points"] = 300
        problem.test_points = _small_test(problem)
    cls = PIG if model == "pig" else PINN
    net = cls(problem.dim, problem.bounds, seed=seed, device=device, **mk)
    return problem, net, tk


def _small_test(problem):
    full = problem.test_points

    def test_points():
        x, u = full()
        keep = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[:2000]
        return x[keep], u[keep]

    return test_points


def _stepper(problem, net, tk, mode, log_size=50):
    rates = {"weights": tk["lr"], "means": tk["lr"], "scales": tk["lr"]}
    loss_kwargs = {k: tk[k] for k in ("causal_eps", "causal_bins", "chunk_size", "residual_weight") if k in tk}
    return AdamStep(
        problem,
        net,
        n_collocation=tk["n_collocation"],
        n_data=tk["n_data"],
        rates=rates,
        lr_final_factor=0.1,
        loss_kwargs=loss_kwargs,
        seed=0,
        log_size=log_size,
        mode=mode,
    )


def step_rate(name, preset, device, mode, seconds, smoke=False, model="pig") -> dict:
    """Adam steps per second of the step in ``mode`` (blocks of 50 steps, one host read per block,
    as in ``train``), after set-up (priming, compiling or capturing: ``setup_s``)."""
    problem, net, tk = _setup(name, preset, device, model, smoke=smoke)
    now = _clock(device)
    _sync(device)
    t0 = time.perf_counter()  # set-up on the wall clock: compiling uses worker processes
    stepper = _stepper(problem, net, tk, mode)
    for _ in range(3):
        stepper.step(0.0, True)
    stepper.losses()
    _sync(device)
    setup = time.perf_counter() - t0
    steps, t0 = 0, now()
    while now() - t0 < seconds:
        for _ in range(50):
            stepper.step(0.5, True)
        losses = stepper.losses()
        stepper.guard()
        steps += 50
    _sync(device)
    rate = steps / (now() - t0)
    return {
        "problem": name,
        "size": "paper" if preset == "paper" else "package",
        "model": model,
        "requested": mode,
        "mode": stepper.mode,
        "steps_per_s": rate,
        "setup_s": setup,
        "last_loss": losses[-1],
        "fallback": stepper.fallback_reason,
        "gaussians": getattr(net, "n_gaussians", 0) * getattr(net, "channels", 0),
        "points": tk["n_collocation"],
    }


def lbfgs_rate(name, preset, device, seconds, smoke=False, model="pig") -> dict:
    """L-BFGS iterations per second (strong Wolfe, history 50; calls of ``LBFGS_INNER`` iterations)."""
    problem, net, tk = _setup(name, preset, device, model, smoke=smoke)
    now = _clock(device)
    loss_kwargs = {k: tk[k] for k in ("causal_eps", "causal_bins", "chunk_size", "residual_weight") if k in tk}
    gen = torch.Generator(device=device).manual_seed(0)
    n_points = tk.get("lbfgs_points") or 2 * tk["n_collocation"]
    xi, cons = draw_batch(problem, n_points, tk["n_data"], gen, torch.float64)
    opt = make_lbfgs(list(net.parameters()))
    evals = [0]

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = physics_loss(problem, net, xi, cons, **loss_kwargs)
        loss.backward()
        evals[0] += 1
        return loss

    opt.step(closure)  # warm-up
    _sync(device)
    steps, evals[0], t0 = 0, 0, now()
    while now() - t0 < seconds:
        opt.step(closure)
        steps += LBFGS_INNER
    _sync(device)
    dt = now() - t0
    return {
        "problem": name,
        "size": "paper" if preset == "paper" else "package",
        "model": model,
        "lbfgs_steps_per_s": steps / dt,
        "loss_evals_per_step": evals[0] / max(steps, 1),
        "points": n_points,
    }


def equivalence(name, device, mode, steps=100, smoke=False) -> dict:
    """Largest relative difference of the losses of the eager and the captured step over ``steps``
    steps from the same seed (float64, package sizes)."""
    losses = {}
    for m in ("eager", mode):
        problem, net, tk = _setup(name, "cpu", device, smoke=smoke)
        stepper = _stepper(problem, net, tk, m, log_size=steps)
        for i in range(steps):
            stepper.step(i / steps, True)
        losses[m] = (stepper.losses(), stepper.mode)
    a, (b, used) = losses["eager"][0], losses[mode]
    diff = max(abs(x - y) / max(abs(x), 1e-300) for x, y in zip(a, b))
    return {"problem": name, "steps": steps, "mode": used, "max_rel_diff": diff, "first_loss": a[0], "last_loss": a[-1]}


def schedule_check(name, device, budget, smoke=False) -> dict:
    """Error per second of the two schedules at the package sizes: Adam then L-BFGS (configs.py)
    against Adam only, equal wall-clock budget, seed 1."""
    out = {"problem": name, "budget_s": budget}
    for label, override in (("adam_then_lbfgs", {}), ("adam_only", {"adam_fraction": 1.0})):
        problem, net, tk = _setup(name, "cpu", device, seed=1, smoke=smoke)
        r = train(problem, net, budget=budget, seed=1, progress=False, clock="wall", **{**tk, **override})
        out[label] = {"final": r.final_rel_l2, "best": r.best_rel_l2, "steps": r.steps, "mode": r.mode}
    return out


def steps_table(args, problems) -> list[dict]:
    """Print (and with --json write) steps/s, eager vs captured, per problem and size."""
    captured = "graph" if torch.device(args.device).type == "cuda" else "compile"
    rows = []
    for size in args.sizes.split(","):
        preset = "paper" if size == "paper" else "cpu"
        for name in problems:
            if preset == "paper" and name not in PAPER:
                continue
            pair = {}
            for mode in args.modes.split(","):
                pair[mode] = step_rate(
                    name, preset, args.device, "eager" if mode == "eager" else captured, args.step_seconds, args.smoke
                )
                rows.append(pair[mode])
                print(json.dumps(pair[mode]), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
    print(f"\n{'problem':>13} {'size':>7} {'eager steps/s':>13} {'captured steps/s':>16} {'ratio':>6} {'set-up s':>8}")
    for i in range(0, len(rows), 2):
        e, c = rows[i], rows[i + 1] if i + 1 < len(rows) else None
        if c is None:
            break
        print(
            f"{e['problem']:>13} {e['size']:>7} {e['steps_per_s']:>13.1f} {c['steps_per_s']:>12.1f} ({c['mode'][:4]}) "
            f"{c['steps_per_s'] / e['steps_per_s']:>5.2f}x {c['setup_s']:>8.1f}"
        )
    return rows


def gpu_timings(args, problems) -> dict:
    """The timing half of the GPU script: equivalence, steps/s (eager vs captured, package and paper
    sizes), L-BFGS steps/s, schedule check. Written to ``args.json`` after every measurement."""
    # on the CPU the smoke run checks the script's code paths; compiling would take minutes per entry
    captured = "graph" if torch.device(args.device).type == "cuda" else ("eager" if args.smoke else "compile")
    report = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if captured == "graph" else "cpu",
        "torch": torch.__version__,
        "captured_mode": captured,
        "equivalence": [],
        "steps": [],
        "lbfgs": [],
        "schedule": [],
        "errors": [],
    }

    def attempt(what, fn, key):
        try:
            row = fn()
            report[key].append(row)
            print(what, json.dumps(row), flush=True)
        except Exception as err:  # one failed measurement must not cost the others
            report["errors"].append(f"{what}: {type(err).__name__}: {err}")
            print(f"{what}: FAILED {type(err).__name__}: {err}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))

    attempt("equivalence helmholtz", lambda: equivalence("helmholtz", args.device, captured, smoke=args.smoke), "equivalence")
    attempt(
        "equivalence klein_gordon",
        lambda: equivalence("klein_gordon", args.device, captured, steps=50, smoke=args.smoke),
        "equivalence",
    )
    for preset in ("cpu", "paper"):
        for name in problems:
            if preset == "paper" and name not in PAPER:
                continue
            for mode in ("eager", captured):
                attempt(
                    f"steps {name} {preset} {mode}",
                    lambda: step_rate(name, preset, args.device, mode, args.step_seconds, args.smoke),
                    "steps",
                )
    attempt(
        "steps helmholtz pinn",
        lambda: step_rate("helmholtz", "cpu", args.device, captured, args.step_seconds, args.smoke, model="pinn"),
        "steps",
    )
    for name in problems:
        attempt(f"lbfgs {name}", lambda: lbfgs_rate(name, "cpu", args.device, args.step_seconds, args.smoke), "lbfgs")
    attempt(
        "lbfgs helmholtz paper", lambda: lbfgs_rate("helmholtz", "paper", args.device, args.step_seconds, args.smoke), "lbfgs"
    )
    attempt("schedule helmholtz", lambda: schedule_check("helmholtz", args.device, args.schedule_budget, args.smoke), "schedule")
    return report


def table1(args, name) -> dict:
    """The paper's run of ``name`` (paper preset, Adam only, ``paper_iters`` steps), PIG, seeds 0, 1, 2
    while time allows: the whole call stays within ``args.max_seconds`` of wall-clock time."""
    deadline = _START + args.max_seconds
    print(f"table1 {name}: {deadline - time.perf_counter():.0f} s left after start-up", flush=True)
    iters = paper_iters(name) if not args.smoke else 200
    report = {"problem": name, "paper_rel_l2": PAPER_TABLE1[name], "iters": iters, "device": args.device, "runs": []}
    problem = get_problem(name)
    problem.test_points()  # the reference, once, outside the runs
    last = 0.0
    for seed in range(args.seeds):
        remaining = deadline - time.perf_counter() - 15.0  # set-up (capture), evaluations and writing are not in max_seconds
        if remaining < 10.0 or (seed > 0 and remaining < 1.1 * last):
            break
        t0 = time.perf_counter()
        prob, net, tk = _setup(name, "paper", args.device, seed=seed, smoke=args.smoke)
        try:
            r = train(prob, net, iters=iters, max_seconds=remaining, seed=seed, progress=False, clock="wall", **tk)
        except Exception as err:
            report["runs"].append({"seed": seed, "error": f"{type(err).__name__}: {err}"})
            break
        last = time.perf_counter() - t0
        report["runs"].append(
            {
                "seed": seed,
                "final": r.final_rel_l2,
                "best": r.best_rel_l2,
                "steps": r.steps,
                "reached_iters": r.steps >= iters,
                "train_s": r.seconds,
                "setup_s": r.setup_seconds,
                "wall_s": last,
                "mode": r.mode,
                "steps_per_s": r.steps / max(r.seconds, 1e-9),
                "nan_restores": r.nan_restores,
            }
        )
        print(name, json.dumps(report["runs"][-1]), flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


def assemble(folder: Path) -> tuple[dict, str]:
    """Merge the GPU script's JSON files into one report and a markdown table."""
    timing_path = folder / "timings.json"
    report = {"timings": json.loads(timing_path.read_text()) if timing_path.exists() else None, "table1": {}}
    for name in TABLE1_PROBLEMS:
        path = folder / f"table1_{name}.json"
        report["table1"][name] = json.loads(path.read_text()) if path.exists() else None
    lines = []
    t = report["timings"]
    if t:
        lines += [
            f"# PIG on {t['device_name']} (torch {t['torch']})",
            "",
            "## Eager vs captured losses (float64, same seed)",
            "",
            "| problem | steps | mode | max rel. diff |",
            "|---|---|---|---|",
        ]
        lines += [f"| {e['problem']} | {e['steps']} | {e['mode']} | {e['max_rel_diff']:.1e} |" for e in t["equivalence"]]
        lines += [
            "",
            "## Adam steps per second",
            "",
            "| problem | size | Gaussians | points | eager | captured | ratio | set-up s (captured) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        rows = {}
        for s in t["steps"]:
            rows.setdefault((s["problem"], s["size"], s["model"]), {})["eager" if s["requested"] == "eager" else "captured"] = s
        for (prob, size, model), pair in rows.items():
            e, c = pair.get("eager"), pair.get("captured")
            ratio = f"{c['steps_per_s'] / e['steps_per_s']:.1f}x" if e and c else "-"
            first = c or e
            label = prob if model == "pig" else f"{prob} (PINN)"
            lines.append(
                f"| {label} | {size} | {first['gaussians']} | {first['points']} | {e['steps_per_s']:.0f} |"
                if e
                else f"| {label} | {size} | {first['gaussians']} | {first['points']} | - |"
            )
            lines[-1] += f" {c['steps_per_s']:.0f} ({c['mode']}) | {ratio} | {c['setup_s']:.1f} |" if c else " - | - | - |"
        lines += [
            "",
            "## L-BFGS iterations per second",
            "",
            "| problem | size | points | steps/s | loss evals per step |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['problem']} | {r['size']} | {r['points']} | {r['lbfgs_steps_per_s']:.0f} | {r['loss_evals_per_step']:.2f} |"
            for r in t["lbfgs"]
        ]
        for sc in t["schedule"]:
            lines += [
                "",
                f"Schedule check, {sc['problem']}, {sc['budget_s']:g} s wall each: Adam then L-BFGS final "
                f"{sc['adam_then_lbfgs']['final']:.2e} (best {sc['adam_then_lbfgs']['best']:.2e}, {sc['adam_then_lbfgs']['steps']} steps); "
                f"Adam only final {sc['adam_only']['final']:.2e} (best {sc['adam_only']['best']:.2e}, {sc['adam_only']['steps']} steps)",
            ]
        if t["errors"]:
            lines += ["", "Failed measurements: " + "; ".join(t["errors"])]
    lines += [
        "",
        "## Table 1 (paper preset, PIG, Adam only, wall-capped)",
        "",
        "| problem | paper | iters | seed | steps | reached | final | best | steps/s | mode |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rep in report["table1"].items():
        if not rep or not rep["runs"]:
            lines.append(f"| {name} | {PAPER_TABLE1[name]:.1e} | | | | no run finished | | | | |")
            continue
        for r in rep["runs"]:
            if "error" in r:
                lines.append(
                    f"| {name} | {rep['paper_rel_l2']:.1e} | {rep['iters']} | {r['seed']} | | error: {r['error'][:80]} | | | | |"
                )
                continue
            lines.append(
                f"| {name} | {rep['paper_rel_l2']:.1e} | {rep['iters']} | {r['seed']} | {r['steps']} | "
                f"{'yes' if r['reached_iters'] else 'no'} | {r['final']:.2e} | {r['best']:.2e} | {r['steps_per_s']:.0f} | {r['mode']} |"
            )
    return report, "\n".join(lines) + "\n"


def _at(r, t):
    """Error at the last evaluation not later than time t (t = None: the final error)."""
    if t is None:
        return r.final_rel_l2
    errs = [e for tt, e in zip(r.history["eval_time"], r.history["rel_l2"]) if tt <= t]
    return errs[-1] if errs else r.history["rel_l2"][0]


def print_table(title: str, columns: list[tuple[str, str, str]], rows: list[dict]) -> None:
    """Print ``rows`` under ``title``, right-aligned; ``columns`` are (header, row key, format spec).
    The ``speedup`` column gets an 'x'."""
    cells = [[format(r[key], fmt) + ("x" if key == "speedup" else "") for _, key, fmt in columns] for r in rows]
    widths = [max([len(h)] + [len(c[j]) for c in cells]) for j, (h, _, _) in enumerate(columns)]
    print("\n" + title)
    for line in [[h for h, _, _ in columns]] + cells:
        print(" ".join(f"{c:>{w}}" for c, w in zip(line, widths, strict=True)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=30.0, help="training seconds per run (default 30)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=1,
        help="seeds first_seed .. first_seed + seeds - 1 (default 1: seed 0 was the tuning seed of configs.py)",
    )
    ap.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="budget clock: this process's CPU seconds (default; robust on a shared machine) or wall-clock",
    )
    ap.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated, from " + ",".join(PROBLEMS))
    ap.add_argument("--quick", action="store_true", help="3 s per run, 1 seed, helmholtz/poisson_mesh/flow_mixing")
    ap.add_argument("--skip-derivatives", action="store_true")
    ap.add_argument("--skip-comparison", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write all numbers here")
    ap.add_argument("--plots", type=Path, default=None, help="folder for error-vs-time PNGs")
    ap.add_argument("--device", default="cpu", help="torch device of the models and points (cpu, cuda)")
    ap.add_argument("--pig-only", action="store_true", help="train PIG alone (a GPU run against the paper's Table 1)")
    ap.add_argument(
        "--steps-table",
        action="store_true",
        help="only the steps/s table: eager vs captured step per problem (package sizes; --sizes to add paper)",
    )
    ap.add_argument("--sizes", default="package", help="steps table sizes: package, paper or package,paper")
    ap.add_argument(
        "--modes", default="eager,captured", help="steps table modes (captured: CUDA graph on CUDA, torch.compile on CPU)"
    )
    ap.add_argument(
        "--step-seconds",
        type=float,
        default=3.0,
        help="timing length of each steps/s entry (CPU seconds of this process on the CPU, wall seconds on CUDA)",
    )
    ap.add_argument(
        "--gpu-timings", action="store_true", help="the GPU script's timing half (equivalence, steps/s, L-BFGS, schedule)"
    )
    ap.add_argument("--schedule-budget", type=float, default=8.0, help="wall seconds per run of the schedule check")
    ap.add_argument("--table1", action="store_true", help="the paper's Table 1 runs (paper preset, PIG), wall-capped")
    ap.add_argument("--max-seconds", type=float, default=150.0, help="wall-clock cap of --table1 (all seeds together)")
    ap.add_argument("--assemble", type=Path, default=None, help="merge the GPU script's JSON files in this folder")
    ap.add_argument("--markdown", type=Path, default=None, help="with --assemble: write the markdown table here")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: a quick CPU check of the GPU script's code paths")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.assemble:
        report, md = assemble(args.assemble)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        if args.markdown:
            args.markdown.write_text(md)
        print(md)
        return
    if args.gpu_timings or args.table1 or args.steps_table:
        problems = [p for p in args.problems.split(",") if p] if args.problems != ",".join(PROBLEMS) else list(TABLE1_PROBLEMS)
        if args.gpu_timings:
            gpu_timings(args, problems)
        elif args.table1:
            for name in problems:
                table1(args, name)
        else:
            steps_table(args, problems)
        return
    problems = [p for p in args.problems.split(",") if p]
    if args.quick:
        args.budget, args.seeds, args.first_seed = 3.0, 1, 0
        if args.problems == ",".join(PROBLEMS):
            problems = ["helmholtz", "poisson_mesh", "flow_mixing"]
    bad = [p for p in problems if p not in PROBLEMS]
    if bad:
        ap.error(f"unknown problem(s) {bad}; choose from {sorted(PROBLEMS)}")
    report = {"budget_s": args.budget, "seeds": list(range(args.first_seed, args.first_seed + args.seeds))}

    if not args.skip_derivatives:
        rows = derivative_table(args.quick)
        report["derivatives"] = rows
        print_table(
            "Closed-form jet (u, grad, d2u/dx_j^2 for all j) + backward of a residual loss, vs autograd double backward",
            [("dtype", "dtype", "8"), ("d", "d", "2"), ("Gaussians", "gaussians", "9"), ("points", "points", "6")]
            + [("closed ms", "closed_ms", "10.1f"), ("autograd ms", "autograd_ms", "12.1f")]
            + [("speed-up", "speedup", "8.2f"), ("max rel diff", "max_diff", "12.1e")],
            rows,
        )
        trows = truncation_table(args.quick)
        report["truncation"] = trows
        print_table(
            "Closed-form jet + backward, all Gaussians vs truncate_tol = 1e-6 (chunks of 256 points sorted into grid cells)",
            [("Gaussians", "gaussians", "9"), ("sigma", "sigma", "6"), ("points", "points", "6")]
            + [("dense ms", "dense_ms", "9.1f"), ("truncated ms", "truncated_ms", "12.1f")]
            + [("speed-up", "speedup", "8.2f"), ("max rel diff", "max_rel_diff", "12.1e")],
            trows,
        )

    if not args.skip_comparison and args.pig_only:
        print(f"\nPIG alone on {args.device}, {args.budget:g} s ({args.clock} clock) per run, seeds {report['seeds']}")
        res = comparison(problems, args.budget, args.seeds, args.clock, args.first_seed, args.device, models=("PIG",))
        report["pig_only"] = {
            name: [
                {
                    "final": r.final_rel_l2,
                    "best": r.best_rel_l2,
                    "steps": r.steps,
                    "eval_time": r.history["eval_time"],
                    "rel_l2": r.history["rel_l2"],
                }
                for r in runs["PIG"]
            ]
            for name, runs in res.items()
        }
        for name, runs in res.items():
            print(
                f"{name:>20}: final {statistics.mean(r.final_rel_l2 for r in runs['PIG']):.2e} "
                f"best {statistics.mean(r.best_rel_l2 for r in runs['PIG']):.2e} steps {[r.steps for r in runs['PIG']]}"
            )
    elif not args.skip_comparison:
        print(f"\nPIG vs PINN, {args.budget:g} s ({args.clock} clock) training per run, mean over {args.seeds} seed(s), 1 thread")
        res = comparison(problems, args.budget, args.seeds, args.clock, args.first_seed, args.device)
        cols = f"{'problem':>15} | {'PIG final':>9} {'PIG best':>9} | {'PINN final':>10} {'PINN best':>10} | {'final ratio':>11} {'best ratio':>10} | PIG err at 25/50/100 % of budget"
        print("\n" + cols + "\n" + "-" * len(cols))
        report["comparison"] = {}
        for name, runs in res.items():
            m = {
                k: (statistics.mean(r.final_rel_l2 for r in v), statistics.mean(r.best_rel_l2 for r in v))
                for k, v in runs.items()
            }
            marks = (0.25 * args.budget, 0.5 * args.budget, None)  # None: the final error
            trace = [statistics.mean(_at(r, t) for r in runs["PIG"]) for t in marks]
            trace_pinn = [statistics.mean(_at(r, t) for r in runs["PINN"]) for t in marks]
            print(
                f"{name:>15} | {m['PIG'][0]:>9.2e} {m['PIG'][1]:>9.2e} | {m['PINN'][0]:>10.2e} {m['PINN'][1]:>10.2e} | "
                f"{m['PINN'][0] / m['PIG'][0]:>10.1f}x {m['PINN'][1] / m['PIG'][1]:>9.1f}x | "
                + " ".join(f"{e:.1e}" for e in trace)
            )
            report["comparison"][name] = {
                "pig_final": m["PIG"][0],
                "pig_best": m["PIG"][1],
                "pinn_final": m["PINN"][0],
                "pinn_best": m["PINN"][1],
                "pig_trace_25_50_100": trace,
                "pinn_trace_25_50_100": trace_pinn,
                "pig_steps": [r.steps for r in runs["PIG"]],
                "pinn_steps": [r.steps for r in runs["PINN"]],
                "pig_runs": [{"eval_time": r.history["eval_time"], "rel_l2": r.history["rel_l2"]} for r in runs["PIG"]],
                "pinn_runs": [{"eval_time": r.history["eval_time"], "rel_l2": r.history["rel_l2"]} for r in runs["PINN"]],
            }
            if args.plots:
                args.plots.mkdir(parents=True, exist_ok=True)
                plot_history(
                    {"PIG": runs["PIG"][0], "PINN": runs["PINN"][0]},
                    args.plots / f"{name}_error_vs_time.png",
                    title=f"{name}, seed {args.first_seed}",
                )
        print("ratio = PINN error / PIG error (> 1: PIG ahead)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
