"""Service settings: environment variables (prefix ``GEO_SERVICE_``) over an optional settings file.

Precedence, highest first: keyword arguments to :class:`Settings`, environment variables
(``GEO_SERVICE_DATA_DIR=/srv/geo``), the settings file, then the defaults below. The settings file
is named by ``GEO_SERVICE_SETTINGS_FILE`` (or ``Settings(settings_file=...)``) and may be TOML,
JSON or a ``.env`` file, read by pydantic-settings' own sources (:func:`file_sources`); its keys are
the field names without the prefix (a ``.env`` file may keep it)::

    # geo-service.toml
    data_dir = "/srv/geo-service"
    anonymous_nearest = true
    [api_keys]
    "k3y-for-the-gis-team" = "viewer"
    "k3y-for-planners" = "planner"

API keys map a secret key to a role (``viewer`` < ``planner`` < ``admin``). With no key
configured the service runs "open" for loopback clients only (see :mod:`api.auth`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    JsonConfigSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Role = Literal["viewer", "planner", "admin"]
#: roles from least to most; a ``member`` (委员, keys in ``member_keys``) ranks above a viewer and
#: below a planner, and sees personal fields only of their own constituents
ROLES: tuple[str, ...] = ("viewer", "member", "planner", "admin")

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")

ENV_PREFIX = "GEO_SERVICE_"
SETTINGS_FILE_ENV = ENV_PREFIX + "SETTINGS_FILE"


def file_sources(settings_cls: type[BaseSettings], path: str | os.PathLike | None
                 ) -> tuple[PydanticBaseSettingsSource, ...]:
    """The pydantic-settings sources reading the settings file ``path`` (none without one).

    ``.toml`` and ``.json`` files hold the field names as keys; any other file is read as a
    ``.env`` file whose keys may carry the ``GEO_SERVICE_`` prefix or not (the prefixed one wins).

    Raises
    ------
    ValueError
        When ``path`` names no file.
    """
    if not path:
        return ()
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"settings_file: no file at {p} (setting {SETTINGS_FILE_ENV})")
    suffix = p.suffix.lower()
    if suffix == ".toml":
        return (TomlConfigSettingsSource(settings_cls, toml_file=p),)
    if suffix == ".json":
        return (JsonConfigSettingsSource(settings_cls, json_file=p, json_file_encoding="utf-8"),)
    return (DotEnvSettingsSource(settings_cls, env_file=p, env_file_encoding="utf-8", env_prefix=ENV_PREFIX),
            DotEnvSettingsSource(settings_cls, env_file=p, env_file_encoding="utf-8", env_prefix=""))


def _key_pairs(v: Any, usage: str, value_required: bool = True) -> Any:
    """``{key: value}`` from JSON text or ``"key1:value1,key2:value2"`` (other values as they are)."""
    if not isinstance(v, str):
        return v
    v = v.strip()
    if not v:
        return {}
    if v.startswith("{"):
        return json.loads(v)
    out = {}
    for item in v.split(","):
        key, _, value = item.strip().rpartition(":")
        if not key or (value_required and not value):
            raise ValueError(usage)
        out[key] = value
    return out


class Settings(BaseSettings):
    """Everything the HTTP service can be told. Sizes in bytes, times in seconds."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    settings_file: str | None = Field(None, description="TOML/JSON/.env file read under the environment")
    data_dir: str = Field("var", description="embedded store directory (created if absent)")
    database_url: str | None = Field(None, description="postgresql:// URL; overrides data_dir when set")
    load_demo: bool = Field(True, description="store the demo county as 'demo' when the store is empty")

    api_keys: Annotated[dict[str, Role], NoDecode] = Field(default_factory=dict,
                                      description="API key -> role (viewer, planner, admin)")
    member_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="API key -> member id: each member's own key (role member; "
                                          "'key:M001,key2:M002' or JSON)")
    anonymous_nearest: bool = Field(False, description="let callers without a key use nearest lookups")
    local_open: bool = Field(True, description="with no API key configured, treat loopback clients as "
                                               "admin (the local demo); ignored once any key is set")
    session_max_age_s: int = Field(8 * 3600, ge=60, le=30 * 86400,
                                   description="lifetime of a browser login (the session cookie)")
    cookie_secure: bool | None = Field(None, description="mark the session cookie Secure; default: when "
                                                         "the request came over https")
    trusted_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="extra origins (https://host) whose pages may POST/DELETE with the "
                                          "session cookie, for a proxy that rewrites Host; comma-separated")

    trusted_hosts: Annotated[list[str] | None, NoDecode] = Field(
        None, description="Host header values this service answers to (400 otherwise): 'name' (any port), "
                          "'name:port', '*.example.cn' (subdomains) or '*'; comma-separated. Default: the "
                          "loopback names (127.0.0.1, localhost, [::1]) with no API key configured (the local "
                          "demo, against DNS rebinding), any host once keys are set")
    public_base_url: str | None = Field(None, description="external URL of the service (https://geo.example.cn"
                                                          "/prefix) for absolute links; default: relative links")
    etag_secret: str | None = Field(None, min_length=16, description="HMAC key of feature ETags; default: "
                                    "generated once and kept in <data_dir>/etag-secret (replicas sharing a "
                                    "database need the same value)")
    auth_failures_per_minute: int = Field(10, ge=0, description="failed API keys or logins per client IP and "
                                          "minute before 429 (0: no limit)")

    tianditu_key: str | None = Field(None, description="Tianditu developer key ('tk'): the maps then offer "
                                                     "Tianditu tiles (tiles=tianditu); it is sent to browsers")

    max_upload_bytes: int = Field(200 * 2**20, gt=0, description="largest dataset upload accepted")
    max_body_bytes: int = Field(96 * 2**20, gt=0, description="largest JSON request body accepted")
    max_batch_points: int = Field(1_000_000, gt=0, description="most points in one nearest batch")
    max_k: int = Field(50, gt=0, description="largest k for nearest lookups")
    max_page_size: int = Field(10_000, gt=0, description="largest 'limit' of a feature page")
    # limits against hostile input: see docs/security.md, "Limits"
    max_nearest_answer_bytes: int = Field(256 * 2**20, gt=0, description="largest estimated answer of one "
                                          "nearest batch (points x k x bytes per result); beyond: 413")
    max_unpacked_bytes: int = Field(256 * 2**20, gt=0, description="most bytes an upload may unpack to "
                                    "(zip entries and XLSX parts, measured while reading)")
    max_table_rows: int = Field(500_000, gt=0, description="most data rows in one CSV file, XLSX sheet or "
                                                           "vector layer of an upload")
    max_problems_listed: int = Field(100, ge=1, le=10_000, description="validation problems listed in an "
                                     "error body (the rest are counted by code)")

    job_workers: int = Field(1, ge=1, le=32, description="optimisation jobs solved at once")
    job_queue_size: int = Field(4, ge=0, description="jobs waiting beyond the running ones before 503")
    job_retry_after_s: int = Field(30, ge=1, description="Retry-After sent with a full queue")
    batch_scheduler: str | None = Field(None, description="Dask scheduler of POST /v1/batches (tcp://host:8786); "
                                        "default: a LocalCluster of job_workers processes")
    index_cache_size: int = Field(8, ge=1, description="dataset versions whose indexes stay in memory")

    body_timeout_s: float = Field(60, gt=0, le=3600, description="longest wait for the next piece of a "
                                  "request body before 408 (slow uploads)")
    # HTTP server (geo-service serve): limits against slow or many clients
    limit_concurrency: int = Field(1000, ge=1, description="open connections + running requests beyond "
                                   "which new requests get 503")
    backlog: int = Field(2048, ge=1, description="pending TCP connections the kernel queues")
    timeout_keep_alive_s: int = Field(5, ge=1, le=300, description="idle keep-alive connections close after this")
    header_timeout_s: float = Field(10, gt=0, le=300, description="a connection must send a complete request "
                                    "head within this many seconds (from connect or the previous response)")
    h11_max_incomplete_event_size: int = Field(16 * 1024, ge=1024, le=2**20,
                                               description="largest request line + headers, bytes (400 beyond)")
    max_connections_per_ip: int = Field(128, ge=0, description="open connections per client address (0: no "
                                        "limit; behind a reverse proxy every client is the proxy)")
    forwarded_allow_ips: str | None = Field(None, description="older name of trusted_proxies (comma-separated "
                                            "IPs or '*'); default: none, X-Forwarded-For is ignored")

    # what an upload may hold beyond its size
    max_json_values: int = Field(2_000_000, ge=1000, description="most arrays, objects and items in a JSON "
                                 "body (counted while it streams; nearest batches: max_batch_points)")
    max_zip_entries: int = Field(2000, ge=1, description="most entries in an uploaded zip (checked before "
                                 "its directory is read)")
    max_name_chars: int = Field(200, ge=1, description="longest id or name (characters) in an upload or edit")
    max_text_chars: int = Field(2000, ge=1, description="longest other text (notes, sectors) in an upload or edit")

    # connection budget and proxies: who may hold a connection, whose X-Forwarded-For is believed
    max_idle_connections: int | None = Field(None, ge=1, description="connections that may wait for a "
                                             "request head at once (half-open or idle keep-alive), all "
                                             "addresses together; beyond it the one waiting longest is "
                                             "closed. Default: half of limit_concurrency")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="reverse proxies (IPs, comma-separated) whose X-Forwarded-For names "
                                          "the client; with none, X-Forwarded-For is ignored from everyone")

    # 码上议事: the public message form's limits
    messages_per_address_per_hour: int = Field(10, ge=0, description="messages one client address may leave "
                                                                     "per hour (0: none)")
    messages_per_station_per_hour: int = Field(120, ge=0, description="messages one station (or village) "
                                                                      "takes per hour")
    messages_open_per_station_day: int = Field(300, ge=1, description="open messages stored per station (or "
                                                                      "village) and day; beyond, 429")
    messages_open_per_dataset_day: int = Field(20_000, ge=1, description="open messages stored per dataset and "
                                                                         "day, all places together; beyond, 429")
    message_max_chars: int = Field(1000, ge=10, le=20_000, description="longest message text (characters)")
    message_escalate_days: float = Field(3.0, gt=0, le=365, description="days an assigned message may stay "
                                                                         "unanswered before it goes to the "
                                                                         "group's convener (twice: the office)")
    message_load_m: float = Field(2000.0, ge=0, description="metres one more open message weighs when routing")
    log_level: str = Field("INFO", description="logging level of the service loggers")
    log_json: bool = Field(True, description="JSON-lines access/app logs (False: plain text)")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_from_json(cls, v: Any) -> Any:
        return _key_pairs(v, "api_keys must be JSON {key: role} or 'key:role,key:role'", value_required=False)

    @field_validator("member_keys", mode="before")
    @classmethod
    def _member_keys_from_text(cls, v: Any) -> Any:
        return _key_pairs(v, "member_keys must be JSON {key: member_id} or 'key:M001,key:M002'")

    @field_validator("member_keys")
    @classmethod
    def _member_keys_long_enough(cls, v: dict[str, str]) -> dict[str, str]:
        for key, member in v.items():
            if len(key) < 8:
                raise ValueError("every member key must be at least 8 characters long")
            if not member or len(member) > 64:
                raise ValueError(f"member id {member!r} of a member key must be 1-64 characters")
        return v

    @field_validator("trusted_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return json.loads(v) if v.startswith("[") else [o.strip() for o in v.split(",") if o.strip()]
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_from_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return json.loads(v) if v.startswith("[") else [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _hosts_from_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return json.loads(v) if v.startswith("[") and v.endswith("]") and '"' in v else \
                [h.strip() for h in v.split(",") if h.strip()]
        return v

    @field_validator("trusted_hosts")
    @classmethod
    def _hosts_lowercase(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [h.lower() for h in v]

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError("public_base_url must start with http:// or https://")
        return v

    @field_validator("api_keys")
    @classmethod
    def _keys_long_enough(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if len(key) < 8:
                raise ValueError("every API key must be at least 8 characters long")
        return v

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        path = None
        try:
            path = init_settings.init_kwargs.get("settings_file")  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - older pydantic-settings
            pass
        path = path or os.environ.get(SETTINGS_FILE_ENV)
        return (init_settings, env_settings, dotenv_settings, *file_sources(settings_cls, path),
                file_secret_settings)

    @property
    def store_location(self) -> str:
        """Where the store lives: the database URL if set, else the data directory."""
        return self.database_url or self.data_dir

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """The Host allow-list in force: ``trusted_hosts``, else loopback names without keys, else any."""
        if self.trusted_hosts is not None:
            return tuple(self.trusted_hosts)
        return LOOPBACK_HOSTS if not self.api_keys else ("*",)

    @property
    def role_keys(self) -> dict[str, str]:
        """Every key -> its role: ``api_keys`` as they are, member keys as ``member:<member id>``."""
        return {**{k: f"member:{m}" for k, m in self.member_keys.items()}, **self.api_keys}

    @property
    def proxies(self) -> tuple[str, ...]:
        """The proxies whose ``X-Forwarded-For`` is believed: ``trusted_proxies`` (or the older
        ``forwarded_allow_ips``); none by default."""
        named = list(self.trusted_proxies)
        if not named and self.forwarded_allow_ips:
            named = [p.strip() for p in self.forwarded_allow_ips.split(",") if p.strip()]
        return tuple(named)

    @property
    def auth_enforced(self) -> bool:
        """True once any API key is configured."""
        return bool(self.api_keys)
