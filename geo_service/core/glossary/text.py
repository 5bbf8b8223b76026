"""Words in the user's language: labels, headers, values, messages, job and result texts."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from typing import Any

from .fields import FIELDS, LANGS, UNITS
from .messages import MESSAGES
from .problems import ACCESS_ROLES, PROBLEM_DETAILS, PROBLEMS, REASONS, STATUS_TITLES
from .vocab import ENUMS, EXTRA_ALIASES, PARAMS, TABLES
from .words import WORDS


class _Keep(dict):
    def __missing__(self, key: str) -> str:  # a template field without a value stays visible, never KeyError
        return "{" + key + "}"


def message(code: str, lang: str = "zh", **params: Any) -> str:
    """The text of message ``code`` in ``lang`` with ``params`` filled in (``gap_no_candidate`` ->
    ``范围（10.0 公里）内没有候选点：...``). A param given as ``{"code", "params"}`` is a part of the
    sentence, itself worded as a message in ``lang``. Unknown codes come back as the code itself."""
    i = check_lang(lang)
    tpl = MESSAGES.get(code)
    if tpl is None:
        return code
    params = {k: message(str(v["code"]), lang, **dict(v.get("params") or {}))  # a nested message: a part
              if isinstance(v, Mapping) and "code" in v else v for k, v in params.items()}
    if params.get("cost_unit") in ("m", "s"):  # costs travel as numbers; shown in km / minutes of ``lang``
        params = {k: cost_text(v, params["cost_unit"], lang) if k in COST_PARAMS else v for k, v in params.items()}
    for k, enum in PARAM_ENUMS.items():  # English words in params (tier names, outcomes) shown in ``lang``
        if isinstance(params.get(k), str):
            params[k] = value_label(enum, params[k], lang)
    try:
        return tpl[i].format_map(_Keep(params))
    except (ValueError, TypeError):  # a param of the wrong type for its format spec
        return tpl[i].replace("{", "").replace("}", "")


#: Message params whose value is a vocabulary word: param -> enum.
PARAM_ENUMS = {"what": "entity", "who": "entity", "tier": "tier", "outcome": "outcome"}

#: Message params that are costs (metres or seconds, per the message's ``cost_unit``).
COST_PARAMS = ("threshold", "nearest", "distance", "cost")


def cost_text(value: Any, cost_unit: str, lang: str = "zh") -> str:
    """A cost in words: metres as ``12.3 公里`` / ``12.3 km``, seconds as ``15 分钟`` / ``15 min``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "不可达" if check_lang(lang) == 0 else "unreachable"
    u = UNITS["km" if cost_unit == "m" else "min"]
    return f"{x * u.scale:.1f} {(u.zh, u.en)[check_lang(lang)]}" if cost_unit == "m" else \
        f"{x * u.scale:.0f} {(u.zh, u.en)[check_lang(lang)]}"


def map_words(lang: str = "zh") -> dict[str, str]:
    """Every word the maps show, by short key, in ``lang``: popup fields from :data:`FIELDS`,
    layer names and legend titles from :data:`WORDS` (``map_`` keys without the prefix)."""
    check_lang(lang)
    out = {k[4:]: word(k, lang) for k in WORDS if k.startswith("map_")}
    out.update({"name": label("name", lang), "kind": label("kind", lang), "sectors": label("sectors", lang),
                "capacity": label("capacity", lang), "township": label("township_name", lang),
                "population": label("population", lang), "nearest": label("nearest_station", lang),
                "distance": label("distance_m", lang), "time": label("nearest_s", lang), "rank": label("gap_rank", lang),
                "seat": label("is_seat", lang), "threshold": label("threshold", lang),
                "covered": label("covered_population", lang), "summary": label("covered_population", lang),
                "pop": label("covered_population", lang), "share": label("share", lang),
                "total_pop": label("total_population", lang), "n_villages": label("n_villages", lang),
                "yes": value_label("bool", "True", lang), "status": label("coverage_change", lang),
                "covered_now": value_label("coverage_change", "b", lang),
                "newly": value_label("coverage_change", "a", lang), "still": value_label("coverage_change", "u", lang),
                "gain": label("newly_covered_population", lang), "n": label("proposed_count", lang),
                "solver": label("status", lang), "unit": word("map_sites_unit", lang),
                "persons": UNITS["persons"].zh if lang == "zh" else UNITS["persons"].en})
    return out


