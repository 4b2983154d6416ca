"""``SandboxHTTPClient``: a ``stripe.HTTPClient`` that serves the account stored in a directory.

The SDK encodes requests and parses responses exactly as against Stripe, and its retry logic (429 with
``Stripe-Should-Retry``, 5xx, connection errors, reusing its Idempotency-Key) runs above this client.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import stripe
from requests.structures import CaseInsensitiveDict
from stripe._api_version import _ApiVersion

from cpq_sync.sandbox.stripe import idempotency, ids, keys, request_log, router, value_limits, wire
from cpq_sync.sandbox.stripe.clock import read_clock
from cpq_sync.sandbox.stripe.errors import (
    StripeError,
    api_error,
    invalid_request,
    rate_limited,
    unknown_endpoint,
)
from cpq_sync.sandbox.stripe.faults import FaultDice, StripeFaults, load_faults, over_rate_limit
from cpq_sync.sandbox.stripe.request_log import LoggedRequest, utcnow
from cpq_sync.sandbox.stripe.store import Store
from cpq_sync.stripe.param_types import ParamError, check_params

ROUTE_PACKAGES = ("cpq_sync.sandbox.stripe.resources", "cpq_sync.sandbox.stripe.billing")
_loaded = False
_load_lock = threading.Lock()


def load_routes() -> None:
    """Import the packages whose modules register routes (once)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        for name in ROUTE_PACKAGES:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        _loaded = True


