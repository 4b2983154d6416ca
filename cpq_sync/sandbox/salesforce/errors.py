"""The errors the sandbox org answers with, in Salesforce's shape ``[{"errorCode", "message", "fields"}]``."""

from __future__ import annotations

from typing import Any


class SalesforceError(Exception):
    """An error Salesforce would answer with: an HTTP status, an error code and a message."""

    def __init__(self, code: str, message: str, *, status: int = 400, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields or []

    def as_json(self) -> dict[str, Any]:
        """One entry of the error array (record-level errors carry ``fields``, request-level ones do not)."""
        return {"errorCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_request_json(self) -> list[dict[str, Any]]:
        """The body of a request-level error answer."""
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            body["fields"] = list(self.fields)
        return [body]

    def as_record_error(self) -> dict[str, Any]:
        """An error inside a SaveResult / UpsertResult (``statusCode`` instead of ``errorCode``)."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}


def malformed(message: str) -> SalesforceError:
    return SalesforceError("MALFORMED_QUERY", message)


def invalid_field(message: str) -> SalesforceError:
    return SalesforceError("INVALID_FIELD", message)


def invalid_type(name: str) -> SalesforceError:
    return SalesforceError(
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
        "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def not_found(message: str = "The requested resource does not exist") -> SalesforceError:
    return SalesforceError("NOT_FOUND", message, status=404)