def check_lang(lang: str) -> int:
    """The index of ``lang`` in each (zh, en) pair; ``ValueError`` naming ``lang`` for any other language."""
    if lang not in LANGS:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return 0 if lang == "zh" else 1


def label(field: str, lang: str = "zh") -> str:
    """The name of ``field`` in ``lang`` (no unit); unknown fields keep their own name."""
    i = check_lang(lang)
    f = FIELDS.get(field)
    if f is None:
        return field
    return (f.zh, f.en)[i]


def unit_label(field: str, lang: str = "zh") -> str | None:
    """The display unit of ``field`` in ``lang`` (``公里``, ``人``), or None."""
    i = check_lang(lang)
    f = FIELDS.get(field)
    if f is None or f.unit is None:
        return None
    u = UNITS[f.unit]
    return (u.zh, u.en)[i]


def header(field: str, lang: str = "zh") -> str:
    """Column header for ``field``: its name with the display unit, ``人口(人)`` / ``Population (persons)``.

    Counts (unit ``count``) show no unit. Unknown fields keep their own name.
    """
    name = label(field, lang)
    f = FIELDS.get(field)
    if f is None or f.unit in (None, "count"):
        return name
    u = unit_label(field, lang)
    return f"{name}({u})" if lang == "zh" else f"{name} ({u})"


def value_label(enum: str, value: Any, lang: str = "zh") -> Any:
    """The word for ``value`` of vocabulary ``enum`` in ``lang``; values outside it come back as they are."""
    i = check_lang(lang)
    vocab = ENUMS.get(enum)
    if vocab is None:
        raise ValueError(f"unknown enum {enum!r}; expected one of {', '.join(ENUMS)}")
    if value is None or isinstance(value, float) and math.isnan(value):
        return value
    key = str(value)
    return vocab[key][i] if key in vocab else value


def table_title(table: str, lang: str = "zh") -> str:
    """Title of result table ``table`` (sheet name) in ``lang``; unknown tables keep their key."""
    i = check_lang(lang)
    return TABLES[table][i] if table in TABLES else table


def word(key: str, lang: str = "zh") -> str:
    """A word of the notes sheet or page header (``dataset`` -> 数据集)."""
    return WORDS[key][check_lang(lang)]


def diagnostic_text(d: Mapping[str, Any], lang: str = "zh") -> str:
    """One solver diagnostic in ``lang``: its ``code`` template filled from its ``params`` where it
    has one (:data:`MESSAGES`); else the English message, or in zh its quota's Chinese name with
    the scope and the shortfall (``容量不足（经济）：缺 3``). A relaxed rule (``rule`` and
    ``reason``) is worded by :func:`relaxation_text`."""
    if "rule" in d and "reason" in d:
        return relaxation_text(d, lang)
    if d.get("code") in MESSAGES:
        return message(str(d["code"]), lang, **dict(d.get("params") or {}))
    if check_lang(lang) == 1:
        return str(d.get("message", ""))
    if d.get("message_zh"):  # a diagnostic that words itself in Chinese (tier 1/2 distances, coverage)
        return str(d["message_zh"])
    out = str(value_label("diagnostic", d.get("quota", ""), "zh"))
    scope = d.get("scope")
    if scope:
        out += f"（{value_label('tier', scope, 'zh')}）"
    if d.get("short_by"):
        out += f"：缺 {d['short_by']}"
    msg = str(d.get("message", ""))
    if d.get("quota") == "nothing_to_do" and ": " in msg:  # the pipeline writes this one's reason in Chinese
        out += "：" + msg.split(": ", 1)[1]
    return out


def diagnostics_text(ds: Any, lang: str = "zh") -> Any:
    """A list of diagnostics as one cell (``；``-separated in zh, `` | `` in en); other values unchanged."""
    if not isinstance(ds, (list, tuple)):
        return ds
    return ("；" if lang == "zh" else " | ").join(diagnostic_text(d, lang) if isinstance(d, Mapping) else str(d)
                                                for d in ds)


#: The job runner's fixed messages (stored in English, machine-readable) -> their message code.
JOB_MESSAGES = {"waiting for a worker": "job_waiting", "waiting for a Dask worker": "job_waiting", "running": "job_running",
                "dismissed on request": "job_dismissed", "the service stopped before the job started": "job_stopped"}


#: a failed job's ``error.title`` -> the message that words it (``error.params`` fill it in)
JOB_FAILURES = {"SolverError": "job_failed_solver_error", "TimeLimitExceeded": "job_failed_time_limit",
                "WorkerDied": "job_failed_worker_died", "Interrupted": "job_failed_interrupted",
                "MissingLayer": "job_failed_missing_layer"}


