"""Bulk API 2.0 query jobs: the result set is snapshotted when the job is created, then served as CSV
pages.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

from cpq_sync.sandbox.salesforce import ids
from cpq_sync.sandbox.salesforce.errors import SalesforceError, not_found
from cpq_sync.sandbox.salesforce.schema import FieldDef
from cpq_sync.sandbox.salesforce.soql.engine import ChildOut, FieldOut, Plan, SoqlEngine
from cpq_sync.sandbox.salesforce.store import TEXT_TYPES, OrgStore, format_datetime, to_json_value

ID_LEN = 18
DEFAULT_MAX_RECORDS = 50_000


def _invalid_job(message: str) -> SalesforceError:
    return SalesforceError("INVALIDJOB", message)


def create_query_job(
    store: OrgStore, engine: SoqlEngine, body: Any, version: str, *, fail_with: str | None = None
) -> dict[str, Any]:
    """Create a query job; ``fail_with`` makes it end ``Failed`` with that message (QUERY_TIMEOUT fault)."""
    if not isinstance(body, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = body.get("operation")
    if operation not in ("query", "queryAll"):
        raise _invalid_job(f"InvalidJob : Invalid operation: {operation}")
    if body.get("columnDelimiter", "COMMA") != "COMMA":
        raise _invalid_job("InvalidJob : this sandbox org serves only COMMA-delimited results")
    line_ending = body.get("lineEnding", "LF")
    if line_ending not in ("LF", "CRLF"):
        raise _invalid_job(f"InvalidJob : Invalid lineEnding: {line_ending}")
    soql = body.get("query")
    if not isinstance(soql, str) or not soql.strip():
        raise _invalid_job("InvalidJob : the query is required")
    plan = engine.plan(soql)
    if plan.count_only or any(isinstance(o, ChildOut) for o in plan.outputs):
        raise _invalid_job("FeatureNotEnabled : Bulk API 2.0 queries do not support COUNT() or relationship subqueries")
    if plan.query.offset is not None:
        raise _invalid_job("FeatureNotEnabled : Bulk API 2.0 queries do not support OFFSET")
    for out in plan.outputs:
        if isinstance(out, FieldOut) and out.resolved.fd.type == "address":
            raise _invalid_job("FeatureNotEnabled : Selecting compound data not supported in Bulk Query")
    include_deleted = operation == "queryAll"
    with store.snapshot():
        record_ids = engine.select_ids(plan, include_deleted)
    with store.transaction() as conn:
        number = store.next_counter(conn, "bulk-job")
        job_id = ids.make_id("750", number)
        stamp = format_datetime(store._now(conn))
        info = {
            "id": job_id,
            "operation": operation,
            "object": plan.sobj.name,
            "createdById": store.integration_user_id,
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": "UploadComplete",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "lineEnding": line_ending,
            "columnDelimiter": "COMMA",
        }
        if fail_with is not None:
            info["errorMessage"] = fail_with
            record_ids = []
        conn.execute(
            "INSERT INTO _bulk_jobs (job_id, info, soql, include_deleted, ids, total) VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, json.dumps(info), soql, int(include_deleted), "".join(record_ids), len(record_ids)),
        )
        store.next_counter(conn, f"bulk-jobs-day:{stamp[:10]}")
    return info


def _load(store: OrgStore, job_id: str) -> tuple[dict[str, Any], str, bool, int]:
    row = store.conn.execute(
        "SELECT info, soql, include_deleted, total FROM _bulk_jobs WHERE job_id = ?", (job_id,)
    ).fetchone()
    if row is None:
        raise not_found("The requested resource does not exist")
    return json.loads(row[0]), row[1], bool(row[2]), int(row[3])


def job_info(store: OrgStore, job_id: str) -> dict[str, Any]:
    info, _, _, total = _load(store, job_id)
    if info["state"] == "UploadComplete":  # the sandbox finishes a query job as soon as it is created
        info["state"] = "Failed" if info.get("errorMessage") else "JobComplete"
    info.update(
        {
            "numberRecordsProcessed": total,
            "retries": 0,
            "totalProcessingTime": 0,
            "isPkChunkingSupported": True,
        }
    )
    return info


def abort_job(store: OrgStore, job_id: str, body: Any) -> dict[str, Any]:
    info, _, _, _ = _load(store, job_id)
    if not isinstance(body, dict) or body.get("state") != "Aborted":
        raise _invalid_job("InvalidJob : the only state a query job can be set to is Aborted")
    if info["state"] != "UploadComplete":
        raise _invalid_job(f"InvalidJob : the job is {info['state']}")
    info["state"] = "Aborted"
    with store.transaction() as conn:
        conn.execute("UPDATE _bulk_jobs SET info = ? WHERE job_id = ?", (json.dumps(info), job_id))
    return info


def delete_job(store: OrgStore, job_id: str) -> None:
    _load(store, job_id)
    with store.transaction() as conn:
        conn.execute("DELETE FROM _bulk_jobs WHERE job_id = ?", (job_id,))


def results(store: OrgStore, engine: SoqlEngine, job_id: str, params: dict[str, str]) -> tuple[str, str, int]:
    """One CSV page of a job's results: (csv text, next locator or "null", number of records)."""
    info, soql, _, total = _load(store, job_id)
    if info["state"] == "Aborted" or info.get("errorMessage"):
        raise _invalid_job(f"InvalidJob : the job is {'Aborted' if info['state'] == 'Aborted' else 'Failed'}")
    try:
        max_records = int(params.get("maxRecords", DEFAULT_MAX_RECORDS))
        offset = int(base64.b64decode(params["locator"]).decode()) if params.get("locator") else 0
    except (ValueError, UnicodeDecodeError):
        raise SalesforceError("INVALIDLOCATOR", "Invalid locator or maxRecords") from None
    if max_records <= 0 or offset < 0 or offset > total:
        raise SalesforceError("INVALIDLOCATOR", "Invalid locator or maxRecords")
    count = min(max_records, total - offset)
    row = store.conn.execute(
        "SELECT substr(ids, ?, ?) FROM _bulk_jobs WHERE job_id = ?",
        (offset * ID_LEN + 1, count * ID_LEN, job_id),
    ).fetchone()
    blob: str = row[0] or ""
    page_ids = [blob[i : i + ID_LEN] for i in range(0, len(blob), ID_LEN)]
    plan = engine.plan(soql)
    rows = engine.fetch_rows(plan, page_ids)
    text = to_csv(plan, rows, "\r\n" if info["lineEnding"] == "CRLF" else "\n")
    next_offset = offset + count
    locator = base64.b64encode(str(next_offset).encode()).decode() if next_offset < total else "null"
    return text, locator, len(rows)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000") and value[10] == "T":
        return value[:-5] + "Z"
    return str(value)


