"""放假调休 from the chinese-calendar package; a data/holidays file overrides a year."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from solvers.roster.calendar import load_holidays, package_holiday_years, reception_date


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_working_days_match_the_official_arrangement(year):
    hol = load_holidays([year])
    assert hol.missing_years == [] and year in package_holiday_years()
    d = dt.date(year, 1, 1)
    while d.year == year:
        assert hol.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += dt.timedelta(days=1)


def test_names_are_chinese():
    hol = load_holidays([2025])
    assert hol.off[dt.date(2025, 10, 1)] == "国庆节"
    assert hol.off[dt.date(2025, 1, 29)] == "春节"
    assert hol.workdays[dt.date(2025, 1, 26)] == "春节调休上班"  # a Sunday worked


def test_a_file_overrides_the_package(tmp_path):
    (tmp_path / "2025.csv").write_text("# local arrangement\ndate,type,name\n2025-03-03,holiday,县庆\n",
                                       encoding="utf-8")
    hol = load_holidays([2025, 2026], directory=tmp_path)
    assert not hol.is_working_day(dt.date(2025, 3, 3))
    assert dt.date(2025, 10, 1) not in hol.off  # the file replaces the whole year
    assert dt.date(2026, 10, 1) in hol.off  # other years still from the package
    # 1st Monday of March 2025 is the county's day off: moved to Tuesday
    assert reception_date("2025-03", 0, 1, hol) == dt.date(2025, 3, 4)


def test_a_year_without_data_is_reported():
    assert load_holidays([2031]).missing_years == [2031]
    assert 2027 in load_holidays([2027]).incomplete_years  # the bundled override until the notice is out