def job_failure_text(error: Any, lang: str = "zh") -> str | None:
    """A failed job's error in words of ``lang`` when the service words it itself, else None."""
    if not isinstance(error, Mapping) or error.get("title") not in JOB_FAILURES:
        return None
    params = error.get("params")
    return message(JOB_FAILURES[error["title"]], lang, **(dict(params) if isinstance(params, Mapping) else {}))


def job_status_text(status: Any, lang: str = "zh") -> Any:
    """A job status in words (``successful`` -> 已完成)."""
    return value_label("job_status", status, lang)


def job_message_text(msg: Any, status: Any = None, outcome: Mapping[str, Any] | None = None,
                     lang: str = "zh") -> Any:
    """A job's stored message in ``lang``: the runner's fixed lines by code; a finished run as its
    outcome in words with the first diagnosis (``已完成：不可行（无可行解）：...``); other text (a
    failure's detail) as it is."""
    check_lang(lang)
    if isinstance(msg, str) and msg in JOB_MESSAGES:
        return message(JOB_MESSAGES[msg], lang)
    if status == "successful" and isinstance(outcome, Mapping) and outcome.get("outcome"):
        code = outcome.get("diagnosis_code")
        relaxed = [x for x in outcome.get("relaxations") or [] if isinstance(x, Mapping)]
        diag: Any
        if relaxed:  # a relaxed rule first: the answer is optimal only under it
            diag = relaxation_text(relaxed[0], lang)
        elif code in MESSAGES:
            diag = message(str(code), lang, **dict(outcome.get("diagnosis_params") or {}))
        else:
            diag = outcome.get("diagnosis") if lang == "en" else None
        sep = "：" if lang == "zh" else ": "
        text = outcome.get("text") if lang == "zh" else (outcome.get("text_en")
                                                          or value_label("outcome", outcome["outcome"], "en"))
        return message("job_finished_text", lang, outcome=value_label("outcome", outcome["outcome"], lang),
                       text=text or "", diagnosis=(sep + str(diag)) if diag else "")
    if status == "successful" and isinstance(msg, str) and msg.startswith("finished"):
        st = msg.split(":", 1)[1].strip().split(" ")[0] if ":" in msg else ""
        return message("job_finished", lang, outcome=value_label("outcome", st, lang)) if st else \
            value_label("job_status", "successful", lang)
    return msg


def result_labels(result: Mapping[str, Any], lang: str = "zh") -> dict[str, Any]:
    """Words for a stored run (``OptimisationResult.to_dict()``) in ``lang``, beside its machine keys:
    the outcome, each tier's name and outcome with its diagnostics, and the run's own diagnostics."""
    check_lang(lang)
    oc = result.get("outcome") if isinstance(result.get("outcome"), Mapping) else {}
    raw_tiers = result.get("tiers")
    tiers: Mapping[str, Any] = raw_tiers if isinstance(raw_tiers, Mapping) else {}
    out: dict[str, Any] = {
        "status": value_label("outcome", result.get("status"), lang),
        "outcome": job_message_text(None, "successful", oc, lang) if oc else None,
        "tiers": {k: {"name": value_label("tier", k, lang), "status": value_label("outcome", t.get("status"), lang),
                      "relaxations": [relaxation_text(x, lang, k) for x in t.get("relaxations") or []
                                      if isinstance(x, Mapping)],
                      "diagnostics": [diagnostic_text(d, lang) for d in t.get("diagnostics") or []
                                      if isinstance(d, Mapping)]}
                  for k, t in tiers.items() if isinstance(t, Mapping)},
        "diagnostics": [diagnostic_text(d, lang) for d in result.get("diagnostics") or [] if isinstance(d, Mapping)],
        "fields": {k: label(k, lang) for k in ("status", "objective", "bound", "gap", "time_s", "diagnostics")},
    }
    return out


def param_items(params: Mapping[str, Any], lang: str = "zh") -> dict[str, Any]:
    """Optimisation parameters as the 说明 sheet shows them: glossary names, values in ``lang``."""
    i = check_lang(lang)
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None or v == [] or v == {}:
            continue
        zh, en, enum = PARAMS.get(k, (k, k, None))
        if k == "locks" and isinstance(v, Mapping):
            v = sum(len(x) for x in v.values() if isinstance(x, Mapping))
            if not v:
                continue
        elif enum is not None and isinstance(v, (list, tuple)):
            v = "、".join(str(value_label(enum, x, lang)) for x in v)
        elif enum is not None:
            v = value_label(enum, v, lang)
        elif isinstance(v, (list, tuple)):
            v = "、".join(map(str, v))
        out[(zh, en)[i]] = v
    return out