AS_STORED = TEXT_TYPES | {"id", "reference", "date"}


def _csv_column(fd: FieldDef, values: tuple[Any, ...]) -> list[str]:
    """One column of a CSV page, by field type: text, ids, references and dates as stored; booleans and datetimes
    as Bulk CSV writes them (``true``, ``...Z``); numbers as Salesforce's JSON has them."""
    if fd.type in AS_STORED:
        return ["" if value is None else str(value) for value in values]
    if fd.type == "boolean":
        return ["" if value is None else ("true" if value else "false") for value in values]
    if fd.type == "datetime":
        return ["" if value is None else _csv_value(value) for value in values]
    return [_csv_value(to_json_value(fd, value)) for value in values]


def to_csv(plan: Plan, rows: list[tuple[Any, ...]], line_ending: str) -> str:
    """The CSV page of stored rows: a field of a parent that is not set is empty, like a field that is null."""
    headers: list[str] = []
    columns: list[list[str]] = []
    stored = list(zip(*rows, strict=True)) if rows else []
    for out in plan.outputs:
        assert isinstance(out, FieldOut)
        headers.append(".".join([*(r[0] for r in out.resolved.rels), out.resolved.fd.name]))
        if stored:
            columns.append(_csv_column(out.resolved.fd, stored[out.columns[0]]))
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=line_ending)
    writer.writerow(headers)
    writer.writerows(zip(*columns, strict=True))
    return buf.getvalue()
