"""The machine settings a number also depends on: thread counts, the BLAS library and kernel, torch's CPU capability.

Two runs of the same code and config on one box differ in their last digits (and, over a training, in more) when
their threads or kernels differ: a float32 sum is done in another order. A RunRecord keeps these settings
(:func:`machine_settings`), and a table notes a row whose seeds ran on different ones (:func:`mixed_settings_note`).
Records written before they were kept have none: unknown, never assumed equal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

# environment variables that set a thread count or pick a kernel (OpenBLAS, MKL, ATen)
ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE",
            "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY")


def machine_settings() -> dict:
    """This process's settings now: ``{"torch_threads", "torch_interop_threads", "cpu_capability", "torch_blas",
    "blas": [{internal_api, version, architecture, num_threads}], "env": {name: value or None}}``.

    ``cpu_capability`` is the ATen kernel set torch dispatches to (``AVX512``, ``AVX2``, ``DEFAULT``, ...);
    ``blas`` the BLAS libraries loaded in the process (numpy's and scipy's OpenBLAS, with the kernel OpenBLAS
    picked, e.g. ``SkylakeX`` or ``Haswell``), as threadpoolctl reports them; ``torch_blas`` torch's own
    (statically linked: threadpoolctl does not see it).
    """
    import torch
    from threadpoolctl import threadpool_info

    blas = [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return {"torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch_blas": _torch_blas(torch),
            "blas": blas, "env": {k: os.environ.get(k) for k in ENV_VARS}}


def _torch_blas(torch) -> str:
    """``"mkl 2024.2"``, ``"openblas"``, ...: torch's BLAS from its build configuration."""
    config = torch.__config__.show()
    if torch.backends.mkl.is_available():
        version = re.search(r"Math Kernel Library Version (\S+?)-", config)
        return "mkl" + (f" {version.group(1)}" if version else "")
    found = re.search(r"BLAS_INFO=(\w+)", config)
    return found.group(1) if found else ""


def settings_key(machine: dict | None) -> str | None:
    """What must agree between seeds for their numbers to be comparable bit for bit, as one readable string:
    ``"2 threads (1 inter-op), ATen AVX512, openblas SkylakeX"``; None for a record that did not keep its settings."""
    if not machine:
        return None
    kernels = ", ".join(f"{b.get('internal_api')} {b.get('architecture')}" for b in machine.get("blas") or [])
    return (f"{machine.get('torch_threads')} threads ({machine.get('torch_interop_threads')} inter-op), "
            f"ATen {machine.get('cpu_capability')}" + (f", {kernels}" if kernels else ""))


def mixed_settings_note(records: Iterable) -> str:
    """One Markdown paragraph naming each row whose ok seeds ran on different machine settings (threads or
    kernels), or ``""``. Seeds with no settings kept (older records) are counted as unknown, not as a difference."""
    by_row: dict[str, dict[str, list[int]]] = {}
    unknown: dict[str, int] = {}
    for r in records:
        if not r.ok:
            continue
        key = settings_key(getattr(r, "machine", None))
        if key is None:
            unknown[r.row] = unknown.get(r.row, 0) + 1
        else:
            by_row.setdefault(r.row, {}).setdefault(key, []).append(r.seed)
    mixed = {row: keys for row, keys in by_row.items() if len(keys) > 1}
    if not mixed:
        return ""
    parts = []
    for row, keys in sorted(mixed.items()):
        seeds = "; ".join(f"seed {', '.join(map(str, sorted(s)))}: {k}" for k, s in sorted(keys.items()))
        extra = f"; {unknown[row]} seed(s) unknown" if unknown.get(row) else ""
        parts.append(f"`{row}` ({seeds}{extra})")
    return (f"**{len(mixed)} row(s) ran their seeds on different machine settings** (threads or BLAS/ATen kernels: "
            "another summation order, so not bit for bit the numbers one setting gives): " + ", ".join(parts) + ".")