class _Outcome:
    def __init__(self, status: int, body: str, request_id: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.request_id = request_id
        self.headers = headers or {}


class SandboxHTTPClient(stripe.HTTPClient):
    """Serves ``DIR/stripe.sqlite3``. ``faults=None`` reads the faults persisted by ``set_faults``."""

    name = "cpq-sync-sandbox"

    def __init__(self, directory: str | Path, faults: StripeFaults | None = None) -> None:
        super().__init__()
        load_routes()
        self.directory = Path(directory)
        self.store = Store(self.directory)
        self._faults = faults
        self._dice = FaultDice()
        self._dice_lock = threading.Lock()

    # -- stripe.HTTPClient
    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        return self._serve(method, url, headers or {}, post_data)

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        return self._serve(method, url, headers or {}, post_data)

    def close(self) -> None:
        self.store.close()

    # -- serving
    def _serve(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> tuple[str, int, Mapping[str, str]]:
        method = method.upper()
        parts = urlsplit(url)
        path = parts.path
        lower_headers = {k.lower(): v for k, v in headers.items()}
        key = lower_headers.get("idempotency-key")
        request_id = ids.new_request_id()
        try:
            raw = parts.query if method in ("GET", "DELETE") else _text(post_data)
            params = wire.decode(raw)
        except StripeError as err:
            outcome = _Outcome(err.status, json.dumps(err.body(request_id)), request_id)
            with self.store.transaction():
                self._log(method, path, {}, key, outcome.status, request_id, None, None)
            return self._respond(outcome, request_id, key, replayed=False)

        faults = self._faults if self._faults is not None else load_faults(self.store)
        draws = None
        if faults is not None:
            with self._dice_lock:
                draws = self._dice.roll(faults)
            if draws.latency_seconds:
                time.sleep(draws.latency_seconds)
            if draws.connection_error:
                with self.store.transaction():
                    self._log(method, path, params, key, None, request_id, None, "connection_error")
                raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                    "Unexpected error communicating with Stripe. (Network error: sandbox fault: connection "
                    "error before the request reached the account)",
                    should_retry=True,
                )

        replayed = False
        timed_out = False
        with self.store.transaction():
            fault: str | None = "latency_spike" if draws is not None and draws.latency_spike else None
            if (
                faults is not None
                and faults.rate_limit_per_second
                and over_rate_limit(self.store, faults.rate_limit_per_second)
            ):
                limited = rate_limited()
                outcome = _Outcome(limited.status, json.dumps(limited.body(request_id)), request_id, limited.headers)
                fault = "rate_limit"
            elif draws is not None and draws.server_error is not None:
                failed = api_error("An unknown error occurred (sandbox fault).", draws.server_error)
                outcome = _Outcome(failed.status, json.dumps(failed.body(request_id)), request_id)
                fault = "server_error"
            else:
                outcome, replayed = self._handle(method, path, params, headers, lower_headers, key, request_id)
                applied = method in ("POST", "DELETE") and not replayed and outcome.status == 200
                if draws is not None and draws.timeout_after_apply and applied:
                    fault = "timeout_after_apply"
                    timed_out = True
            object_id = _object_id(outcome)
            self._log(
                method,
                path,
                params,
                key,
                None if timed_out else outcome.status,
                request_id,
                object_id,
                fault,
                replayed,
            )
        if timed_out:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                "Request to Stripe timed out. (Network error: sandbox fault: timeout after the request was applied)",
                should_retry=True,
            )
        return self._respond(outcome, request_id, key, replayed=replayed)

    def _handle(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        headers: Mapping[str, str],
        lower_headers: Mapping[str, str],
        key: str | None,
        request_id: str,
    ) -> tuple[_Outcome, bool]:
        store = self.store
        print_ = idempotency.fingerprint(method, path, params)
        use_key = key is not None and method == "POST"
        try:
            keys.authorize(store, method, path, lower_headers.get("authorization"))
            version = lower_headers.get("stripe-version")
            if version is not None and version != _ApiVersion.CURRENT:
                raise invalid_request(
                    f"The sandbox Stripe account emulates API version {_ApiVersion.CURRENT} only, not {version}.",
                    param="Stripe-Version",
                )
            value_limits.check_idempotency_key(key)
            if use_key:
                assert key is not None
                saved = idempotency.lookup(store, key, print_)
                if saved is not None:
                    return _Outcome(saved.status, saved.body, saved.request_id), True
            found = router.resolve(method, path)
            if found is None:
                raise unknown_endpoint(method, path)
            matched, path_params = found
            if matched.check:
                try:
                    check_params(method, matched.template, params, typed_dict=matched.params_type)
                except ParamError as err:
                    raise invalid_request(err.message, param=err.param) from None
            value_limits.check_request(matched.template, params)
        except StripeError as err:
            return _Outcome(err.status, json.dumps(err.body(request_id)), request_id, err.headers), False

        ctx = router.RequestContext(
            store=store,
            method=method,
            path=path,
            template=matched.template,
            path_params=path_params,
            params=copy.deepcopy(params),  # handlers may edit theirs; the log keeps what was sent
            now=read_clock(store),
            directory=self.directory,
            idempotency_key=key,
            request_id=request_id,
        )
        conn = store.db
        conn.execute("SAVEPOINT handler")
        try:
            for hook in router.before_request_hooks():
                hook(ctx)
            body = matched.handler(ctx)
            if ctx.expand:
                body = router.apply_expand(store, body, ctx.expand)
            outcome = _Outcome(200, json.dumps(body), request_id)
            conn.execute("RELEASE handler")
        except StripeError as err:
            conn.execute("ROLLBACK TO handler")
            conn.execute("RELEASE handler")
            outcome = _Outcome(err.status, json.dumps(err.body(request_id)), request_id, err.headers)
        if use_key:
            assert key is not None
            idempotency.save(store, key, print_, outcome.status, outcome.body, outcome.request_id)
        return outcome, False

    def _log(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        status: int | None,
        request_id: str,
        object_id: str | None,
        fault: str | None,
        replayed: bool = False,
    ) -> None:
        request_log.append(
            self.store,
            LoggedRequest(
                at=utcnow(),
                method=method,
                path=path,
                params=params,
                idempotency_key=key,
                status=status,
                request_id=request_id,
                object_id=object_id,
                fault=fault,
                replayed=replayed,
            ),
        )

    @staticmethod
    def _respond(
        outcome: _Outcome, request_id: str, key: str | None, *, replayed: bool
    ) -> tuple[str, int, Mapping[str, str]]:
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        headers["Content-Type"] = "application/json"
        headers["Request-Id"] = request_id
        headers["Original-Request"] = outcome.request_id
        headers["Stripe-Version"] = _ApiVersion.CURRENT
        if key is not None:
            headers["Idempotency-Key"] = key
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        for name, value in outcome.headers.items():
            headers[name] = value
        return outcome.body, outcome.status, headers


def _text(post_data: Any) -> str:
    if post_data is None:
        return ""
    if isinstance(post_data, bytes):
        return post_data.decode()
    return str(post_data)


def _object_id(outcome: _Outcome) -> str | None:
    if outcome.status != 200:
        return None
    try:
        body = json.loads(outcome.body)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("object") not in ("list", "search_result"):
        value = body.get("id")
        return value if isinstance(value, str) else None
    return None
