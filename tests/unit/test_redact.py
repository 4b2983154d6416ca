"""Secrets never reach a log line, whichever logger emits them."""

import logging
import sys

import pytest

from cpq_sync.redact import MASK, RedactingFilter, redact


@pytest.mark.parametrize(
    "secret",
    [
        "sk_test_51HxYzAbCdEfGhIjKlMnOp",
        "rk_live_51HxYzAbCdEfGhIjKlMnOp",
        "00D5g000004XyZaEAK!AQ0AQHf8.abcdefghijklmnopqrstuvwxyz0123456789",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    ],
)
def test_known_secret_shapes_are_masked(secret: str) -> None:
    text = f"request failed with {secret} in it"
    assert secret not in redact(text)
    assert MASK in redact(text)


def test_configured_secret_values_and_authorization_headers_are_masked() -> None:
    assert redact("login as bob with hunter2-password", ["hunter2-password"]) == f"login as bob with {MASK}"
    assert redact("Authorization: Bearer abc.def.ghi") == f"Authorization: Bearer {MASK}"


def test_the_filter_cleans_records_of_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("stripe")
    flt = RedactingFilter(["my-password"])
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.DEBUG, logger="stripe"):
            logger.debug("api_key=%s password=%s", "sk_test_51HxYzAbCdEfGhIjKlMnOp", "my-password")
    finally:
        logger.removeFilter(flt)
    assert "sk_test_51" not in caplog.text and "my-password" not in caplog.text


def test_install_cleans_records_of_child_loggers_and_late_handlers(caplog: pytest.LogCaptureFixture) -> None:
    from cpq_sync.redact import install

    original = logging.getLogRecordFactory()
    install(["s3cr3t-token"])
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("simple_salesforce.api.deep").warning("session %s", "s3cr3t-token")
    finally:
        logging.setLogRecordFactory(original)
    assert "s3cr3t-token" not in caplog.text and MASK in caplog.text


def test_encoded_forms_of_a_configured_secret_are_masked() -> None:
    import base64
    from urllib.parse import quote

    secret = "p@ss word/+=secret"
    for form in (quote(secret, safe=""), base64.b64encode(secret.encode()).decode()):
        assert redact(f"body={form}&x=1", [secret]) == f"body={MASK}&x=1"


def test_a_secret_in_a_chained_cause_is_masked_in_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("cpq_sync.test")
    record: logging.LogRecord | None = None
    try:
        try:
            raise ValueError("login failed for password hunter2-password")
        except ValueError as cause:
            raise RuntimeError("step 'prepare' failed") from cause
    except RuntimeError:
        record = logger.makeRecord("cpq_sync.test", logging.ERROR, __file__, 1, "run failed", (), sys.exc_info())
    RedactingFilter(["hunter2-password"]).filter(record)
    text = logging.Formatter().format(record)
    assert "step 'prepare' failed" in text and "login failed for password" in text
    assert "hunter2" not in text
