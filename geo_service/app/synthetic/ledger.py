"""A generated year of ledger activities, reproducible from a seed (tests and benchmarks).

:func:`generate_year` writes what a committee's members might record in a year: contacts with
their planned constituents (most links reached, some never), with villages, ways, satisfaction
when asked and 人次; a duty per platform month held, missed or swapped; reception days with
visitors; quarterly consultations; 社情民意 items and their fate. Vectorised: a province of
20,000 members (about a million rows) takes a few seconds. The rows are fictitious.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo_service.core.ledger import FIELDS, OPINION_STATUSES, WAYS


def _dates(rng: np.random.Generator, year: int, n: int) -> np.ndarray:
    start = np.datetime64(f"{year}-01-01")
    days = 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365
    return (start + rng.integers(0, days, n).astype("timedelta64[D]")).astype(str)


def generate_year(member_ids: Sequence[str], year: int = 2027, *, links: pd.DataFrame | None = None,
                  village_ids: Sequence[str] = (), station_ids: Sequence[str] = (),
                  township_ids: Sequence[str] = (), contacts_per_member: int = 30,
                  reach_share: float = 0.8, seed: int = 7) -> pd.DataFrame:
    """A year of activities of ``member_ids`` (columns :data:`geo_service.core.ledger.FIELDS`).

    Parameters
    ----------
    member_ids : sequence of str
        The members.
    year : int
        The year of the dates.
    links : DataFrame, optional
        Planned links (``constituent_id``, ``member_id``); a member's contacts go to a random
        ``reach_share`` of its constituents (others stay unreached), else to villages.
    village_ids, station_ids, township_ids : sequence of str
        Where contacts without a constituent, duties/receptions and consultations happen.
    contacts_per_member : int
        Mean contacts per member (Poisson).
    reach_share : float
        Share of planned links that get contacts, 0..1.
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        Ready for :meth:`geo_service.core.store.ledger.Ledger.add`.
    """
    if not 0 <= reach_share <= 1:
        raise ValueError(f"reach_share must be within 0..1, got {reach_share!r}")
    rng = np.random.default_rng(seed)
    members = np.asarray(member_ids, dtype=object)
    M = len(members)
    vil = np.asarray(village_ids or ["V0"], dtype=object)
    sta = np.asarray(station_ids or ["S0"], dtype=object)
    tow = np.asarray(township_ids or ["T0"], dtype=object)
    parts = [_contacts(rng, members, year, links, vil, contacts_per_member, reach_share)]
    # duties: each member on duty some months; 85 % held, 10 % missed, 5 % swapped
    n = M * 3
    st = rng.choice(["held", "missed", "swapped"], n, p=[0.85, 0.10, 0.05])
    parts.append(pd.DataFrame({"kind": "duty", "member_id": np.repeat(members, 3), "station_id": rng.choice(sta, n),
                               "date": _dates(rng, year, n), "status": st,
                               "swapped_with": np.where(st == "swapped", rng.choice(members, n), None)}))
    n = M * 10  # reception days, about 10 a year
    parts.append(pd.DataFrame({"kind": "reception", "member_id": rng.choice(members, n), "station_id": rng.choice(sta, n),
                               "date": _dates(rng, year, n), "visitors": rng.integers(0, 12, n)}))
    n = M * 3
    parts.append(pd.DataFrame({"kind": "consultation", "member_id": rng.choice(members, n),
                               "township_id": rng.choice(tow, n), "date": _dates(rng, year, n),
                               "attendees": rng.integers(5, 30, n), "topic": "协商议题", "outcome": "协商意见"}))
    n = M * 2
    parts.append(pd.DataFrame({"kind": "opinion", "member_id": rng.choice(members, n), "date": _dates(rng, year, n),
                               "topic": "社情民意", "status": rng.choice(np.asarray(OPINION_STATUSES), n)}))
    df = pd.concat(parts, ignore_index=True).reindex(columns=list(FIELDS))
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def generate_year_for(ds, year: int = 2027, *, links: pd.DataFrame | None = None, **kw) -> pd.DataFrame:
    """:func:`generate_year` for the members of dataset ``ds``, at its villages, stations and
    townships (keyword arguments as there)."""
    def ids(layer: str) -> list[str]:
        lay = ds.layers.get(layer)
        return lay["id"].astype(str).tolist() if lay is not None and len(lay) else []

    return generate_year(ids("members"), year, links=links, village_ids=ids("villages"), station_ids=ids("stations"),
                         township_ids=ids("townships"), **kw)


def _contacts(rng: np.random.Generator, members: np.ndarray, year: int, links: pd.DataFrame | None,
              vil: np.ndarray, per_member: int, reach_share: float) -> pd.DataFrame:
    M = len(members)
    n_m = rng.poisson(per_member, M)
    who = np.repeat(members, n_m)
    n = len(who)
    cons = np.full(n, None, dtype=object)
    if links is not None and len(links):
        lk = links[["constituent_id", "member_id"]].dropna().astype(str)
        lk = lk[rng.random(len(lk)) < reach_share]
        by_m = lk.groupby("member_id")["constituent_id"].apply(np.asarray)
        pos = pd.Series(np.arange(n)).groupby(who).cumcount().to_numpy() if n else np.zeros(0, int)
        for i, m in enumerate(who):
            c = by_m.get(m)
            if c is not None and len(c):
                cons[i] = c[pos[i] % len(c)]
    way = rng.choice(np.asarray(WAYS), n, p=[0.35, 0.15, 0.15, 0.15, 0.15, 0.05])
    sat = rng.choice([1, 2, 3, 4, 5], n, p=[0.03, 0.07, 0.2, 0.4, 0.3]).astype(object)
    sat[rng.random(n) < 0.5] = None  # asked half the time
    return pd.DataFrame({"kind": "contact", "member_id": who, "constituent_id": cons,
                         "village_id": np.where(cons == None, rng.choice(vil, n), None),  # noqa: E711 - elementwise
                         "date": _dates(rng, year, n), "way": way, "topic": "走访了解情况", "satisfaction": sat,
                         "people": rng.integers(1, 4, n)})


__all__ = ["generate_year", "generate_year_for"]