def relaxation_text(r: Mapping[str, Any], lang: str = "zh", tier: str | None = None) -> str:
    """One relaxed rule (``solvers.relaxations``) as one line in ``lang``: the rule by its glossary
    name, the scope, what was asked, what was given and why (``已放宽：乡镇街道（专委会）每个专委会乡镇数要求 2，实际 1：...``)."""
    i = check_lang(lang)
    p = dict(r.get("params") or {})
    p["asked"] = r.get("asked")
    reason = message(f"relax_{r.get('reason')}", lang, **p)
    rule = str(r.get("rule", ""))
    name = str(PARAMS[rule][i]) if rule in PARAMS else rule
    name = name if i == 0 else name[:1].lower() + name[1:]
    scope = str(r.get("scope", ""))
    scope = str(value_label("entity", scope, lang)) if scope in ENUMS["entity"] else scope
    return message("relaxation_line", lang, tier=tier or r.get("tier") or "", scope=scope, rule=name,
                   asked=r.get("asked"), given=r.get("given"), reason=reason)


def display_value(field: str, value: Any) -> Any:
    """``value`` of ``field`` converted to its display unit and rounded (m -> km 1 decimal, persons integer)."""
    f = FIELDS.get(field)
    if f is None or value is None or isinstance(value, bool):
        return value
    if not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(x):
        return None
    scale, dec = 1.0, f.decimals
    if f.unit is not None:
        u = UNITS[f.unit]
        scale, dec = u.scale, u.decimals if u.decimals is not None else f.decimals
    if dec is None:
        return value if scale == 1.0 else x * scale
    x = round(x * scale, dec)
    return int(x) if dec == 0 else x


def decimals(field: str) -> int | None:
    """Decimals ``field`` is shown with (0: integer), None when shown as stored."""
    f = FIELDS.get(field)
    if f is None:
        return None
    if f.unit is not None and UNITS[f.unit].decimals is not None:
        return UNITS[f.unit].decimals
    return f.decimals


def zh_aliases(field: str) -> tuple[str, ...]:
    """Chinese spellings of ``field`` the importers accept: its name, name with unit, older names."""
    if field not in FIELDS:
        return EXTRA_ALIASES.get(field, ())
    out = [label(field, "zh"), header(field, "zh"), header(field, "zh").replace("(", "（").replace(")", "）")]
    return tuple(dict.fromkeys(out + list(EXTRA_ALIASES.get(field, ()))))


def problem_title(code: str | None, status: int, lang: str = "zh") -> str:
    """The title of a problem in ``lang``: by its ``code`` (:data:`PROBLEMS`), else by its HTTP
    ``status``, else 错误 / Error."""
    i = check_lang(lang)
    pair = PROBLEMS.get(code or "") or STATUS_TITLES.get(status)
    return pair[i] if pair else ("错误", "Error")[i]


