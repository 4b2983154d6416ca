"""Keeps secrets out of logs: a logging filter that masks the configured secret values (and their URL-encoded and
base64 forms) and anything shaped like a Stripe key, a Salesforce session id, an Authorization header or a private
key, whatever logger emits it (ours, stripe, simple_salesforce, urllib3, Prefect), in messages and tracebacks."""

from __future__ import annotations

import base64
import logging
import re
import traceback
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
PATTERNS = (
    re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]{6,}"),
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{20,}"),  # Salesforce session ids / access tokens
    re.compile(r"(?i)(authorization:\s*(?:bearer|basic)\s+)[^\s'\"]+"),
    re.compile(r"(?i)(['\"]authorization['\"]:\s*['\"](?:bearer|basic)\s+)[^'\"]+"),  # a headers dict's repr
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)
MIN_SECRET = 4


def encoded_forms(secret: str) -> list[str]:
    """The secret as it may travel: itself, URL-encoded (query strings, form bodies) and base64 (Basic auth)."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return sorted(forms, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            for form in encoded_forms(secret):
                text = text.replace(form, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # The whole traceback, chained causes included (a clean message may wrap a cause carrying a secret).
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            cleaned = redact(text, self.secrets)
            if cleaned != text:
                record.exc_text, record.exc_info = cleaned, None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def install(secrets: Iterable[str] = ()) -> None:
    """Masks secrets in every log record from now on, whatever logger or handler it goes through: the record
    factory itself cleans each record as it is made (handlers added later, e.g. Prefect's, are covered too)."""
    flt = RedactingFilter(secrets)
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_cpq_sync_redacting", False):
        previous = previous._cpq_sync_previous  # type: ignore[attr-defined]

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        flt.filter(record)
        return record

    factory._cpq_sync_redacting = True  # type: ignore[attr-defined]
    factory._cpq_sync_previous = previous  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
