"""The ledger at province scale: import a year of activities, then review it, against a plain pandas group-by.

A generated province of ``--members`` members (default 20,000) with 10 planned constituents each
and a year of activities (about 48 rows per member: ~1M rows) is

1. validated and imported into a fresh embedded store (one transaction);
2. read back (the review's columns) and scored by :func:`solvers.review.review` (every item with
   the ledger ids behind it);
3. scored the obvious way in the same run: one boolean column per rule, ``groupby("member_id").sum()``,
   caps by ``clip``, totals (no traceability); the two must agree to 1e-9 for every member.

Run: ``PYTHONPATH=. python benchmarks/ledger.py [--members 20000] [--postgis URL] [--json]``.
Timings on a shared machine vary with its load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import pandas as pd

from geo_service.app.synthetic.ledger import generate_year
from geo_service.core.ledger import validate_activities
from geo_service.core.ledger_coverage import Quotas
from geo_service.core.store import open_store
from solvers.review import RULES, ReviewRules, review, rule_masks


def obvious_scores(a: pd.DataFrame, rules: ReviewRules, year: int) -> pd.Series:
    """Scores the way an analyst would write them with pandas (totals only)."""
    a = a[a["date"].str.startswith(str(year))]
    flags = pd.DataFrame(rule_masks(a), index=a.index).astype(int)
    flags["member_id"] = a["member_id"].to_numpy()
    counts = flags.groupby("member_id")[list(RULES)].sum()
    pts = counts * pd.Series(rules.points)[list(RULES)].fillna(0.0)
    caps = pd.Series({k: rules.caps.get(k, np.inf) for k in RULES})
    pts = pts.clip(lower=-caps, upper=caps, axis=1)
    q = Quotas(**rules.quotas)
    c = a[a["kind"] == "contact"]
    g = {"constituents": c.dropna(subset=["constituent_id"]).groupby("member_id")["constituent_id"].nunique(),
         "people": c.groupby("member_id")["people"].sum(),
         "receptions": a[a["kind"] == "reception"].groupby("member_id").size(),
         "consultations": a[a["kind"] == "consultation"].groupby("member_id").size(),
         "opinions": a[a["kind"] == "opinion"].groupby("member_id").size()}
    t = q.targets(f"{year}-01-01", f"{year}-12-31")
    met = pd.concat([g[k].reindex(pts.index).fillna(0) >= t[k] for k in t], axis=1).all(axis=1)
    return rules.base + pts.sum(axis=1) + met * rules.bonus


def run(members: int = 20_000, year: int = 2027, seed: int = 7, location: str | None = None) -> dict:
    ids = [f"M{i:05d}" for i in range(members)]
    links = pd.DataFrame({"constituent_id": [f"C{i:07d}" for i in range(members * 10)],
                          "member_id": np.repeat(ids, 10)})
    t0 = time.perf_counter()
    raw = generate_year(ids, year, links=links, village_ids=[f"V{i}" for i in range(members // 4 or 1)],
                        station_ids=[f"S{i}" for i in range(members // 60 or 1)], seed=seed)
    t_gen = time.perf_counter() - t0
    store = open_store(location or tempfile.mkdtemp(prefix="ledger-bench-"))
    led = store.ledger()
    t0 = time.perf_counter()
    valid, _ = validate_activities(raw)
    t_val = time.perf_counter() - t0
    led.add("province", valid, recorded_by="bench", validated=True)
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = led.frame("province", start=f"{year}-01-01", end=f"{year}-12-31",
                      columns=("kind", "member_id", "date", "status", "satisfaction", "people", "constituent_id"))
    t_read = time.perf_counter() - t0
    rules = ReviewRules()
    t0 = time.perf_counter()
    res = review(frame, year, member_ids=ids, rules=rules)
    t_review = time.perf_counter() - t0
    t0 = time.perf_counter()
    obvious = obvious_scores(frame, rules, year)
    t_obvious = time.perf_counter() - t0
    ours = pd.Series({m["member_id"]: m["score"] for m in res.members})
    diff = float((ours.reindex(obvious.index) - obvious).abs().max())
    return {"members": members, "rows": len(valid), "generate_s": round(t_gen, 2), "validate_s": round(t_val, 2),
            "import_s": round(t_import, 2), "read_s": round(t_read, 2), "review_s": round(t_review, 2),
            "obvious_groupby_s": round(t_obvious, 2), "max_score_difference": diff,
            "items": sum(len(m["items"]) for m in res.members)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--postgis", default=None, help="a postgresql:// URL instead of a temporary embedded store")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = run(a.members, location=a.postgis)
    if a.json:
        print(json.dumps(out))
        return
    for k, v in out.items():
        print(f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
