"""A ``requests`` transport adapter that serves the sandbox org's REST API (``/services/data/vNN.0/...``).

Mounted on the session of a real ``simple_salesforce.Salesforce``: every call is authenticated with the
session id, counted against the daily quota (``Sforce-Limit-Info`` on every answer), exposed to the
configured faults, and answered with Salesforce's real shapes and status codes.
"""

from __future__ import annotations

import email.utils
import http
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from cpq_sync.sandbox.salesforce import bulk, ids
from cpq_sync.sandbox.salesforce.describe import global_describe, sobject_describe, sobject_summary
from cpq_sync.sandbox.salesforce.errors import SalesforceError, not_found
from cpq_sync.sandbox.salesforce.faults import SalesforceFaults, load_faults
from cpq_sync.sandbox.salesforce.soql.engine import SoqlEngine
from cpq_sync.sandbox.salesforce.store import OrgStore, format_datetime, parse_datetime, table
from cpq_sync.sandbox.salesforce.usage import admit_call, api_calls

MAX_PAGE = 2000
MAX_URL = 16_384  # longer GET URIs are refused by the org's front end
MIN_BATCH = 200
COLLECTION_LIMIT = 200
COMPOSITE_LIMIT = 25
COMPOSITE_HEAVY_LIMIT = 5
ID_LEN = 18
_PATH_RE = re.compile(r"^/services/data/v(\d{2}\.0)/(.*)$")
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


@dataclass
class Call:
    method: str
    path: list[str]
    params: dict[str, str]
    raw_body: bytes | str | None
    headers: Mapping[str, str]
    version: str
    number: int
    faults: SalesforceFaults

    def body(self) -> Any:
        if self.raw_body in (None, b"", ""):
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError as exc:
            raise SalesforceError("JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}") from exc


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-able, or str for CSV
    headers: dict[str, str] | None = None


def _location(answer: Answer, version: str, path: list[str]) -> dict[str, str]:
    if isinstance(answer.body, dict) and answer.body.get("id") and path[:1] == ["sobjects"] and len(path) >= 2:
        return {"Location": f"/services/data/v{version}/sobjects/{path[1]}/{answer.body['id']}"}
    return {}


class _AllOrNoneFailed(Exception):
    def __init__(self, results: list[dict[str, Any]]) -> None:
        super().__init__("allOrNone")
        self.results = results


