"""Settings: credentials from the environment, sync preferences from `mappings/preferences.yaml`.

Credentials are `SecretStr` so they never print; which target a run uses is decided here once:
both Salesforce and Stripe configured (production), neither (the two sandboxes), or a clear error.
`CPQ_SYNC_TARGET=sandbox` keeps the sandboxes while credentials are set: the sandbox Stripe account then
authenticates the run with `STRIPE_API_KEY` (a key registered with `cpq_sync.sandbox.stripe.add_api_key`, e.g. a
restricted key) and the sandbox org with `SALESFORCE_ACCESS_TOKEN` (a session it issued).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cpq_sync import redact
from cpq_sync.errors import ConfigError, yaml_problem

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAPPINGS_DIR = REPO_ROOT / "mappings"


class Target(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class SalesforceSettings(BaseSettings):
    """Salesforce credentials: username + password + token, instance URL + access token, or JWT bearer."""

    model_config = SettingsConfigDict(env_prefix="SALESFORCE_", extra="ignore")

    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    domain: Literal["login", "test"] | str = "login"
    instance_url: str | None = None
    access_token: SecretStr | None = None
    consumer_key: str | None = None
    private_key_file: Path | None = None

    @property
    def method(self) -> Literal["password", "access_token", "jwt"] | None:
        if self.instance_url and self.access_token:
            return "access_token"
        if self.username and self.consumer_key and self.private_key_file:
            return "jwt"
        if self.username and self.password:
            return "password"
        return None

    @property
    def partially_configured(self) -> bool:
        fields = (self.username, self.password, self.instance_url, self.access_token, self.consumer_key)
        return any(v is not None for v in fields) and self.method is None


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIPE_", extra="ignore")

    api_key: SecretStr | None = None

    @field_validator("api_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("sk_", "rk_")):
            raise ValueError("STRIPE_API_KEY must be a secret (sk_...) or restricted (rk_...) key")
        return value

    @property
    def livemode(self) -> bool:
        return self.api_key is not None and "_live_" in self.api_key.get_secret_value()


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPQ_SYNC_", extra="ignore")

    sandbox: Path = Path(".sandbox")
    mappings_dir: Path = DEFAULT_MAPPINGS_DIR
    target: Target | None = None  # None: decided by the credentials (both: production, neither: sandboxes)


class SyncPreferences(BaseModel):
    """What `mappings/preferences.yaml` holds; every key can be overridden by `CPQ_SYNC_<KEY>` in the environment."""

    model_config = ConfigDict(extra="forbid")

    sync_start_date: dt.date | None = Field(
        default=None, description="Orders activated before this date are not synced (None: all)."
    )
    filters: dict[str, str] = Field(
        default_factory=lambda: {"Order": "Status = 'Activated'"},
        description="SOQL conditions per object, validated before use and ANDed to the sync's own conditions.",
    )
    sync_record_retention: int = Field(default=10_000, ge=0)
    default_currency: str = Field(default="usd", min_length=3, max_length=3)
    api_usage_ceiling_percent: float = Field(default=25.0, gt=0, le=100)
    stripe_requests_per_second: float = Field(default=20.0, gt=0)
    stripe_concurrency: int = Field(default=8, ge=1, le=64)
    proration_precision: Literal["month", "month+day"] = "month"
    lookback_seconds: int = Field(default=300, ge=0)
    migrate_orders_before_start_date: bool = False
    live_sync_interval_seconds: int = Field(default=60, ge=10)

    @field_validator("default_currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


def load_preferences(mappings_dir: Path, env: dict[str, str] | None = None) -> SyncPreferences:
    """Reads `preferences.yaml` (if any) under the mappings folder, then applies `CPQ_SYNC_*` overrides.
    Every problem names where the value came from (the file and line, or the environment variable)."""
    env = dict(os.environ) if env is None else env
    path = mappings_dir / "preferences.yaml"
    raw: dict[str, Any] = {}
    source: dict[str, str] = {}
    if path.exists():
        loaded = _yaml(path.read_text(encoding="utf-8"), str(path)) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of preference names to values")
        raw.update(loaded)
    for name in SyncPreferences.model_fields:
        variable = f"CPQ_SYNC_{name.upper()}"
        value = env.get(variable)
        if value is not None:
            raw[name] = _yaml(value, variable) if name == "filters" else value
            source[name] = variable
    try:
        return SyncPreferences.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(map(str, error["loc"]))
            if error["type"] == "extra_forbidden":
                known = difflib.get_close_matches(where, list(SyncPreferences.model_fields), n=1)
                hint = (
                    f"; did you mean {known[0]}?" if known else f" (known: {', '.join(SyncPreferences.model_fields)})"
                )
                problems.append(f"{where}: not a sync preference{hint}")
            else:
                origin = source.get(str(error["loc"][0]))
                problems.append(f"{where}: {error['msg']}" + (f" (from {origin})" if origin else ""))
        raise ConfigError(f"{path}: invalid sync preferences: {'; '.join(problems)}") from None


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_problem(where, exc) from None


class Settings(BaseModel):
    """Everything a run needs, resolved once."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    salesforce: SalesforceSettings
    stripe: StripeSettings
    runtime: RuntimeSettings
    preferences: SyncPreferences

    def secret_values(self) -> list[str]:
        """Every secret this run knows, for the log redaction: the credentials, the password as the SOAP login
        sends it (password + security token), and the private key of the JWT flow (each line of its body too)."""
        values = [
            self.salesforce.password,
            self.salesforce.security_token,
            self.salesforce.access_token,
            self.stripe.api_key,
        ]
        secrets = [v.get_secret_value() for v in values if v is not None]
        if self.salesforce.password is not None and self.salesforce.security_token is not None:
            secrets.append(
                self.salesforce.password.get_secret_value() + self.salesforce.security_token.get_secret_value()
            )
        secrets += private_key_lines(self.salesforce.private_key_file)
        return secrets

    @property
    def target(self) -> Target:
        if self.runtime.target is not None:
            return self.runtime.target
        return Target.SANDBOX if self.stripe.api_key is None else Target.PRODUCTION


