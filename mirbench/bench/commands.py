"""``mirbench run|table|check|golden``: run a table spec, render it, check it against published and golden
numbers, freeze our results as golden numbers.

SPEC is an id (``benchmarks/tables/<id>.yaml``) or a path. Results go to ``$MIRBENCH_RESULTS`` (default
``results/``) or ``--results DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mirbench.bench.spec import SpecError, TableSpec, load_spec


def _csv(kind):
    def parse(text: str) -> list:
        try:
            return [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, got {text!r}")
    return parse


def _kv(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    return k.lstrip("-"), v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mirbench", description="Run, render and check benchmark tables.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("spec", help="table id (benchmarks/tables/<id>.yaml) or path to a spec YAML")
        p.add_argument("--profile", default=None, help="a profile of the spec (default: the spec's own seeds)")
        p.add_argument("--results", type=Path, default=None,
                       help="results root (default: $MIRBENCH_RESULTS or results/)")

    run = sub.add_parser("run", help="run (or resume) the runs of a table",
                         epilog="Any other --trainer.KEY=VALUE (e.g. --trainer.max_steps=5, "
                                "--trainer.logger=lightning.pytorch.loggers.TensorBoardLogger), --model.KEY=VALUE "
                                "or --data.KEY=VALUE is passed to every row after its own overrides; it changes "
                                "the resolved config, so those runs are redone.")
    common(run)
    run.add_argument("--rows", type=_csv(str), default=None, help="comma-separated row ids (default: all)")
    run.add_argument("--seeds", type=_csv(int), default=None, help="comma-separated seeds (default: the spec's)")
    run.add_argument("--mode", choices=("inprocess", "subprocess"), default="inprocess",
                     help="in this process (default) or as `mirbench fit` + `mirbench test` child processes")
    run.add_argument("--force", action="store_true", help="redo runs that already finished")
    run.add_argument("--devices", default=None, help="Lightning trainer.devices (e.g. 2, auto, 0,1)")
    run.add_argument("--strategy", default=None, help="Lightning trainer.strategy (e.g. ddp)")
    run.add_argument("--num_nodes", type=int, default=None, help="Lightning trainer.num_nodes")
    run.add_argument("--accelerator", default=None, help="Lightning trainer.accelerator (cpu, gpu, auto)")
    run.add_argument("--emit-slurm", type=Path, default=None, metavar="DIR",
                     help="write one sbatch script per run into DIR instead of running")
    run.add_argument("--sbatch", type=_kv, action="append", default=[], metavar="KEY=VALUE",
                     help="extra #SBATCH option for --emit-slurm (repeatable), e.g. time=24:00:00")
    run.add_argument("--table", action="store_true", help="render the table after the sweep")

    table = sub.add_parser("table", help="write results/<id>/table.{md,csv,tex} and the spec's plots")
    common(table)
    table.add_argument("--no-plots", action="store_true", help="skip the plots")
    add_help = ("show a model of your own as an extra row (repeatable): NAME=PATH of a `mirbench evaluate` record "
                "(.json) or a folder of them (one per seed)")
    table.add_argument("--add", type=_kv, action="append", default=[], metavar="NAME=PATH",
                       help=add_help + "; the table is then printed only, the committed files are not rewritten")

    check = sub.add_parser("check", help="exit 1 on a published or golden miss, a required claim contradicted, "
                                         "or an unreadable record")
    common(check)
    check.add_argument("--add", type=_kv, action="append", default=[], metavar="NAME=PATH", help=add_help)
    check.add_argument("--strict", action="store_true",
                       help="also fail on cells not run and on required claims not held (inconclusive, not run)")

    golden = sub.add_parser("golden", help="freeze the profile's recorded results as golden numbers "
                                           "(benchmarks/golden/<id>.csv: mean, its se over seeds, dof, n; `check` "
                                           "tests a re-run against them, two-sample t, Holm 1 %% per table)")
    common(golden)
    golden.add_argument("--min-tol-rel", type=float, default=0.02, help="tolerance floor relative to the value")
    golden.add_argument("--min-seeds", type=int, default=2, help="cells with fewer seeds are not frozen")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    args.trainer_extra, args.overrides_extra = _passthrough(parser, args.command, extra)
    try:
        spec = load_spec(args.spec)
        spec.profile(args.profile)  # an unknown profile is an error before anything runs
        _check_names(spec, args)
        return {"run": _run, "table": _table, "check": _check, "golden": _golden}[args.command](spec, args)
    except SpecError as e:
        print(f"mirbench {args.command}: error: {e}", file=sys.stderr)
        return 2


def _check_names(spec: TableSpec, args) -> None:
    """Every name that becomes a results path is one plain file name, before anything is read or written."""
    from mirbench.bench.names import check_name

    check_name(spec.id, "table id")
    for name in spec.profiles:
        check_name(name, "profile")
    for row in spec.rows:
        check_name(row.id, "row id")
    _added(args)


def _passthrough(parser: argparse.ArgumentParser, command: str,
                 extra: list[str]) -> tuple[dict[str, str], list[str]]:
    """What ``run``'s parser left over: ``--trainer.KEY=VALUE`` -> ({KEY: VALUE}, ...) and ``--model.*`` /
    ``--data.*`` -> (..., ["--model.KEY=VALUE", ...]); ``--key value`` is read as ``--key=value``."""
    trainer, overrides, rest, i = {}, [], [], 0
    while i < len(extra):
        key, eq, value = extra[i].partition("=")
        group = key[2:].split(".", 1)[0] if key.startswith("--") and "." in key else ""
        if command == "run" and group in ("trainer", "model", "data"):
            if not eq:
                if i + 1 >= len(extra):
                    parser.error(f"{key} needs a value")
                value, i = extra[i + 1], i + 1
            if group == "trainer":
                trainer[key[len("--trainer."):]] = value
            else:
                overrides.append(f"{key}={value}")
        else:
            rest.append(extra[i])
        i += 1
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return trainer, overrides


def _run(spec: TableSpec, args) -> int:
    trainer = {"devices": args.devices, "strategy": args.strategy, "num_nodes": args.num_nodes,
               "accelerator": args.accelerator, **args.trainer_extra}
    if args.overrides_extra:  # after every row's and the profile's own overrides
        from dataclasses import replace

        prof = spec.profile(args.profile)
        prof = replace(prof, overrides=tuple(prof.overrides) + tuple(args.overrides_extra))
        spec = replace(spec, profiles={**spec.profiles, prof.name: prof})
    if args.emit_slurm and (args.trainer_extra or args.overrides_extra):
        print("mirbench run: --emit-slurm takes no --trainer.* / --model.* / --data.* overrides (a job re-reads the "
              "spec): put them in a profile of the spec", file=sys.stderr)
        return 2
    if args.emit_slurm:
        from mirbench.bench.launch import emit_job_scripts

        scripts = emit_job_scripts(spec, args.emit_slurm, spec_ref=args.spec, profile=args.profile, rows=args.rows,
                                   seeds=args.seeds, devices=args.devices or 1, num_nodes=args.num_nodes or 1,
                                   strategy=args.strategy, accelerator=args.accelerator, mode=args.mode,
                                   sbatch=dict(args.sbatch), results_root=args.results)
        print(f"wrote {len(scripts)} job scripts to {args.emit_slurm} (submit: {args.emit_slurm}/submit_all.sh)")
        return 0
    from mirbench.bench.runner import run_table

    result = run_table(spec, args.profile, args.rows, args.seeds, mode=args.mode, trainer_overrides=trainer,
                       force=args.force, results_root=args.results, log=lambda s: print(s, flush=True))
    if args.table:
        _table(spec, args)
    return 0 if result.ok else 1


def _added(args) -> dict[str, Path]:
    from mirbench.bench.names import check_name

    return {check_name(name, "--add NAME"): Path(path) for name, path in getattr(args, "add", [])}


def _table(spec: TableSpec, args) -> int:
    from mirbench.bench.tables import build_report, output_paths, write_table

    if _added(args):  # the paper's table files stay as the suite's own runs made them
        try:
            report = build_report(spec, args.profile, args.results, added=_added(args))
        except (FileNotFoundError, ValueError) as e:
            print(f"mirbench table: error: {e}", file=sys.stderr)
            return 2
        print(report.markdown())
        return 0

    report = write_table(spec, args.profile, args.results)
    print(report.markdown())
    paths = list(output_paths(spec, report.profile, args.results).values())
    if spec.plots and not getattr(args, "no_plots", False):
        from mirbench.bench.figures.plots import make_plots

        paths += make_plots(spec, report=report, results_root=args.results)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def check_report(report) -> tuple[list[str], list[str]]:
    """(failures, warnings) of a TableReport.

    Failures: a published or golden miss, a required claim contradicted, a record file that cannot be read.
    Warnings: a required claim inconclusive or not run, claims contradicted that are not required, cells not
    run, failed runs, stale records (produced by other code than this checkout's).
    """
    from mirbench.bench.records import unreadable_message

    cells, fails, warns = report.cells, [], []
    for p in report.unreadable:
        fails.append(f"unreadable {'bootstrap replicates' if p.name.endswith('.boot.npz') else 'record'}: "
                     f"{unreadable_message(p)}")
    for c in cells[cells.status == "miss"].itertuples():
        fails.append(f"published miss: {c.row}/{c.column}: ours {c.mean:.4g} (n={c.n}) vs {c.published:.4g} "
                     f"(tol {c.tol_abs:g} + {c.tol_rel:g}x)")
    for c in cells[cells.golden_status == "miss"].itertuples():
        fails.append(f"golden miss: {c.row}/{c.column}: ours {c.mean:.4g} (n={c.n}) vs golden {c.golden:.4g} "
                     f"+- {c.golden_tol:.3g} (benchmarks/golden/{report.spec.id}.csv); a change that is meant to move "
                     f"it: re-run the seeds, then `mirbench golden {report.spec.id} --profile {report.profile}`")
    for c in report.claims.itertuples():
        what = f"{c.id}: {c.text} (effect {c.effect:+.4g} [{c.effect_lo:+.4g}, {c.effect_hi:+.4g}])"
        if c.required and c.status == "contradicted":
            fails.append(f"required claim contradicted: {what}")
        elif c.required and c.status in ("inconclusive", "not run"):
            warns.append(f"required claim {c.status}: {what}")
        elif c.status == "contradicted":
            warns.append(f"claim contradicted (not required): {what}")
    not_run = cells[(cells.status == "not_run") & (cells.ref_status == "check")]
    if len(not_run):
        warns.append(f"{len(not_run)} checked cell(s) not run: "
                     + ", ".join(f"{c.row}/{c.column}" for c in not_run.itertuples()))
    gold_nr = cells[cells.golden.notna() & (cells.golden_status == "not_run")]
    if len(gold_nr):
        warns.append(f"{len(gold_nr)} golden cell(s) not run")
    if report.failed:
        failed = ", ".join(f"{r.row}/seed{r.seed}" for r in report.failed)
        warns.append(f"{len(report.failed)} failed run(s): {failed}")
    import math

    from mirbench.bench.sanity import constant_predictor_metrics

    # a NaN in an ok run is a broken number, not a missing one; unless the row never defines it (NaN in all of its
    # ok records: e.g. the kappa-rank correlation of a method without kappa), which is an empty cell
    columns, finite = {c.metric for c in report.spec.columns}, set()
    ok = [r for r in report.records if r.ok]
    for r in ok:
        finite |= {(r.row, k) for k, v in r.metrics.items() if math.isfinite(v)}
    for r in ok:
        nan = sorted(k for k, v in r.metrics.items() if k in columns and not math.isfinite(v) and (r.row, k) in finite)
        if nan:
            fails.append(f"non-finite metric in an ok record: {r.row}/seed{r.seed}: {', '.join(nan)} (finite in the "
                         f"row's other seeds)")

    constant = [f"{r.row}/seed{r.seed}" for r in report.records if r.ok and constant_predictor_metrics(r.metrics)]
    if constant:
        warns.append(f"{len(constant)} run(s) score exactly as a constant predictor (ROC AUC 0.5, every score tied: "
                     f"collapsed or diverged?): {', '.join(constant)}")
    stale = [r for r in report.records if r.ok and r.stale]
    if stale:
        warns.append(f"{len(stale)} stale record(s), produced by other number-computing code than this checkout: "
                     f"`mirbench run {report.spec.id} --profile {report.profile} --force` re-runs them")
    return fails, warns


def verdict_line(report) -> str:
    """One line: published ok/miss, golden ok/miss, claims held/contradicted/inconclusive."""
    c, claims = report.cells, report.claims
    n = {k: int((claims.status == k).sum()) if len(claims) else 0
         for k in ("held", "contradicted", "inconclusive", "not run")}
    return (f"check {report.spec.id} (profile {report.profile}): published {int((c.status == 'ok').sum())} ok / "
            f"{int((c.status == 'miss').sum())} miss ({int((c.status == 'known_gap').sum())} known gap); golden "
            f"{int((c.golden_status == 'ok').sum())} ok / {int((c.golden_status == 'miss').sum())} miss; claims "
            f"{n['held']} held / {n['contradicted']} contradicted / {n['inconclusive']} inconclusive"
            + (f" / {n['not run']} not run" if n["not run"] else ""))


def _check(spec: TableSpec, args) -> int:
    from mirbench.bench.tables import build_report

    try:
        report = build_report(spec, args.profile, args.results, added=_added(args))
    except (FileNotFoundError, ValueError) as e:
        print(f"mirbench check: error: {e}", file=sys.stderr)
        return 2
    fails, warns = check_report(report)
    if args.strict:
        strict = [w for w in warns if "not run" in w or w.startswith("required claim")]
        fails += strict
        warns = [w for w in warns if w not in strict]
    print(verdict_line(report))
    for c in report.claims.itertuples():
        if c.status in ("held", "contradicted", "inconclusive"):
            print(f"  claim {c.status:<12} {c.id}: effect {c.effect:+.4g} [{c.effect_lo:+.4g}, {c.effect_hi:+.4g}]"
                  + (" (required)" if c.required else ""))
    for w in warns:
        print(f"  warning: {w}")
    for f in fails:
        print(f"  FAIL: {f}")
    print("FAILED" if fails else "PASSED")
    return 1 if fails else 0


def _golden(spec: TableSpec, args) -> int:
    from mirbench.bench.golden import freeze_golden

    profile = spec.profile(args.profile).name
    path, n = freeze_golden(spec, profile, args.results, min_tol_rel=args.min_tol_rel,
                            min_seeds=args.min_seeds)
    print(f"wrote {n} golden line(s) for profile {profile!r} to {path}")
    if n == 0:
        print(f"mirbench golden: nothing frozen: every cell needs >= {args.min_seeds} seeds recorded "
              f"(`mirbench run {spec.id} --profile {profile} --seeds 0,1,2`)", file=sys.stderr)
        return 1
    return 0
