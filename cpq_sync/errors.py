"""The errors a user sees. Data errors name the record and the field; none of them carries a secret."""

from __future__ import annotations

import yaml


class SyncError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(SyncError):
    """Bad settings, credentials or mapping files: the run cannot start (CLI exit code 2)."""


class DataError(SyncError):
    """A Salesforce record cannot be translated. It fails alone and becomes an Error Sync Record.

    `object_type`/`record_id` name the record at fault (which may be a child of the order being synced) and
    `field` the field, so the message tells the user exactly what to fix.
    """

    def __init__(self, object_type: str, record_id: str, field: str | None, problem: str, fix: str = "") -> None:
        self.object_type = object_type
        self.record_id = record_id
        self.field = field
        self.problem = problem
        self.fix = fix
        where = f"{object_type} {record_id}" + (f", field {field}" if field else "")
        text = f"Data Error: {where}: {problem}"
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)

    @property
    def message(self) -> str:
        return str(self)


def yaml_problem(where: str, exc: yaml.YAMLError) -> ConfigError:
    """A YAML error on one line, `<where>, line N: not valid YAML: <problem>` (PyYAML's own text spans several lines
    and quotes the input)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    at = f", line {mark.line + 1}" if mark is not None else ""
    return ConfigError(f"{where}{at}: not valid YAML: {problem}")
