"""The settings file is read by pydantic-settings' TOML, JSON and .env sources."""

from __future__ import annotations

import pytest

from api.settings import Settings


def test_dotenv_file_with_and_without_the_prefix(tmp_path, monkeypatch):
    monkeypatch.delenv("GEO_SERVICE_JOB_WORKERS", raising=False)
    f = tmp_path / "geo.env"
    f.write_text("# a comment\nGEO_SERVICE_DATA_DIR=/srv/geo\njob_workers=3\napi_keys=key-for-viewers:viewer\n")
    s = Settings(settings_file=str(f))
    assert s.data_dir == "/srv/geo" and s.job_workers == 3
    assert s.api_keys == {"key-for-viewers": "viewer"}
    monkeypatch.setenv("GEO_SERVICE_JOB_WORKERS", "5")
    assert Settings(settings_file=str(f)).job_workers == 5  # the environment beats the file


def test_json_file_and_unknown_keys(tmp_path):
    f = tmp_path / "geo.json"
    f.write_text('{"data_dir": "/j", "api_keys": {"key-for-admins": "admin"}, "not_a_setting": 1}')
    s = Settings(settings_file=str(f))
    assert s.data_dir == "/j" and s.api_keys == {"key-for-admins": "admin"}


def test_bad_settings_files_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="settings_file: no file at"):
        Settings(settings_file=str(tmp_path / "missing.toml"))
    f = tmp_path / "geo.toml"
    f.write_text('job_workers = 0\n')
    with pytest.raises(ValueError, match="job_workers"):
        Settings(settings_file=str(f))
    f.write_text('[api_keys]\n"short" = "admin"\n')
    with pytest.raises(ValueError, match="8 characters"):
        Settings(settings_file=str(f))
