"""Our numbers against the published ones (and the golden ones): per (row, column) mean, std, n, delta, status.

All values are in printed units (metric x column scale). ``std`` is the sample standard deviation (ddof=1;
0 when n = 1); ``lo``/``hi`` the 95 % interval over test items and seeds (:mod:`mirbench.bench.stats`). A ``check`` cell is ``ok`` when |ours - published| <= tol_abs + tol_rel * |published|.
Which direction is better comes from the column (``higher_is_better``), never from the CSV.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mirbench.bench.records import RunRecord
from mirbench.bench.spec import DEFAULT_PROFILE, SpecError, TableSpec
from mirbench.bench.stats import holm, judge, spread, two_sample_p

REF_COLUMNS = ["table_id", "row", "column", "value", "unit", "source", "tol_abs", "tol_rel", "status", "note"]
REF_STATUSES = ("check", "known_gap", "not_run")
CELL_STATUSES = ("ok", "miss", "known_gap", "unchecked", "not_run", "no_published")
GOLDEN_STATS = ["se", "df", "n"]  # golden lines: standard error of the frozen mean over seeds, its dof, seeds
GOLDEN_ALPHA = 0.01  # a statistically equal re-run misses some line of a table with probability <= 1 %


def load_reference(path: Path | None, spec: TableSpec, profile: str | None = None) -> pd.DataFrame:
    """A published or golden CSV, validated against the spec; errors name the file and line.

    An optional ``profile`` column (golden numbers: which profile produced them; default ``default``) selects
    the lines for ``profile``; ``profile=None`` keeps every line. A missing file is an empty frame.
    """
    cols = REF_COLUMNS + ["profile"] + GOLDEN_STATS
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=cols)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("table_id", "row", "column", "value", "status") if c not in df.columns]
    if missing:
        raise SpecError(f"{path}: missing column(s) {missing}; expected {REF_COLUMNS}")
    for c in cols:
        if c not in df.columns:
            df[c] = DEFAULT_PROFILE if c == "profile" else ""  # se, df, n: absent in published / old golden CSVs
    df["profile"] = df["profile"].replace("", DEFAULT_PROFILE)
    rows, columns = {r.id for r in spec.rows}, {c.id for c in spec.columns}
    for i, line in df.iterrows():
        where = f"{path}: line {int(i) + 2}"
        if line.table_id != spec.id:
            raise SpecError(f"{where}: table_id {line.table_id!r} is not {spec.id!r}")
        if line.row not in rows:
            raise SpecError(f"{where}: unknown row {line.row!r}; known: {sorted(rows)}")
        if line.column not in columns:
            raise SpecError(f"{where}: unknown column {line.column!r}; known: {sorted(columns)}")
        if line.status not in REF_STATUSES:
            raise SpecError(f"{where}: status {line.status!r} is not one of {list(REF_STATUSES)}")
        if line.profile not in spec.profile_names:
            raise SpecError(f"{where}: unknown profile {line.profile!r}; known: {spec.profile_names}")
        for c in ("value", "tol_abs", "tol_rel", *GOLDEN_STATS):
            try:
                float(line[c] or "nan")
            except ValueError:
                raise SpecError(f"{where}: {c} {line[c]!r} is not a number") from None
        if line.status == "check" and not line.value:
            raise SpecError(f"{where}: a 'check' line needs a value")
        if line.status != "not_run" and line.value and not math.isfinite(float(line.value)):
            raise SpecError(f"{where}: value {line.value!r} is not finite; a {line.status!r} line needs a number "
                            "(write status not_run for a value the paper does not give)")
    dup = df[df.duplicated(["row", "column", "profile"], keep=False)]
    if len(dup):
        raise SpecError(f"{path}: duplicate (row, column) line(s): {dup[['row', 'column']].values.tolist()}")
    for c in ("value", "tol_abs", "tol_rel", *GOLDEN_STATS):
        df[c] = df[c].map(lambda x: float(x) if x else math.nan).astype(float)
    df[["tol_abs", "tol_rel"]] = df[["tol_abs", "tol_rel"]].fillna(0.0)
    if profile is not None:
        df = df[df.profile == (profile or DEFAULT_PROFILE)]
    return df[cols].reset_index(drop=True)


def aggregate(spec: TableSpec, records: list[RunRecord],
              replicates: dict[tuple[str, int], dict[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """Per (row, column): mean, std (ddof=1), n, the per-run values and the 95 % interval (``half``, ``lo``,
    ``hi``, ``sources``; :mod:`mirbench.bench.stats`), in printed units; ok records only.

    ``replicates``: ``{(row, seed): {metric: (B,)}}`` bootstrap replicates of the records (missing: the
    interval covers the seeds only). ``spread`` holds the :class:`~mirbench.bench.stats.Spread` for claims.
    """
    replicates = replicates or {}
    by_row: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.ok:
            by_row.setdefault(r.row, []).append(r)

    def raw(row_id: str, col_id: str) -> tuple[list[float], list[np.ndarray | None]]:
        metric = spec.metric_of(row_id, col_id)
        vals, reps = [], []
        for r in by_row.get(spec.run_row(row_id), []):
            v = r.metrics.get(metric, math.nan)
            if v is not None and math.isfinite(v):
                vals.append(float(v))
                reps.append(replicates.get((r.row, r.seed), {}).get(metric))
        return vals, reps

    out = []
    for row in spec.rows:
        for col in spec.columns:
            vals, reps = raw(row.id, col.id)
            if col.relative_to:
                ref, _ = raw(col.relative_to, col.id)
                vals = [v / float(np.mean(ref)) for v in vals] if ref and np.mean(ref) != 0 else []
                reps = [None] * len(vals)
            vals = [v * col.scale for v in vals]
            reps = [None if r is None else np.asarray(r, dtype=np.float64) * col.scale for r in reps]
            sp = spread(vals, reps)
            std = math.sqrt(sp.seed_var) if sp.n > 1 else (0.0 if sp.n else math.nan)
            out.append(dict(row=row.id, column=col.id, mean=sp.mean, std=std, n=sp.n, values=vals, half=sp.half,
                            lo=sp.mean - sp.half, hi=sp.mean + sp.half, sources=sp.sources, spread=sp))
    return pd.DataFrame(out, columns=["row", "column", "mean", "std", "n", "values", "half", "lo", "hi", "sources",
                                      "spread"])


def verdict(delta: float, higher_is_better: bool) -> str:
    """'better', 'worse' or 'equal' for ours - reference = ``delta``."""
    if not math.isfinite(delta) or delta == 0:
        return "equal" if delta == 0 else ""
    return "better" if (delta > 0) == higher_is_better else "worse"


def within(ours: float, ref: float, tol_abs: float, tol_rel: float) -> bool:
    return abs(ours - ref) <= tol_abs + tol_rel * abs(ref) + 1e-12 * max(1.0, abs(ref))


def cell_status(mean: float, n: int, ref: float, ref_status: str, checked: bool, tol_abs: float, tol_rel: float,
                missing: str = "no_published") -> str:
    if ref_status == "not_run" or n == 0:
        return "not_run"
    if ref is None or not math.isfinite(ref):
        return missing
    if ref_status == "known_gap":
        return "known_gap"
    if not checked:
        return "unchecked"
    return "ok" if within(mean, ref, tol_abs, tol_rel) else "miss"


def compare(spec: TableSpec, agg: pd.DataFrame, published: pd.DataFrame | None = None,
            golden: pd.DataFrame | None = None, check_published: bool = True, paper_data: bool = False) -> pd.DataFrame:
    """Join aggregates with published and golden lines; adds delta, verdict, status and best flags.

    With ``check_published=False`` (a profile at another scale) a ``check`` cell reads ``unchecked``, not ok/miss.
    With ``paper_data=True`` (a profile on the paper's own data sets) ``known_gap`` lines, whose gap is the stand-in
    data's, are checked like ``check`` lines and their note is dropped.
    """
    pub = {(p.row, p.column): p for p in (published if published is not None else pd.DataFrame()).itertuples()}
    gold = {(g.row, g.column): g for g in (golden if golden is not None else pd.DataFrame()).itertuples()}
    out = []
    for a in agg.itertuples():
        col = spec.column(a.column)
        p, g = pub.get((a.row, a.column)), gold.get((a.row, a.column))
        ref = p.value if p is not None else math.nan
        gref = g.value if g is not None else math.nan
        ref_status = p.status if p is not None else "check"
        gap_lifted = paper_data and ref_status == "known_gap"
        ref_status = "check" if gap_lifted else ref_status
        delta = a.mean - ref if a.n else math.nan
        gdelta = a.mean - gref if a.n else math.nan
        out.append(dict(
            row=a.row, column=a.column, mean=a.mean, std=a.std, n=a.n, values=a.values, half=a.half, lo=a.lo,
            hi=a.hi, sources=a.sources, spread=a.spread, published=ref,
            unit=(p.unit if p is not None and p.unit else col.unit), source=p.source if p is not None else "",
            tol_abs=p.tol_abs if p is not None else 0.0, tol_rel=p.tol_rel if p is not None else 0.0,
            ref_status=ref_status if p is not None else "", note=p.note if p is not None and not gap_lifted else "",
            delta=delta, verdict=verdict(delta, col.higher_is_better),
            status=cell_status(a.mean, a.n, ref, ref_status, check_published,
                               p.tol_abs if p is not None else 0.0, p.tol_rel if p is not None else 0.0),
            golden=gref, golden_delta=gdelta, golden_tol=g.tol_abs if g is not None else math.nan,
            golden_status=cell_status(a.mean, a.n, gref, g.status if g is not None else "check", True,
                                      g.tol_abs if g is not None else 0.0, g.tol_rel if g is not None else 0.0,
                                      missing="no_golden"),
            golden_p=math.nan, **_golden_test(a, g, gdelta)))
    df = pd.DataFrame(out)
    _golden_holm(df)
    df["best"] = _best(spec, df, "mean")
    df["published_best"] = _best(spec, df, "published")
    return df


def _golden_test(a, g, gdelta: float) -> dict:
    """p of a golden line with its frozen se (two-sample test, :func:`~mirbench.bench.stats.two_sample_p`)."""
    if g is None or not math.isfinite(g.se) or g.status != "check" or not a.n:
        return dict(golden_p_raw=math.nan, golden_se=math.nan, golden_dof=math.nan)
    p, se, dof = two_sample_p(gdelta, g.se, g.n, a.spread.seed_var, a.n, g.tol_abs + g.tol_rel * abs(g.value))
    return dict(golden_p_raw=float(p), golden_se=float(se), golden_dof=float(dof))


def _golden_holm(df: pd.DataFrame, alpha: float = GOLDEN_ALPHA) -> None:
    """Lines with a frozen se: miss by Holm's step-down over the table's tested lines (family-wise rate
    ``alpha``); ``golden_tol`` becomes the band a line must stay within for the table to pass (Bonferroni)."""
    if "golden_p_raw" not in df or not df.golden_p_raw.notna().any():
        return
    tested = df.golden_p_raw.notna()
    miss = holm(df.golden_p_raw.to_numpy(), alpha)
    df.loc[tested, "golden_status"] = np.where(miss[tested.to_numpy()], "miss", "ok")
    df.loc[tested, "golden_p"] = df.loc[tested, "golden_p_raw"]
    from scipy.stats import t as student_t
    q = student_t.ppf(1 - alpha / (2 * int(tested.sum())), df.loc[tested, "golden_dof"].clip(lower=1e-9))
    df.loc[tested, "golden_tol"] = np.maximum(q * df.loc[tested, "golden_se"], df.loc[tested, "golden_tol"])


def _best(spec: TableSpec, df: pd.DataFrame, key: str) -> pd.Series:
    best = pd.Series(False, index=df.index)
    for col in spec.columns:
        sel = df[(df.column == col.id) & df[key].notna()]
        if len(sel):
            top = sel[key].max() if col.higher_is_better else sel[key].min()
            best[sel.index[np.isclose(sel[key], top, rtol=0, atol=1e-12)]] = True
    return best


def evaluate_claims(spec: TableSpec, agg: pd.DataFrame, profile: str | None = None) -> pd.DataFrame:
    """Each claim "greater > than + margin": ``held``, ``contradicted`` or ``inconclusive`` by the 95 % interval
    of the (paired) difference (:func:`mirbench.bench.stats.judge`), ``not run``, or ``skipped`` (the claim is
    restricted to other profiles). ``effect`` = lhs - rhs - margin with its interval ``[effect_lo, effect_hi]``."""
    cells = {(a.row, a.column): a for a in agg.itertuples()}
    profile = profile or DEFAULT_PROFILE
    out = []
    for c in spec.claims:
        a, b = cells.get((c.greater.row, c.greater.column)), cells.get((c.than.row, c.than.column))
        lhs = a.mean if a is not None and a.n else math.nan
        rhs = b.mean if b is not None and b.n else math.nan
        effect = lo = hi = math.nan
        if c.profiles and profile not in c.profiles:
            status = "skipped"
        elif not (math.isfinite(lhs) and math.isfinite(rhs)):
            status = "not run"
        else:
            j = judge(a.spread, b.spread, c.margin)
            status, effect, lo, hi = j.status, j.effect, j.lo, j.hi
        out.append(dict(id=c.id, text=c.text, greater=f"{c.greater.row}.{c.greater.column}",
                        than=f"{c.than.row}.{c.than.column}", column=c.greater.column, lhs=lhs, rhs=rhs, margin=c.margin,
                        required=c.required, status=status, effect=effect, effect_lo=lo, effect_hi=hi))
    return pd.DataFrame(out, columns=CLAIM_COLUMNS)


CLAIM_COLUMNS = ["id", "text", "greater", "than", "column", "lhs", "rhs", "margin", "required", "status", "effect", "effect_lo",
                 "effect_hi"]
CLAIM_STATUSES = ("held", "contradicted", "inconclusive")