def _member_words(members: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The members a detail template fills in, vocabulary values in ``lang`` (roles, job status)."""
    i = check_lang(lang)
    out = {k: v for k, v in members.items() if v is not None and not isinstance(v, (list, dict))}
    for k in ("role", "required_role"):
        if out.get(k) in ACCESS_ROLES:
            out[k] = ACCESS_ROLES[out[k]][i]
    if "job_status" in out:
        out["job_status"] = job_status_text(out["job_status"], lang)
    if "status_now" in out:  # a message's status
        out["status_now"] = value_label("message_status", out["status_now"], lang)
    if isinstance(members.get("errors"), list):
        out.setdefault("error_count", len(members["errors"]))
        if members.get("errors_truncated"):  # the rest counted by code
            out["listed"] = len(members["errors"])
    return out


def problem_detail(code: str | None, lang: str = "zh", **members: Any) -> str | None:
    """The detail of problem ``code`` in ``lang`` built from its ``members`` (``dataset_id``,
    ``errors``, ...): the first template of :data:`PROBLEM_DETAILS` whose fields are all members;
    None where ``code`` has no template that fits (the caller keeps its own detail).
    ``invalid-parameters`` names each wrong field of ``errors`` with its glossary label and reason."""
    check_lang(lang)
    worded = code == "invalid-query" and all(parameter_reason(e, lang) for e in members.get("errors") or [None])
    if (code == "invalid-parameters" or worded) and members.get("errors"):
        return parameters_text(members["errors"], lang)
    values = _member_words(members, lang)
    for pair in PROBLEM_DETAILS.get(code or "", ()):
        tpl = pair[check_lang(lang)]
        if all(name in values for _, name, _, _ in _FMT.parse(tpl) if name):
            return tpl.format_map(values)
    return None


def parameter_label(field: str, lang: str = "zh") -> str | None:
    """The glossary's name of request parameter ``field`` (its last dotted part), or None."""
    i = check_lang(lang)
    key = str(field).rsplit(".", 1)[-1]
    if key in PARAMS:
        return PARAMS[key][i]
    f = FIELDS.get(key)
    return (f.zh, f.en)[i] if f is not None else None


def parameter_reason(item: Mapping[str, Any], lang: str = "zh") -> str | None:
    """Why one ``errors[]`` item of a request-parameter problem is wrong, from its ``code`` and
    ``ctx`` (:data:`REASONS`); None where the code has no words or ``ctx`` lacks a value."""
    pair = REASONS.get(str(item.get("code", "")))
    if pair is None:
        return None
    tpl = pair[check_lang(lang)]
    ctx = dict(item.get("ctx") or {})
    if isinstance(ctx.get("other"), str):  # the other argument a rule compares with, by its name
        ctx["other"] = parameter_label(ctx["other"], lang) or ctx["other"]
    if check_lang(lang) == 0 and isinstance(ctx.get("expected"), str):  # pydantic's "'a', 'b' or 'c'"
        ctx["expected"] = ctx["expected"].replace(" or ", "、").replace(", ", "、")
    try:
        return tpl.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return None


def parameter_text(item: Mapping[str, Any], lang: str = "zh") -> str:
    """One wrong parameter in words: ``参数 k（每站推荐数）无效：应不大于 20``."""
    field = str(item.get("field") or item.get("in") or "")
    lab = parameter_label(field, lang)
    lab = lab if lab != field else None
    reason = parameter_reason(item, lang)
    index = item.get("index")  # a batch's row, from 0
    if check_lang(lang) == 0:
        nth = f"第 {int(index) + 1} 个值" if isinstance(index, int) else ""
        return (f"参数 {field}" + (f"（{lab}）{nth}" if lab else f" {nth}") + "无效"
                + (f"：{reason}" if reason else ""))
    nth = f" value {int(index) + 1}" if isinstance(index, int) else ""
    return (f"parameter {field}" + (f" ({lab})" if lab else "") + nth + " is invalid"
            + (f": {reason}" if reason else ""))


def parameters_text(errors: list[Mapping[str, Any]], lang: str = "zh") -> str:
    """Every wrong parameter of ``errors`` in words, one sentence."""
    parts = [parameter_text(e, lang) for e in errors]
    return ("；".join(parts) + "。") if check_lang(lang) == 0 else "; ".join(parts)


_FMT = string.Formatter()


def import_problem_detail(p: Any, lang: str = "zh") -> str:
    """What is wrong, for one import problem (``core.validation.Problem``): its glossary message where
    the reader gave one (``message_code``, ``params``), else its English ``message`` as written."""
    code = getattr(p, "message_code", None)
    return message(code, lang, **dict(getattr(p, "params", None) or {})) if code in MESSAGES else str(p.message)


def import_problem_text(p: Any, lang: str = "zh") -> str:
    """One import problem with its place in the user's words: ``villages.csv：村社区 第 5 行 编号 V5
    字段「经度」：不是数字：经度“abc”不是数字`` (English: the problem as the reader wrote it)."""
    if check_lang(lang) == 1:
        return str(p)
    where = [str(value_label("layer", p.layer, "zh"))]
    if p.source is not None:  # a GeoPackage's layer in the source named as the layer is named here
        src = p.source
        head, _, tail = src.rpartition(":")
        if head and tail in ENUMS["layer"]:
            src = f"{head}[{value_label('layer', tail, 'zh')}]"
        where[0] = f"{src}：{where[0]}"
    if p.row is not None:
        where.append(f"第 {p.row} 行")
    if p.feature_id is not None:
        where.append(f"编号 {p.feature_id}")
    if p.field is not None:
        where.append(f"字段「{label(p.field, 'zh')}」")
    what = value_label("problem", p.code, "zh") if getattr(p, "code", None) else None
    return f"{' '.join(where)}：{what + '：' if what and what != p.code else ''}{import_problem_detail(p, 'zh')}"
