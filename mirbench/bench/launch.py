"""Job scripts for a cluster scheduler: one per run, each calling ``mirbench run SPEC --rows R --seeds S``.

Inside the job Lightning's own SLURMEnvironment sets ranks and addresses (``srun`` starts one task per device,
``--ntasks-per-node`` = devices); the runner's records and resume logic are the same as on a workstation.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from mirbench.bench.spec import TableSpec
from mirbench.io import write_text

SCHEDULERS = ("slurm",)


def emit_job_scripts(spec: TableSpec, out_dir: Path, spec_ref: str | None = None, profile: str | None = None,
                     rows: list[str] | None = None, seeds: list[int] | None = None, devices: int = 1,
                     num_nodes: int = 1, strategy: str | None = None, accelerator: str | None = None,
                     mode: str = "inprocess", scheduler: str = "slurm",
                     sbatch: dict[str, str] | None = None) -> list[Path]:
    """Write ``<out_dir>/<table>__<row>__seed<S>.sbatch`` per run and ``submit_all.sh``; returns the scripts.

    ``spec_ref`` is how the job names the spec (default: the spec's id); ``sbatch`` adds ``#SBATCH --key=value``
    lines (e.g. ``{"time": "24:00:00", "partition": "gpu"}``); GPUs are requested when ``accelerator`` is a GPU.
    """
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
    out_dir = Path(out_dir)
    spec_ref = spec_ref or spec.id
    devices = int(devices)
    scripts = []
    for plan in spec.resolve(profile, rows, seeds):
        name = f"{spec.id}__{plan.name}"
        opts = {"job-name": f"mirbench-{name}", "nodes": str(num_nodes), "ntasks-per-node": str(devices),
                "output": str(out_dir / f"{name}.%j.out")}
        if accelerator in ("gpu", "cuda"):
            opts["gres"] = f"gpu:{devices}"
        opts.update(sbatch or {})
        cmd = ["srun", "mirbench", "run", spec_ref, "--rows", plan.row, "--seeds", str(plan.seed),
               "--profile", plan.profile, "--devices", str(devices), "--num_nodes", str(num_nodes)]
        cmd += ["--strategy", strategy] if strategy else []
        cmd += ["--accelerator", accelerator] if accelerator else []
        cmd += ["--mode", mode] if mode != "inprocess" else []
        lines = ["#!/bin/bash"] + [f"#SBATCH --{k}={v}" for k, v in opts.items()]
        lines += ["set -euo pipefail", f"cd {shlex.quote(str(spec.root))}", shlex.join(cmd), ""]
        path = out_dir / f"{name}.sbatch"
        write_text(path, "\n".join(lines))
        path.chmod(0o755)
        scripts.append(path)
    submit = ["#!/bin/bash", "set -euo pipefail"] + [f"sbatch {shlex.quote(str(p))}" for p in scripts] + [""]
    write_text(out_dir / "submit_all.sh", "\n".join(submit))
    (out_dir / "submit_all.sh").chmod(0o755)
    return scripts
