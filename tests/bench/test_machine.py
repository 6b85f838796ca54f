"""Machine settings in RunRecords (threads, BLAS and ATen kernels): kept by new records, unknown for old ones, and
a table notes a row whose seeds ran on different settings."""

import json

import torch
from toy import write_toy_table

from mirbench.bench.machine import ENV_VARS, machine_settings, mixed_settings_note, settings_key
from mirbench.bench.records import RunRecord, read_record, write_record
from mirbench.bench.spec import load_spec
from mirbench.bench.tables import build_report
from mirbench.paths import PROJECT_ROOT


def test_machine_settings_name_threads_kernels_and_environment(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    m = machine_settings()
    assert m["torch_threads"] == torch.get_num_threads() and m["torch_interop_threads"] >= 1
    assert m["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(m["env"]) == set(ENV_VARS) and m["env"]["OPENBLAS_CORETYPE"] == "Haswell"
    assert all({"internal_api", "version", "architecture"} <= set(b) for b in m["blas"])
    json.dumps(m)  # a record is JSON


def test_a_new_record_keeps_its_settings_and_an_old_one_reads_as_unknown(tmp_path):
    rec = RunRecord("toy_table", "a", 0, "default", metrics={"test/acc": 0.5})
    assert rec.machine["torch_threads"] == torch.get_num_threads()
    path = write_record(rec, tmp_path)
    assert read_record(path).machine == rec.machine
    old = json.loads(path.read_text())
    del old["machine"]  # as every record written before machine settings were kept
    path.write_text(json.dumps(old))
    assert read_record(path).machine == {} and settings_key(read_record(path).machine) is None


def test_committed_records_read_as_unknown_and_the_capture_is_not_number_code(tmp_path):
    paths = sorted((PROJECT_ROOT / "results").glob("*/runs/default/*.json"))
    for p in paths[:: max(1, len(paths) // 8)]:  # written before settings were kept: still read, settings unknown
        rec = read_record(p)
        assert rec is not None and isinstance(rec.machine, dict)
    # bench.machine only records: a record's code hash leaves it out, so keeping settings makes no record stale
    rec = read_record(write_record(RunRecord("toy_table", "a", 0, "default"), tmp_path))
    assert "bench/machine.py" not in rec.code_files and not rec.stale


def _seed(row: str, seed: int, threads: int, arch: str = "SkylakeX") -> RunRecord:
    rec = RunRecord("toy_table", row, seed, "default", metrics={"test/acc": 0.7, "test/loss": 0.5})
    rec.machine = {**rec.machine, "torch_threads": threads,
                   "blas": [{"internal_api": "openblas", "version": "0.3", "architecture": arch, "num_threads": 1}]}
    return rec


def test_the_note_names_rows_whose_seeds_ran_on_different_settings():
    same = [_seed("a", 0, 2), _seed("a", 1, 2)]
    assert mixed_settings_note(same) == ""
    unknown = RunRecord.from_dict({**_seed("a", 2, 1).to_dict(), "machine": {}})
    assert mixed_settings_note(same + [unknown]) == ""  # unknown is not a difference
    note = mixed_settings_note(same + [_seed("a", 2, 1), _seed("b", 0, 2), _seed("b", 1, 2, "Haswell")])
    assert "2 row(s)" in note and "`a` (seed 2: 1 threads" in note and "openblas Haswell" in note


def test_the_table_shows_the_note(tmp_path):
    spec = load_spec(write_toy_table(tmp_path))
    results = tmp_path / "results"
    for rec in (_seed("slow", 0, 1), _seed("slow", 1, 2), _seed("fast", 0, 2)):
        write_record(rec, results)
    md = build_report(spec, results_root=results).markdown()
    assert "ran their seeds on different machine settings" in md and "`slow` (seed 0: 1 threads" in md