class SandboxAdapter(BaseAdapter):
    """Serves the org stored in a sandbox directory to ``requests``."""

    def __init__(self, directory: Any, *, page_size: int | None = None, faults: SalesforceFaults | None = None) -> None:
        super().__init__()
        if page_size is not None and not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}")
        self.store = OrgStore.open(directory)
        self.page_size = page_size
        self._faults = faults

    @property
    def faults(self) -> SalesforceFaults:
        return self._faults if self._faults is not None else load_faults(self.store)

    # ------------------------------------------------------------------ transport

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        try:
            answer = self._handle(request, faults)
        except SalesforceError as err:
            if err.code == "MULTIPLE_CHOICES":
                answer = Answer(err.status, json.loads(err.message))
            else:
                answer = Answer(err.status, err.as_request_json())
        headers = dict(answer.headers or {})
        headers["Sforce-Limit-Info"] = f"api-usage={api_calls(self.store)}/{faults.api_quota_max}"
        headers["Date"] = email.utils.format_datetime(self.store.now(), usegmt=True)  # the org clock, as Salesforce
        return self._response(request, answer.status, answer.body, headers)

    def close(self) -> None:
        pass

    def _response(
        self, request: requests.PreparedRequest, status: int, body: Any, headers: dict[str, str]
    ) -> requests.Response:
        resp = requests.Response()
        resp.status_code = status
        resp.reason = http.HTTPStatus(status).phrase
        if body is None:
            content = b""
        elif isinstance(body, str):
            content = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/csv; charset=UTF-8")
        else:
            content = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json;charset=UTF-8")
        resp._content = content
        resp.headers = CaseInsensitiveDict(headers)
        resp.encoding = "utf-8"
        resp.url = request.url or ""
        resp.request = request
        return resp

    def _handle(self, request: requests.PreparedRequest, faults: SalesforceFaults) -> Answer:
        if len(request.url or "") > MAX_URL:
            raise SalesforceError("URI_TOO_LONG", f"The request URI is longer than {MAX_URL:,} characters", status=414)
        parts = urlsplit(request.url or "")
        match = _PATH_RE.match(parts.path)
        if match is None:
            raise not_found()
        auth = request.headers.get("Authorization", "")
        session_id = auth[7:] if auth.startswith("Bearer ") else None
        number = admit_call(self.store, session_id, faults)
        server_error = faults.server_error(number)
        if server_error is not None:
            raise server_error
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = [unquote(p) for p in match.group(2).strip("/").split("/")] if match.group(2).strip("/") else []
        call = Call(
            method=(request.method or "GET").upper(),
            path=path,
            params=params,
            raw_body=request.body,
            headers=request.headers,
            version=match.group(1),
            number=number,
            faults=faults,
        )
        return self.route(call)

    # ------------------------------------------------------------------ routing

    def route(self, call: Call) -> Answer:
        p = call.path
        head = p[0] if p else ""
        if head in ("query", "queryAll") and len(p) <= 2:
            self._allow(call, "GET")
            if len(p) == 2:
                return self.query_more(call, p[1])
            return self.query(call, include_deleted=head == "queryAll")
        if head == "limits" and len(p) == 1:
            self._allow(call, "GET")
            return Answer(200, self.limits(call))
        if head == "sobjects":
            return self.sobjects(call, p[1:])
        if head == "composite":
            if len(p) == 1:
                self._allow(call, "POST")
                return self.composite(call)
            if p[1] == "sobjects":
                return self.collections(call, p[2:])
        if head == "jobs" and len(p) >= 2 and p[1] == "query":
            return self.bulk_query(call, p[2:])
        raise not_found()

    @staticmethod
    def _allow(call: Call, *methods: str) -> None:
        if call.method not in methods:
            raise SalesforceError(
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{call.method}' not allowed. Allowed are {','.join(methods)}",
                status=405,
            )

    # ------------------------------------------------------------------ query

    def _page_size(self, call: Call) -> int:
        size = MAX_PAGE
        options = call.headers.get("Sforce-Query-Options")
        if options:
            m = _BATCH_RE.search(options)
            if m is None:
                raise SalesforceError("INVALID_HEADER_TYPE", f"Invalid Sforce-Query-Options header: {options}")
            size = min(MAX_PAGE, max(MIN_BATCH, int(m.group(1))))
        if self.page_size is not None:
            size = min(size, self.page_size)
        return size

    def query(self, call: Call, *, include_deleted: bool) -> Answer:
        soql = call.params.get("q")
        if not soql:
            raise SalesforceError("MALFORMED_QUERY", "A query string (q) is required")
        timeout = call.faults.query_timeout(call.number)
        if timeout is not None:
            raise timeout
        engine = SoqlEngine(self.store, call.version)
        plan = engine.plan(soql)
        page = self._page_size(call)
        with self.store.snapshot():
            record_ids = engine.select_ids(plan, include_deleted)
            if plan.count_only:
                return Answer(200, {"totalSize": len(record_ids), "done": True, "records": []})
            records = engine.fetch(plan, record_ids[:page], include_deleted)
        body: dict[str, Any] = {"totalSize": len(record_ids), "done": len(record_ids) <= page}
        if len(record_ids) > page:
            cursor = self._save_cursor(soql, include_deleted, record_ids)
            body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{cursor}-{page}"
        body["records"] = records
        return Answer(200, body)

    def _save_cursor(self, soql: str, include_deleted: bool, record_ids: list[str]) -> str:
        with self.store.transaction() as conn:
            cursor = ids.make_id("01g", self.store.next_counter(conn, "cursor"))
            conn.execute("DELETE FROM _cursors WHERE created < ?", (time.time() - 86_400,))
            conn.execute(
                "INSERT INTO _cursors (cursor_id, soql, include_deleted, ids, total, created) VALUES (?, ?, "
                "?, ?, ?, ?)",
                (cursor, soql, int(include_deleted), "".join(record_ids), len(record_ids), time.time()),
            )
        return cursor

    def query_more(self, call: Call, locator: str) -> Answer:
        cursor, _, offset_text = locator.rpartition("-")
        invalid = SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator")
        if not offset_text.isdigit():
            raise invalid
        offset = int(offset_text)
        page = self._page_size(call)
        row = self.store.conn.execute(
            "SELECT soql, include_deleted, total, substr(ids, ?, ?) FROM _cursors WHERE cursor_id = ?",
            (offset * ID_LEN + 1, page * ID_LEN, cursor),
        ).fetchone()
        if row is None or offset >= row[2]:
            raise invalid
        soql, include_deleted, total, blob = row[0], bool(row[1]), int(row[2]), row[3]
        page_ids = [blob[i : i + ID_LEN] for i in range(0, len(blob), ID_LEN)]
        engine = SoqlEngine(self.store, call.version)
        records = engine.fetch(engine.plan(soql), page_ids, include_deleted)
        nxt = offset + len(page_ids)
        body: dict[str, Any] = {"totalSize": total, "done": nxt >= total}
        if nxt < total:
            body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{cursor}-{nxt}"
        else:  # the last page: the cursor's snapshot is no longer needed
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM _cursors WHERE cursor_id = ?", (cursor,))
        body["records"] = records
        return Answer(200, body)

    # ------------------------------------------------------------------ limits

    def limits(self, call: Call) -> dict[str, Any]:
        quota = call.faults.api_quota_max
        used = api_calls(self.store)
        day = self.store.now().date().isoformat()
        row = self.store.conn.execute(
            "SELECT value FROM _counters WHERE name = ?", (f"bulk-jobs-day:{day}",)
        ).fetchone()
        jobs = int(row[0]) if row else 0
        return {
            "DailyApiRequests": {"Max": quota, "Remaining": max(0, quota - used)},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": max(0, 10000 - jobs)},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
        }

    # ------------------------------------------------------------------ sObjects

    def sobjects(self, call: Call, p: list[str]) -> Answer:
        store = self.store
        if not p:
            self._allow(call, "GET")
            return Answer(200, global_describe(store.schema, call.version))
        found = store.schema.sobject(p[0])
        if found is None:
            raise not_found()  # an unknown object in a URL is a missing resource, not a bad query
        sobj = found
        if len(p) == 1:
            self._allow(call, "GET", "POST")
            if call.method == "GET":
                return Answer(
                    200,
                    {
                        "objectDescribe": sobject_summary(sobj, call.version),
                        "recentItems": [],
                    },
                )
            body = self._record_body(call)
            self._lock_fault(call)
            record_id = store.create(sobj.name, body)
            return Answer(201, {"id": record_id, "success": True, "errors": []})
        if len(p) == 2 and p[1] == "describe":
            self._allow(call, "GET")
            return Answer(200, sobject_describe(store.schema, sobj, call.version))
        if len(p) == 2 and p[1] in ("deleted", "updated"):
            self._allow(call, "GET")
            return Answer(200, self.changed(call, sobj.name, deleted=p[1] == "deleted"))
        if len(p) == 2:
            self._allow(call, "GET", "PATCH", "DELETE")
            record_id = self._record_id(sobj.name, p[1])
            return self.record(call, sobj.name, record_id)
        if len(p) == 3:
            self._allow(call, "GET", "PATCH", "DELETE")
            return self.by_external_id(call, sobj.name, p[1], p[2])
        raise not_found()

    def _record_id(self, sobject: str, text: str) -> str:
        bad = SalesforceError(
            "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {text}", status=404
        )
        if not ids.is_valid(text):
            raise bad
        full = ids.to_18(text)
        owner = self.store.sobject_of_id(full)
        if owner is None or owner.name != self.store.sobject(sobject).name:
            raise not_found()
        return full

    def _record_body(self, call: Call) -> dict[str, Any]:
        body = call.body()
        if not isinstance(body, dict):
            raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of SObject from a non-object value")
        return body

    def _lock_fault(self, call: Call, record: int = 0) -> None:
        err = call.faults.lock_row(call.number, record)
        if err is not None:
            raise err

    def record(self, call: Call, sobject: str, record_id: str) -> Answer:
        store = self.store
        sobj = store.sobject(sobject)
        if call.method == "GET":
            stored = store.get(sobj.name, record_id)
            if stored is None:
                raise not_found()
            record = store.record_json(sobj, stored, call.version)
            fields = call.params.get("fields")
            if fields:
                wanted = []
                for name in fields.split(","):
                    fd = sobj.field(name.strip())
                    if fd is None:
                        raise SalesforceError(
                            "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{sobj.name}'"
                        )
                    wanted.append(fd.name)
                record = {"attributes": record["attributes"], **{k: record[k] for k in wanted}}
            return Answer(200, record)
        self._lock_fault(call)
        if call.method == "PATCH":
            body = self._record_body(call)
            store.update(sobj.name, record_id, body)
            return Answer(204)
        store.delete(sobj.name, record_id)
        return Answer(204)

    def by_external_id(self, call: Call, sobject: str, field: str, value: str) -> Answer:
        store = self.store
        sobj = store.sobject(sobject)
        fd = sobj.field(field)
        if fd is None or not (fd.external_id or fd.name == "Id"):
            raise SalesforceError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field}",
                status=404,
            )
        if call.method == "PATCH":
            body = self._record_body(call)
            self._lock_fault(call)
            record_id, created = store.upsert(sobj.name, fd.name, value, body)
            return Answer(201 if created else 200, {"id": record_id, "success": True, "errors": [], "created": created})
        matches = (
            [ids.to_18(value)]
            if fd.name == "Id" and ids.is_valid(value)
            else (store.find_by_field(sobj.name, fd.name, value) if fd.name != "Id" else [])
        )
        if not matches:
            raise not_found()
        if len(matches) > 1:
            urls = [f"/services/data/v{call.version}/sobjects/{sobj.name}/{m}" for m in matches]
            return Answer(300, urls)
        return self.record(call, sobj.name, matches[0])

    def changed(self, call: Call, sobject: str, *, deleted: bool) -> dict[str, Any]:
        try:
            start = format_datetime(parse_datetime(call.params["start"]))
            end = format_datetime(parse_datetime(call.params["end"]))
        except (KeyError, ValueError):
            raise SalesforceError("INVALID_REPLICATION_DATE", "start and end must be valid dateTimes") from None
        flag = 1 if deleted else 0
        rows = self.store.conn.execute(
            f'SELECT "Id", "SystemModstamp" FROM {table(sobject)} WHERE "IsDeleted" = ? AND '
            '"SystemModstamp" >= ? '
            f'AND "SystemModstamp" <= ? ORDER BY "SystemModstamp", rowid',
            (flag, start, end),
        ).fetchall()
        if deleted:
            return {
                "deletedRecords": [{"id": r[0], "deletedDate": r[1]} for r in rows],
                "earliestDateAvailable": start,
                "latestDateCovered": end,
            }
        return {"ids": [r[0] for r in rows], "latestDateCovered": end}

    # ------------------------------------------------------------------ sObject Collections

    def collections(self, call: Call, p: list[str]) -> Answer:
        if len(p) == 1:
            self._allow(call, "GET")
            return Answer(200, self.retrieve_many(call, p[0]))
        if not p:
            self._allow(call, "POST", "PATCH", "DELETE")
            if call.method == "DELETE":
                id_list = [i for i in call.params.get("ids", "").split(",") if i]
                all_or_none = call.params.get("allOrNone", "false").lower() == "true"
                self._check_size(len(id_list))
                return Answer(200, self._each(call, id_list, self._delete_one, all_or_none))
            body = self._collection_body(call)
            records = body["records"]
            op = self._create_one if call.method == "POST" else self._update_one
            return Answer(200, self._each(call, records, op, bool(body.get("allOrNone", False))))
        if len(p) == 2:
            self._allow(call, "PATCH")
            sobj = self.store.sobject(p[0])
            fd = sobj.field(p[1])
            if fd is None or not fd.external_id:
                raise SalesforceError(
                    "INVALID_FIELD", f"Provided external ID field does not exist or is not accessible: {p[1]}"
                )
            body = self._collection_body(call)
            for rec in body["records"]:
                if rec.get("attributes", {}).get("type", "").lower() != sobj.name.lower():
                    raise SalesforceError(
                        "INVALID_INPUT",
                        f"The sObject type of every record must be {sobj.name} in this upsert",
                    )

            def upsert_one(rec: Any, index: int) -> dict[str, Any]:
                key = next((k for k in rec if k.lower() == fd.name.lower()), None)
                if key is None or rec[key] in (None, ""):
                    raise SalesforceError("MISSING_ARGUMENT", f"{fd.name} not specified", fields=[fd.name])
                try:
                    record_id, created = self.store.upsert(sobj.name, fd.name, str(rec[key]), rec)
                except SalesforceError as err:
                    if err.code == "MULTIPLE_CHOICES":
                        found = [u.rsplit("/", 1)[1] for u in json.loads(err.message)]
                        raise SalesforceError(
                            "DUPLICATE_EXTERNAL_ID",
                            f"{fd.name}: more than one record found for external id field: {found}",
                            fields=[fd.name],
                        ) from None
                    raise
                return {"id": record_id, "success": True, "errors": [], "created": created}

            return Answer(200, self._each(call, body["records"], upsert_one, bool(body.get("allOrNone", False))))
        raise not_found()

    def retrieve_many(self, call: Call, sobject: str) -> list[dict[str, Any] | None]:
        """GET composite/sobjects/{T}?ids=...&fields=...: records in the order asked, null when absent."""
        store = self.store
        sobj = store.sobject(sobject)
        id_list = [i for i in call.params.get("ids", "").split(",") if i]
        fields = [f.strip() for f in call.params.get("fields", "").split(",") if f.strip()]
        if not id_list or not fields:
            raise SalesforceError("MISSING_ARGUMENT", "ids and fields are required")
        self._check_size(len(id_list))
        wanted = []
        for name in fields:
            fd = sobj.field(name)
            if fd is None:
                raise SalesforceError("INVALID_FIELD", f"No such column '{name}' on entity '{sobj.name}'")
            wanted.append(fd.name)
        out: list[dict[str, Any] | None] = []
        for text in id_list:
            if not ids.is_valid(text):
                raise SalesforceError("MALFORMED_ID", f"invalid ID field: {text}")
            stored = store.get(sobj.name, ids.to_18(text))
            if stored is None or store.sobject_of_id(stored["Id"]) != sobj:
                out.append(None)
                continue
            record = store.record_json(sobj, stored, call.version)
            out.append({"attributes": record["attributes"], **{k: record[k] for k in wanted}})
        return out

    @staticmethod
    def _check_size(n: int) -> None:
        if n > COLLECTION_LIMIT:
            raise SalesforceError(
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )

    def _collection_body(self, call: Call) -> dict[str, Any]:
        body = call.body()
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceError("JSON_PARSER_ERROR", "The request body must be an object with a records array")
        self._check_size(len(body["records"]))
        for rec in body["records"]:
            if (
                not isinstance(rec, dict)
                or not isinstance(rec.get("attributes"), dict)
                or not rec["attributes"].get("type")
            ):
                raise SalesforceError("INVALID_TYPE", "Must send a concrete entity type.")
            self.store.sobject(rec["attributes"]["type"])
        return body

    def _create_one(self, rec: Any, index: int) -> dict[str, Any]:
        if any(k.lower() == "id" for k in rec):
            raise SalesforceError("INVALID_FIELD", "cannot specify Id in an insert call", fields=["Id"])
        record_id = self.store.create(rec["attributes"]["type"], rec)
        return {"id": record_id, "success": True, "errors": []}

    def _update_one(self, rec: Any, index: int) -> dict[str, Any]:
        key = next((k for k in rec if k.lower() == "id"), None)
        if key is None or not rec[key]:
            raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call", fields=["Id"])
        sobject = rec["attributes"]["type"]
        record_id = self._record_id(sobject, str(rec[key]))
        self.store.update(sobject, record_id, {k: v for k, v in rec.items() if k != key})
        return {"id": record_id, "success": True, "errors": []}

    def _delete_one(self, record_id: Any, index: int) -> dict[str, Any]:
        if not ids.is_valid(record_id):
            raise SalesforceError("MALFORMED_ID", f"malformed id {record_id}")
        full = ids.to_18(record_id)
        sobj = self.store.sobject_of_id(full)
        if sobj is None:
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        try:
            self.store.delete(sobj.name, full)
        except SalesforceError as err:
            if err.code == "NOT_FOUND":
                raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id") from None
            raise
        return {"id": full, "success": True, "errors": []}

    def _each(
        self,
        call: Call,
        items: list[Any],
        op: Callable[[Any, int], dict[str, Any]],
        all_or_none: bool,
    ) -> list[dict[str, Any]]:
        """Apply ``op`` to each item in its own savepoint; results in order, with per-record errors."""
        results: list[dict[str, Any]] = []
        try:
            with self.store.transaction():
                failed = False
                for index, item in enumerate(items):
                    try:
                        with self.store.transaction():
                            self._lock_fault(call, index)
                            results.append(op(item, index))
                    except SalesforceError as err:
                        if err.code in ("JSON_PARSER_ERROR", "INVALID_TYPE") or (
                            err.code == "INVALID_FIELD" and err.message.startswith("No such column")
                        ):
                            raise  # the whole request is rejected, as the real API does
                        failed = True
                        result: dict[str, Any] = {"success": False, "errors": [err.as_record_error()]}
                        if isinstance(item, str):
                            result = {"id": item, **result}
                        elif isinstance(item, dict):
                            key = next((k for k in item if k.lower() == "id"), None)
                            if key is not None:
                                result = {"id": item[key], **result}
                        results.append(result)
                if all_or_none and failed:
                    raise _AllOrNoneFailed(results)
        except _AllOrNoneFailed as rolled:
            return [
                r if not r["success"] else {"id": None, "success": False, "errors": [dict(_ROLLED_BACK)]}
                for r in rolled.results
            ]
        return results

    # ------------------------------------------------------------------ Composite

    def composite(self, call: Call) -> Answer:
        body = call.body()
        if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
            raise SalesforceError("JSON_PARSER_ERROR", "The request body must have a compositeRequest array")
        subs = body["compositeRequest"]
        if len(subs) > COMPOSITE_LIMIT:
            raise SalesforceError(
                "LIMIT_EXCEEDED",
                f"The number of subrequests ({len(subs)}) exceeds the limit of {COMPOSITE_LIMIT}",
            )
        heavy = sum(
            1 for sub in subs if re.search(r"/(composite/sobjects|query|queryAll)(/|\?|$)", str(sub.get("url", "")))
        )
        if heavy > COMPOSITE_HEAVY_LIMIT:
            raise SalesforceError(
                "LIMIT_EXCEEDED",
                f"A composite request may contain at most {COMPOSITE_HEAVY_LIMIT} sObject Collections or "
                "query "
                f"subrequests; this one has {heavy}",
            )
        all_or_none = bool(body.get("allOrNone", False))
        refs: dict[str, Any] = {}
        responses: list[dict[str, Any]] = []

        def substitute(text: str) -> str:
            def one(m: re.Match[str]) -> str:
                ref, _, rest = m.group(1).partition(".")
                value: Any = refs.get(ref)
                for part in rest.split(".") if rest else []:
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    raise SalesforceError("INVALID_FIELD", f"Invalid reference specified: {m.group(1)}")
                return str(value)

            return re.sub(r"@\{([^}]+)\}", one, text)

        try:
            with self.store.transaction():
                failed = False
                for sub in subs:
                    ref_id = sub.get("referenceId", "")
                    if failed and all_or_none:
                        responses.append(self._halted(ref_id))
                        continue
                    try:
                        with self.store.transaction():
                            url = substitute(str(sub.get("url", "")))
                            raw = json.dumps(sub["body"]) if "body" in sub else None
                            raw = substitute(raw) if raw is not None else None
                            parts = urlsplit(url)
                            m = _PATH_RE.match(parts.path)
                            if m is None:
                                raise not_found()
                            sub_call = Call(
                                method=str(sub.get("method", "GET")).upper(),
                                path=[unquote(x) for x in m.group(2).strip("/").split("/")],
                                params={k: v[0] for k, v in parse_qs(parts.query).items()},
                                raw_body=raw,
                                headers=sub.get("httpHeaders", {}),
                                version=m.group(1),
                                number=call.number,
                                faults=call.faults,
                            )
                            if sub_call.path[:1] == ["jobs"] or sub_call.path[:2] in (
                                ["composite"],
                                ["composite", "batch"],
                            ):
                                raise SalesforceError("INVALID_INPUT", "This resource is not supported in Composite")
                            answer = self.route(sub_call)
                    except SalesforceError as err:
                        failed = True
                        answer = Answer(err.status, err.as_request_json())
                    refs[ref_id] = answer.body
                    responses.append(
                        {
                            "body": answer.body,
                            "httpHeaders": _location(answer, sub_call.version, sub_call.path)
                            if answer.status == 201
                            else {},
                            "httpStatusCode": answer.status,
                            "referenceId": ref_id,
                        }
                    )
                if failed and all_or_none:
                    raise _AllOrNoneFailed(responses)
        except _AllOrNoneFailed:
            responses = [r if r["httpStatusCode"] >= 300 else self._halted(r["referenceId"]) for r in responses]
        return Answer(200, {"compositeResponse": responses})

    @staticmethod
    def _halted(ref_id: str) -> dict[str, Any]:
        return {
            "body": [
                {
                    "errorCode": "PROCESSING_HALTED",
                    "message": "The transaction was rolled back since another operation in the same "
                    "transaction failed.",
                }
            ],
            "httpHeaders": {},
            "httpStatusCode": 400,
            "referenceId": ref_id,
        }

    # ------------------------------------------------------------------ Bulk API 2.0 query

    def bulk_query(self, call: Call, p: list[str]) -> Answer:
        engine = SoqlEngine(self.store, call.version)
        if not p:
            self._allow(call, "POST")
            timeout = call.faults.query_timeout(call.number)
            return Answer(
                200,
                bulk.create_query_job(
                    self.store,
                    engine,
                    call.body(),
                    call.version,
                    fail_with=None if timeout is None else f"{timeout.code}: {timeout.message}",
                ),
            )
        job_id = p[0]
        if len(p) == 1:
            self._allow(call, "GET", "PATCH", "DELETE")
            if call.method == "GET":
                return Answer(200, bulk.job_info(self.store, job_id))
            if call.method == "PATCH":
                return Answer(200, bulk.abort_job(self.store, job_id, call.body()))
            bulk.delete_job(self.store, job_id)
            return Answer(204)
        if len(p) == 2 and p[1] == "results":
            self._allow(call, "GET")
            text, locator, count = bulk.results(self.store, engine, job_id, call.params)
            return Answer(200, text, {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)})
        raise not_found()
