"""Job scripts for a cluster scheduler: one SLURM job array per sweep, one array task per run, each calling
``mirbench run SPEC --rows R --seeds S`` through the installed ``mirbench`` (absolute path).

Inside a task Lightning's own SLURMEnvironment sets ranks and addresses (``srun`` starts one task per device,
``--ntasks-per-node`` = devices, ``--nodes`` = num_nodes). Preemption and time limits use Lightning's
auto-requeue: ``--signal=SIGUSR1@90`` makes Lightning save ``hpc_ckpt_<n>.ckpt`` in the run's work folder and
``scontrol requeue`` the task; the requeued task finds the checkpoint and resumes from it (the runner keeps a
work folder that holds one for the same config). Records and skip logic are those of a workstation sweep, so
a resubmitted array skips what finished.

Multi-node, e.g. the `paper` profile on 2 nodes of 4 GPUs::

    mirbench run ismir2020 --profile paper --emit-slurm jobs/ --devices 4 --num_nodes 2 --strategy ddp \\
        --accelerator gpu --sbatch time=24:00:00 --sbatch partition=gpu
    sbatch jobs/ismir2020__paper.sbatch      # or jobs/submit_all.sh
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from mirbench.bench.spec import SpecError, TableSpec
from mirbench.io import dir_mode, write_text

SCHEDULERS = ("slurm",)
REQUEUE_SIGNAL = "SIGUSR1@90"  # Lightning's SLURMEnvironment default signal, 90 s before the time limit
ENV_VARS = ("MIRBENCH_DATA", "MIRBENCH_RESULTS", "MIRBENCH_SHARED_DATA")  # exported into the job when set


class LaunchError(SpecError):
    """The requested job cannot be written (e.g. ``--devices auto`` for a scheduler that needs a number)."""


def mirbench_command() -> list[str]:
    """The installed ``mirbench`` by absolute path (the venv's ``bin/mirbench``), else this Python's
    ``-m mirbench.cli``; symlinks are kept, so a venv's interpreter stays the venv's."""
    exe = Path(sys.executable).absolute()
    script = exe.parent / "mirbench"
    return [str(script)] if script.is_file() and os.access(script, os.X_OK) else [str(exe), "-m", "mirbench.cli"]


def _count(name: str, value: int | str | None, default: int = 1) -> int:
    text = str(value if value is not None else default).strip()
    if not text.isdigit() or int(text) < 1:
        raise LaunchError(f"--{name} {text}: a SLURM job asks for a fixed number of tasks per node; give a "
                          f"positive number (e.g. --{name} 4 for 4 GPUs per node)")
    return int(text)


def emit_job_scripts(spec: TableSpec, out_dir: Path, spec_ref: str | None = None, profile: str | None = None,
                     rows: list[str] | None = None, seeds: list[int] | None = None, devices: int | str = 1,
                     num_nodes: int | str = 1, strategy: str | None = None, accelerator: str | None = None,
                     mode: str = "inprocess", scheduler: str = "slurm", sbatch: dict[str, str] | None = None,
                     results_root: Path | None = None) -> list[Path]:
    """Write ``<out_dir>/<table>__<profile>.sbatch`` (one ``--array`` task per run) and ``submit_all.sh``;
    returns the job scripts (one per profile of the sweep).

    ``spec_ref`` is how the job names the spec (default: its file, by absolute path); ``sbatch`` adds
    ``#SBATCH --key=value`` lines (e.g. ``{"time": "24:00:00", "partition": "gpu"}``) and may override the
    defaults; GPUs are requested when ``accelerator`` is a GPU. ``results_root`` is passed on as ``--results``.
    Raises :class:`LaunchError` for a device count that is not a number.
    """
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
    devices, num_nodes = _count("devices", devices), _count("num_nodes", num_nodes)
    out_dir = Path(out_dir).absolute()
    if spec_ref is None or Path(spec_ref).suffix in (".yaml", ".yml"):
        spec_ref = str(Path(spec.path).absolute()) if spec.path is not None else spec.id
    plans = spec.resolve(profile, rows, seeds)
    by_profile: dict[str, list] = {}
    for plan in plans:
        by_profile.setdefault(plan.profile, []).append(plan)
    scripts = []
    for prof, runs in by_profile.items():
        name = f"{spec.id}__{prof}"
        opts = {"job-name": f"mirbench-{name}", "array": f"0-{len(runs) - 1}", "nodes": str(num_nodes),
                "ntasks-per-node": str(devices), "signal": REQUEUE_SIGNAL, "requeue": None, "open-mode": "append",
                "output": str(out_dir / f"{name}.%A_%a.out")}
        if accelerator in ("gpu", "cuda"):
            opts["gres"] = f"gpu:{devices}"
        opts.update(sbatch or {})
        cmd = ["srun", *mirbench_command(), "run", spec_ref, "--rows", "$ROW", "--seeds", "$SEED", "--profile", prof,
               "--devices", str(devices), "--num_nodes", str(num_nodes)]
        cmd += ["--strategy", strategy] if strategy else []
        cmd += ["--accelerator", accelerator] if accelerator else []
        cmd += ["--mode", mode] if mode != "inprocess" else []
        cmd += ["--results", str(Path(results_root).absolute())] if results_root is not None else []
        lines = ["#!/bin/bash"] + [f"#SBATCH --{k}" + (f"={v}" if v is not None else "") for k, v in opts.items()]
        lines += ["# one array task per run; Lightning requeues a task on SIGUSR1 and it resumes from its",
                  "# hpc_ckpt_<n>.ckpt; a resubmitted array skips the runs that finished",
                  "set -euo pipefail", f"cd {shlex.quote(str(spec.root))}"]
        lines += [f"export {v}={shlex.quote(os.environ[v])}" for v in ENV_VARS if os.environ.get(v)]
        lines += ["RUNS=("] + [f"  {shlex.quote(f'{p.row} {p.seed}')}" for p in runs] + [")"]
        lines += ['read -r ROW SEED <<< "${RUNS[$SLURM_ARRAY_TASK_ID]}"',
                  'echo "mirbench: array task $SLURM_ARRAY_TASK_ID: row $ROW seed $SEED '
                  '(restart ${SLURM_RESTART_COUNT:-0})"',
                  " ".join(shlex.quote(c) if not c.startswith("$") else f'"{c}"' for c in cmd), ""]
        path = out_dir / f"{name}.sbatch"
        write_text(path, "\n".join(lines))
        path.chmod(dir_mode())
        scripts.append(path)
    submit = ["#!/bin/bash", "set -euo pipefail"] + [f"sbatch {shlex.quote(str(p))}" for p in scripts] + [""]
    write_text(out_dir / "submit_all.sh", "\n".join(submit))
    (out_dir / "submit_all.sh").chmod(dir_mode())
    return scripts