def private_key_lines(path: Path | None) -> list[str]:
    """The base64 lines of a PEM private key file (nothing when there is no such readable file)."""
    if path is None:
        return []
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----")]


def load_settings() -> Settings:
    """Reads the environment. Both targets configured, or neither (sandboxes); a half configuration is an error."""
    salesforce = SalesforceSettings()
    try:
        stripe_settings = StripeSettings()
    except ValidationError as exc:
        raise ConfigError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    try:
        runtime = RuntimeSettings()
    except ValidationError as exc:
        problems = "; ".join(f"CPQ_SYNC_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(problems) from None
    if salesforce.partially_configured:
        raise ConfigError(
            "Salesforce credentials are incomplete: set SALESFORCE_USERNAME + SALESFORCE_PASSWORD "
            "(+ SALESFORCE_SECURITY_TOKEN), or SALESFORCE_INSTANCE_URL + SALESFORCE_ACCESS_TOKEN, or "
            "SALESFORCE_USERNAME + SALESFORCE_CONSUMER_KEY + SALESFORCE_PRIVATE_KEY_FILE"
        )
    has_sf = salesforce.method is not None
    has_stripe = stripe_settings.api_key is not None
    if runtime.target is Target.SANDBOX:
        _check_sandbox_credentials(salesforce, stripe_settings)
    elif runtime.target is Target.PRODUCTION and not (has_sf or has_stripe):
        raise ConfigError("CPQ_SYNC_TARGET=production needs STRIPE_API_KEY and Salesforce credentials (SALESFORCE_*)")
    elif has_sf != has_stripe:
        missing = "STRIPE_API_KEY" if has_sf else "Salesforce credentials (SALESFORCE_*)"
        raise ConfigError(
            f"Only one target is configured: {missing} is missing. Configure both to sync a real org "
            "into a real Stripe account, or neither to use the sandboxes."
        )
    preferences = load_preferences(runtime.mappings_dir)
    settings = Settings(salesforce=salesforce, stripe=stripe_settings, runtime=runtime, preferences=preferences)
    redact.install(settings.secret_values())  # from the moment a process holds the secrets, its logs mask them
    return settings


def _check_sandbox_credentials(salesforce: SalesforceSettings, stripe_settings: StripeSettings) -> None:
    """With CPQ_SYNC_TARGET=sandbox, the credentials given must be ones the sandboxes can check."""
    if stripe_settings.livemode:
        raise ConfigError("CPQ_SYNC_TARGET=sandbox takes a test-mode STRIPE_API_KEY (sk_test_... or rk_test_...)")
    if salesforce.method not in (None, "access_token"):
        raise ConfigError(
            "CPQ_SYNC_TARGET=sandbox: the sandbox org has no login endpoint; give it a session it issued "
            "(SALESFORCE_INSTANCE_URL + SALESFORCE_ACCESS_TOKEN) or no Salesforce credentials"
        )
