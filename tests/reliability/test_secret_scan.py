"""No secret leaks: syncs run with recognisable fake credentials, every logger at DEBUG, through the Prefect flow
and the CLI (dry run, real run, failing runs), and everything they produced is searched for the secrets, for any
8-character fragment of them, and for their base64 and URL-encoded forms.

What is searched: every log record (all loggers, with tracebacks), stdout and stderr, the CLI's output, the flow
runs' logs, parameters, state messages and artifacts read back from the Prefect server, the task runs' states,
the exceptions of failed runs with their tracebacks (causes included), every row the sync wrote to the sandbox
org (Sync Records and every other object) and to the sandbox Stripe account (objects, request log, idempotency
answers), and every other file under the sandbox directory. The sandbox org's own table of the sessions it issued
is the server's, not the sync's output, and is left out (as Salesforce keeps its sessions)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import re
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterFlowRunId,
)
from typer.testing import CliRunner

from cpq_sync.cli import app
from cpq_sync.ops.credentials import BLOCK_NAME, register_secret_block
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from flows.sync import SyncParameters, sync_flow
from tests.reliability.stripe_permissions import readme_permissions

pytestmark = [
    pytest.mark.xdist_group("prefect"),
    pytest.mark.usefixtures("prefect_server"),
    # the library loggers also feed the flow runs' logs; outside a run (the test's own org edits) they are dropped
    pytest.mark.filterwarnings("ignore:Logger .* attempted to send logs to the API without a flow run id"),
]

STRIPE_KEY = "rk_test_51ScanFAKEstripeRESTRICTEDkeyQw3rTy9UiOp"
UNREGISTERED_KEY = "rk_test_51ScanUNKNOWNbadCREDENTIALkeyZx8Cv7Bn6M"
PASSWORD = "Fake-Passw0rd!scan#7781"
SECURITY_TOKEN = "FAKEsecTOKENscan9x8y7z6w"
PEM_BODY = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDScanFakeKey01",
    "q3Zt0sRPrivateKEYbodyLINEtwoNotARealKeyJustRecognisableText0002",
    "ZmFrZSBwcml2YXRlIGtleSBmb3IgdGhlIHNlY3JldCBzY2FuIHRlc3QgMDAwMw==",
]
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END PRIVATE KEY-----\n"
DEBUG_LOGGERS = ("", "stripe", "simple_salesforce", "urllib3", "requests", "httpx", "httpcore", "prefect", "cpq_sync")


def needles(secret: str, public_prefix: str = "") -> set[str]:
    """The secret, its encodings, and every 8-character fragment of its private part."""
    private = secret.removeprefix(public_prefix)
    found = {private[i : i + 8] for i in range(len(private) - 7)}
    for form in (secret, private):
        raw = form.encode()
        found |= {
            form,
            quote(form, safe=""),
            quote_plus(form),
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
        }
    return found


class Scanner:
    """Everything the runs produced, by source; `leaks()` names each source where a secret shows."""

    def __init__(self, secrets: dict[str, tuple[str, str]]) -> None:
        self.patterns = {
            name: re.compile("|".join(re.escape(n) for n in sorted(needles(value, prefix), key=len, reverse=True)))
            for name, (value, prefix) in secrets.items()
        }
        self.sources: dict[str, list[str]] = {}

    def add(self, source: str, text: str) -> None:
        self.sources.setdefault(source, []).append(text)

    def leaks(self) -> list[str]:
        found = []
        for source, texts in self.sources.items():
            text = "\n".join(texts)
            for name, pattern in self.patterns.items():
                match = pattern.search(text)
                if match:
                    around = text[max(match.start() - 120, 0) : match.end() + 120]
                    found.append(f"{name} in {source}: ...{around}...")
        return found


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.stream.write(self.format(record) + "\n")


@pytest.fixture
def debug_logs() -> Iterator[_Capture]:
    """Every logger at DEBUG, captured with tracebacks; also sent to the flow runs' logs on the server."""
    from prefect.logging.handlers import APILogHandler

    capture = _Capture()
    api = APILogHandler()
    api.setLevel(logging.DEBUG)
    saved = {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}
    root = logging.getLogger()
    root.addHandler(capture)
    library = [logging.getLogger(n) for n in ("stripe", "simple_salesforce", "urllib3", "cpq_sync")]
    for logger in library:
        logger.addHandler(api)
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for logger in library:
            logger.removeHandler(api)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def chatty_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both transports log every request's headers (Authorization included) at DEBUG, as a transport with wire
    logging does: the redaction, not luck, must keep the key and the session id out of every log."""
    from cpq_sync.sandbox.salesforce.adapter import SandboxAdapter
    from cpq_sync.sandbox.stripe.http_client import SandboxHTTPClient

    wire = logging.getLogger("urllib3.connectionpool")
    stripe_request, salesforce_send = SandboxHTTPClient.request, SandboxAdapter.send

    def stripe_logged(self: SandboxHTTPClient, method: str, url: str, headers: Any, *args: Any, **kw: Any) -> Any:
        wire.debug("send: %s %s headers=%r", method.upper(), url, dict(headers or {}))
        return stripe_request(self, method, url, headers, *args, **kw)

    def salesforce_logged(self: SandboxAdapter, request: Any, *args: Any, **kw: Any) -> Any:
        wire.debug("send: %s %s headers=%r", request.method, request.url, dict(request.headers))
        return salesforce_send(self, request, *args, **kw)

    monkeypatch.setattr(SandboxHTTPClient, "request", stripe_logged)
    monkeypatch.setattr(SandboxAdapter, "send", salesforce_logged)


@pytest.fixture
def credentials(sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials the sandboxes accept: a restricted key granting the README's permissions, a session the
    sandbox org issued, and a password, security token and JWT private key that are configured but unused."""
    sandbox_sf.seed_org(sandbox, orders=40, seed=3)
    sandbox_stripe.add_api_key(sandbox, STRIPE_KEY, readme_permissions())
    key_file = tmp_path / "keys" / "server.key"
    key_file.parent.mkdir()
    key_file.write_text(PEM)
    env = {
        "CPQ_SYNC_TARGET": "sandbox",
        "STRIPE_API_KEY": STRIPE_KEY,
        "SALESFORCE_USERNAME": "integration@acme.example",
        "SALESFORCE_PASSWORD": PASSWORD,
        "SALESFORCE_SECURITY_TOKEN": SECURITY_TOKEN,
        "SALESFORCE_INSTANCE_URL": sandbox_sf.INSTANCE_URL,
        "SALESFORCE_ACCESS_TOKEN": sandbox_sf.new_session(sandbox),
        "SALESFORCE_CONSUMER_KEY": "3MVG9ScanConsumerKey",
        "SALESFORCE_PRIVATE_KEY_FILE": str(key_file),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _secrets(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    session = env["SALESFORCE_ACCESS_TOKEN"]
    return {
        "Stripe key": (STRIPE_KEY, "rk_test_"),
        "unregistered Stripe key": (UNREGISTERED_KEY, "rk_test_"),
        "Salesforce password": (PASSWORD, ""),
        "security token": (SECURITY_TOKEN, ""),
        "password+token": (PASSWORD + SECURITY_TOKEN, ""),
        "session id": (session, session.split("!")[0] + "!"),  # the org id before the '!' is public
        **{f"private key line {i}": (line, "") for i, line in enumerate(PEM_BODY)},
    }


def _rows(database: Path, skip_tables: tuple[str, ...] = ()) -> Iterator[str]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in tables:
            if name in skip_tables:
                continue
            for row in conn.execute(f'SELECT * FROM "{name}"'):
                yield f"{name}: " + " | ".join(
                    v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row
                )
    finally:
        conn.close()


def scan_sandbox_dir(directory: Path, scanner: Scanner) -> int:
    """Every row of the two sandboxes' databases (the org's session table aside) and every other file."""
    rows = 0
    databases = {directory / "salesforce.sqlite3": ("_sessions",), directory / "stripe.sqlite3": ()}
    for database, skip in databases.items():
        for row in _rows(database, skip):
            scanner.add(f"sandbox database {database.name}", row)
            rows += 1
    covered = {str(db) + suffix for db in databases for suffix in ("", "-wal", "-shm", "-journal")}
    for path in directory.rglob("*"):
        if path.is_file() and str(path) not in covered:
            scanner.add(f"file {path.relative_to(directory)}", path.read_bytes().decode(errors="replace"))
    return rows


def scan_prefect(scanner: Scanner, since: dt.datetime) -> list[str]:
    """The flow runs started since `since` (parameters, state), their task runs, logs and artifacts, read back
    from the server; returns the log messages."""
    messages = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)))
        assert len(runs) >= 3
        for run in runs:
            scanner.add("flow-run parameters", json.dumps(run.parameters, default=str))
            state = run.state
            scanner.add("flow-run state", f"{run.name} {state.name if state else ''} {state.message if state else ''}")
            offset = 0
            while True:
                page = client.read_logs(
                    LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200, offset=offset
                )
                for log in page:
                    scanner.add("flow-run logs", f"{log.name} {log.message}")
                    messages.append(log.message)
                if len(page) < 200:
                    break
                offset += 200
        ours = FlowRunFilter(id=FlowRunFilterId(any_=[run.id for run in runs]))
        for task_run in client.read_task_runs(flow_run_filter=ours):
            state = task_run.state
            scanner.add("task-run state", f"{task_run.name} {state.message if state else ''}")
        artifacts = client.read_artifacts(flow_run_filter=ours)
        assert {a.key for a in artifacts} >= {"sync-summary", "sync-objects"}
        for artifact in artifacts:
            scanner.add("artifacts", json.dumps([artifact.key, artifact.description, artifact.data], default=str))
    return messages


