"""Keeps secrets out of logs: a logging filter that masks the configured secret values and anything shaped like
a Stripe key or a Salesforce session id, whatever logger emits it (ours, stripe, simple_salesforce, Prefect)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[redacted]"
PATTERNS = (
    re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]{6,}"),
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{20,}"),  # Salesforce session ids / access tokens
    re.compile(r"(?i)(authorization:\s*(?:bearer|basic)\s+)[^\s'\"]+"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(str(record.exc_info[1]), self.secrets)
            if text != str(record.exc_info[1]):
                record.exc_text = f"{type(record.exc_info[1]).__name__}: {text}"
                record.exc_info = None
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
