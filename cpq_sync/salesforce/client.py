"""The Salesforce connection: a real simple_salesforce.Salesforce, logged in to the configured org or to the
sandbox org, wrapped so that an expired session logs in again and transient errors are retried with backoff."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from tenacity import (
    Retrying,
    retry,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from cpq_sync.config import Settings, Target
from cpq_sync.errors import SyncError

log = logging.getLogger(__name__)
T = TypeVar("T")
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
TRANSIENT_CODES = ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG")
QUERY_TIMEOUT = "QUERY_TIMEOUT"
RECORD_RETRIES = 5  # further attempts of a record a collection write failed with a transient error (a row lock)


class QuotaExceeded(SyncError):
    """The org's daily API allocation (or this run's share of it) is used up: the run stops cleanly."""


def error_code(exc: Exception) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", ""))
    return ""


def error_text(exc: Exception) -> str:
    """A Salesforce error as the user reads it (code and message; never the session id or URL query)."""
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return f"Salesforce Error: {first.get('errorCode', '')}: {first.get('message', '')}".strip()
    return f"Salesforce Error: {type(exc).__name__}"


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    if isinstance(exc, SalesforceGeneralError):
        return getattr(exc, "status", 0) >= 500 or error_code(exc) in TRANSIENT_CODES
    if isinstance(exc, SalesforceMalformedRequest | SalesforceRefusedRequest):
        return error_code(exc) in TRANSIENT_CODES
    return False


def is_query_timeout(exc: BaseException) -> bool:
    """QUERY_TIMEOUT: the query ran too long. A windowed extract narrows its window; any other query retries."""
    return isinstance(exc, SalesforceMalformedRequest) and error_code(exc) == QUERY_TIMEOUT


def _transient_record(result: dict[str, Any]) -> bool:
    errors = result.get("errors") or []
    return not result.get("success") and bool(errors) and all(e.get("statusCode") in TRANSIENT_CODES for e in errors)


def login(settings: Settings) -> Salesforce:
    """A logged-in client for the configured target."""
    if settings.target is Target.SANDBOX:
        from cpq_sync.sandbox.salesforce import connect

        session = settings.salesforce.access_token
        return connect(settings.runtime.sandbox, session_id=session.get_secret_value() if session else None)
    creds = settings.salesforce
    method = creds.method
    if method == "access_token":
        assert creds.instance_url and creds.access_token
        return Salesforce(instance_url=creds.instance_url, session_id=creds.access_token.get_secret_value())
    if method == "jwt":
        return Salesforce(
            username=creds.username,
            consumer_key=creds.consumer_key,
            privatekey_file=str(creds.private_key_file),
            domain=creds.domain,
        )
    assert creds.password is not None
    token = creds.security_token.get_secret_value() if creds.security_token else ""
    return Salesforce(
        username=creds.username,
        password=creds.password.get_secret_value(),
        security_token=token,
        domain=creds.domain,
    )


class OrgClient:
    """One org connection for a run: re-logs in on an expired session, retries transient errors, and keeps the
    run within its share of the org's daily API allocation (read from `Sforce-Limit-Info`, which costs nothing).
    `retry_wait` is the backoff between attempts (tenacity's; the fault matrix shortens it)."""

    retry_wait: wait_base = wait_exponential_jitter(multiplier=0.5, max=8)

    def __init__(self, factory: Callable[[], Salesforce], *, run_share_percent: float = 100.0) -> None:
        self._factory = factory
        self.server_time: dt.datetime | None = None  # the org's clock: the `Date` of its latest answer
        self.sf = self._connected(factory())
        self.run_share_percent = run_share_percent
        self.calls_at_start: int | None = None
        # called once when a query names a field the org does not have (e.g. to forget cached describes)
        self.on_invalid_field: Callable[[], None] | None = None

    def _connected(self, sf: Salesforce) -> Salesforce:
        hooks = getattr(getattr(sf, "session", None), "hooks", None)
        if isinstance(hooks, dict):
            hooks.setdefault("response", []).append(self._clock)
        return sf

    def _clock(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Keeps the org's time from the `Date` header every answer carries (whole seconds, so rounded down)."""
        value = response.headers.get("Date")
        if not value:
            return
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return
        if when.tzinfo is not None:
            self.server_time = when.astimezone(dt.UTC)

    @property
    def instance_url(self) -> str:
        return f"https://{self.sf.sf_instance}"

    def usage(self) -> tuple[int, int] | None:
        usage = getattr(self.sf, "api_usage", {}).get("api-usage")
        if usage is None:
            return None
        return int(usage.used), int(usage.total)

    def calls_used(self) -> int:
        usage = self.usage()
        if usage is None or self.calls_at_start is None:
            return 0
        return usage[0] - self.calls_at_start

    def _check_budget(self) -> None:
        usage = self.usage()
        if usage is None:
            return
        used, total = usage
        if self.calls_at_start is None:
            self.calls_at_start = used - 1
        if total and (used - self.calls_at_start) > total * self.run_share_percent / 100:
            raise QuotaExceeded(
                f"this run used {used - self.calls_at_start} Salesforce API calls, its share "
                f"({self.run_share_percent:g}% of the org's {total} a day); it stops here and the next run continues"
            )

    def call(self, fn: Callable[[Salesforce], T], *, narrowable: bool = False) -> T:
        """One API call, retried on transient errors; a QUERY_TIMEOUT is retried too unless the caller can narrow
        its query (`narrowable`: it gets the error and asks for less)."""

        def retryable(exc: BaseException) -> bool:
            return is_transient(exc) or (not narrowable and is_query_timeout(exc))

        @retry(
            retry=retry_if_exception(retryable),
            wait=self.retry_wait,
            stop=stop_after_attempt(6),
            reraise=True,
        )
        def attempt() -> T:
            try:
                return fn(self.sf)
            except SalesforceExpiredSession:
                log.info("Salesforce session expired; logging in again")
                self.sf = self._connected(self._factory())
                return fn(self.sf)
            except SalesforceMalformedRequest as exc:
                if error_code(exc) == "INVALID_FIELD" and self.on_invalid_field is not None:
                    hook, self.on_invalid_field = self.on_invalid_field, None
                    hook()
                raise
            except SalesforceRefusedRequest as exc:
                if error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                    raise QuotaExceeded(
                        "the org's daily API request limit is exceeded (REQUEST_LIMIT_EXCEEDED); "
                        "the run stops and keeps its watermark, the next run continues"
                    ) from None
                raise

        result = attempt()
        self._check_budget()
        return result

    def query_all_iter(self, soql: str, *, narrowable: bool = False) -> Any:
        """Pages through a query; each page is one call, retried and re-authenticated on its own."""
        yield from self.records_from(self.first_page(soql, narrowable=narrowable))

    def first_page(self, soql: str, *, narrowable: bool = False) -> dict[str, Any]:
        """A query's first page: its records, and `totalSize`, how many the whole query returns."""
        log.debug("SOQL: %s", soql)
        page: dict[str, Any] = self.call(lambda sf: sf.query(soql), narrowable=narrowable)
        return page

    def records_from(self, result: dict[str, Any]) -> Any:
        """The records of a query from its first page on, one call per further page."""
        while True:
            yield from result["records"]
            if result.get("done", True):
                return
            result = self.query_more(result["nextRecordsUrl"])

    def query_more(self, next_url: str) -> dict[str, Any]:
        def more(sf: Salesforce) -> dict[str, Any]:
            page: dict[str, Any] = sf.query_more(next_url, identifier_is_url=True)
            return page

        return self.call(more)

    def restful(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        return self.call(lambda sf: sf.restful(path, method=method, **kwargs))

    def write_collection(self, path: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """An sObject Collections PATCH (update, or upsert on an external id path) with `allOrNone` false; the
        records that failed with a transient error (UNABLE_TO_LOCK_ROW) are sent again, alone, with backoff.
        Returns one result per record, in order."""
        results: list[dict[str, Any]] = [{} for _ in records]
        pending = list(range(len(records)))

        def attempt() -> list[int]:
            nonlocal pending
            answers = self.restful(path, "PATCH", json={"allOrNone": False, "records": [records[i] for i in pending]})
            for index, answer in zip(pending, answers, strict=True):
                results[index] = answer
            pending = [i for i in pending if _transient_record(results[i])]
            if pending:
                log.info("%d records were locked; writing them again", len(pending))
            return pending

        if records:
            Retrying(
                retry=retry_if_result(bool),
                wait=self.retry_wait,
                stop=stop_after_attempt(RECORD_RETRIES + 1),
                retry_error_callback=lambda _state: None,
            )(attempt)
        return results