def test_scanner_finds_a_planted_secret_in_any_form() -> None:
    scanner = Scanner({"password": (PASSWORD, "")})
    for i, text in enumerate(
        [PASSWORD[3:12], quote(PASSWORD, safe=""), base64.b64encode(PASSWORD.encode()).decode(), "nothing"]
    ):
        scanner.add(f"source {i}", f"before {text} after")
    assert [leak.split(":")[0] for leak in scanner.leaks()] == [
        "password in source 0",
        "password in source 1",
        "password in source 2",
    ]


def test_no_secret_reaches_any_output(
    sandbox: Path,
    credentials: dict[str, str],
    debug_logs: _Capture,
    chatty_transports: None,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanner = Scanner(_secrets(credentials))
    runner = CliRunner()
    started = dt.datetime.now(dt.UTC)

    # 1. the CLI's dry run, at DEBUG
    dry = runner.invoke(app, ["sync", "--full", "--dry-run", "--verbose"])
    assert "Plan (dry run: nothing is written)" in dry.output, dry.output
    scanner.add("CLI dry-run output", dry.output)

    # 2. a full sync through the Prefect flow, the credentials coming from the Prefect Secret block
    block_values = {k: v for k, v in credentials.items() if k != "CPQ_SYNC_TARGET"}
    register_secret_block(block_values)
    try:
        for name in block_values:
            monkeypatch.delenv(name)
        report = sync_flow(SyncParameters(full=True))
    finally:
        with get_client(sync_client=True) as client:
            client.delete_block_document(client.read_block_document_by_name(BLOCK_NAME, "secret").id)
    assert report.synced_orders and not report.failed  # the demo company syncs whole (the failure paths follow)
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)

    # 3. failing runs: an unknown Stripe key (every Stripe call answers 401) and a session the org never issued
    monkeypatch.setenv("STRIPE_API_KEY", UNREGISTERED_KEY)
    sf = sandbox_sf.connect(sandbox)
    sf.Account.update(sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"], {"Phone": "+1 555 0100"})
    bad_key = runner.invoke(app, ["sync", "--verbose"])  # the CLI's real (incremental) run
    assert bad_key.exit_code == 1, bad_key.output
    assert "Stripe Error: Invalid API Key provided:" in bad_key.output, bad_key.output
    scanner.add("CLI output (bad Stripe key)", bad_key.output)
    if bad_key.exception is not None and not isinstance(bad_key.exception, SystemExit):
        scanner.add("CLI exception", "".join(traceback.format_exception(bad_key.exception)))

    monkeypatch.setenv("STRIPE_API_KEY", STRIPE_KEY)
    forged = credentials["SALESFORCE_ACCESS_TOKEN"][:-6] + "Zz9Yx8"
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", forged)
    with pytest.raises(Exception) as failed:
        sync_flow(SyncParameters(full=True))
    assert "INVALID_SESSION_ID" in str(failed.value)
    scanner.add("failed run's exception", "".join(traceback.format_exception(failed.value)))

    # everything the runs produced
    out, err = capfd.readouterr()
    scanner.add("stdout", out)
    scanner.add("stderr", err)
    logs = debug_logs.stream.getvalue()
    scanner.add("log records", logs)
    server_logs = scan_prefect(scanner, started)
    rows = scan_sandbox_dir(sandbox, scanner)
    sync_records = sf.query_all("SELECT Id, Name, Resolution_Status__c, Resolution_Message__c FROM Sync_Record__c")[
        "records"
    ]
    scanner.add("Sync Records", json.dumps(sync_records))
    scanner.add(
        "Stripe request log", json.dumps([r.model_dump(mode="json") for r in sandbox_stripe.request_log(sandbox)])
    )

    # the scan saw what it should: DEBUG lines of every library, the runs' logs on the server, the org's rows
    assert {"stripe", "cpq_sync.salesforce.client", "prefect.flow_runs", "prefect.task_runs"} <= debug_logs.names
    assert "SOQL: SELECT" in logs and "Invalid API Key provided" in logs and "'Authorization': 'Bearer " in logs
    assert any("SOQL: SELECT" in m for m in server_logs) and any("sync done" in m for m in server_logs)
    assert len(sync_records) > 0 and rows > 1000
    assert scanner.leaks() == []
