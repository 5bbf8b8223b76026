"""The one glossary: zh/en names of every field, enum value and unit users see.

Tables, spreadsheets, API labels and the importers' header aliases all read their words from
here, so a field has exactly one Chinese name everywhere (``village_id`` is always 村社区编号).
Older spellings stay accepted on import through :data:`EXTRA_ALIASES`.

A field may carry a display unit: :func:`header` writes ``人口(人)`` or ``总距离(公里)``, and
:func:`display_value` converts and rounds the stored value (metres -> kilometres with 1 decimal,
seconds -> minutes with 1 decimal, persons as integers). Pure data and functions, no IO.

The words live in :mod:`.fields` (field names and units), :mod:`.vocab` (value vocabularies,
parameters, table titles, import aliases), :mod:`.words` and :mod:`.messages`; :mod:`.text` turns
them into text in the user's language. Import everything from here.
"""

from __future__ import annotations

from .fields import FIELDS, LANGS, UNITS, Field, Unit
from .messages import MESSAGES
from .problems import ACCESS_ROLES, PROBLEM_DETAILS, PROBLEMS, REASONS, STATUS_TITLES
from .text import (JOB_FAILURES, JOB_MESSAGES, check_lang, cost_text, decimals, diagnostic_text, diagnostics_text,
    display_value, header, import_problem_detail, import_problem_text, job_failure_text, job_message_text, job_status_text, label, map_words, message,
    param_items, parameter_label, parameter_reason, parameter_text, parameters_text, problem_detail,
    problem_title, relaxation_text, result_labels, table_title, unit_label, value_label, word, zh_aliases)
from .vocab import ENUMS, EXTRA_ALIASES, PARAMS, TABLES
from .words import WORDS

__all__ = ['ACCESS_ROLES', 'PROBLEMS', 'PROBLEM_DETAILS', 'REASONS', 'STATUS_TITLES', 'parameter_label',
           'parameter_reason', 'parameter_text', 'parameters_text', 'problem_detail', 'problem_title', 'ENUMS', 'EXTRA_ALIASES', 'FIELDS', 'Field', 'JOB_FAILURES', 'JOB_MESSAGES', 'LANGS', 'MESSAGES', 'PARAMS', 'TABLES', 'UNITS', 'Unit', 'WORDS', 'check_lang', 'cost_text', 'decimals', 'diagnostic_text', 'diagnostics_text', 'display_value', 'header', 'import_problem_detail', 'import_problem_text', 'job_failure_text', 'job_message_text', 'job_status_text', 'label', 'map_words', 'message', 'param_items', 'relaxation_text', 'result_labels', 'table_title', 'unit_label', 'value_label', 'word', 'zh_aliases']
