"""Settings: both targets or neither; preferences from the file, overridden by the environment."""

from pathlib import Path

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR, Target, load_preferences, load_settings
from cpq_sync.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("SALESFORCE_", "STRIPE_", "CPQ_SYNC_")):
            monkeypatch.delenv(name)


def test_no_credentials_means_the_sandboxes() -> None:
    assert load_settings().target is Target.SANDBOX


def test_both_targets_configured_means_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", "https://acme.my.salesforce.com")
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", "00Dxx0000000001!AQ0AQAbcdefghijklmnopqrstuvwxyz")
    monkeypatch.setenv("STRIPE_API_KEY", "rk_test_51abcdefghijklmnop")
    settings = load_settings()
    assert settings.target is Target.PRODUCTION
    assert settings.salesforce.method == "access_token"
    assert "rk_test" not in repr(settings) and "00Dxx" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRIPE_API_KEY": "sk_test_abcdefgh"}, "Salesforce credentials \\(SALESFORCE_\\*\\) is missing"),
        ({"SALESFORCE_USERNAME": "u@example.com", "SALESFORCE_PASSWORD": "pw"}, "STRIPE_API_KEY is missing"),
        ({"SALESFORCE_USERNAME": "u@example.com"}, "Salesforce credentials are incomplete"),
        ({"STRIPE_API_KEY": "pk_test_abcdefgh"}, "must be a secret \\(sk_...\\) or restricted \\(rk_...\\) key"),
    ],
)
def test_a_half_configured_target_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as err:
        load_settings()
    assert "pw" not in str(err.value) and "abcdefgh" not in str(err.value)


def test_jwt_bearer_flow_is_recognised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    monkeypatch.setenv("SALESFORCE_USERNAME", "integration@acme.com")
    monkeypatch.setenv("SALESFORCE_CONSUMER_KEY", "3MVG9abc")
    monkeypatch.setenv("SALESFORCE_PRIVATE_KEY_FILE", str(key))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_abcdefgh")
    assert load_settings().salesforce.method == "jwt"


def test_preferences_file_then_environment() -> None:
    prefs = load_preferences(DEFAULT_MAPPINGS_DIR, env={})
    assert prefs.filters == {"Order": "Status = 'Activated'"}
    assert prefs.sync_record_retention == 10_000
    overridden = load_preferences(
        DEFAULT_MAPPINGS_DIR,
        env={"CPQ_SYNC_SYNC_START_DATE": "2024-01-01", "CPQ_SYNC_FILTERS": "{Order: \"Status = 'Draft'\"}"},
    )
    assert str(overridden.sync_start_date) == "2024-01-01"
    assert overridden.filters == {"Order": "Status = 'Draft'"}


def test_bad_preferences_name_the_file_and_the_setting(tmp_path: Path) -> None:
    (tmp_path / "preferences.yaml").write_text("sync_record_retention: lots\n")
    with pytest.raises(ConfigError, match=r"preferences.yaml: invalid sync preferences: sync_record_retention"):
        load_preferences(tmp_path, env={})
    (tmp_path / "preferences.yaml").write_text("sync_every: 5\n")
    with pytest.raises(ConfigError, match="sync_every"):
        load_preferences(tmp_path, env={})


def test_the_sandboxes_can_be_kept_while_credentials_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_SYNC_TARGET", "sandbox")
    monkeypatch.setenv("STRIPE_API_KEY", "rk_test_51abcdefghijklmnop")
    assert load_settings().target is Target.SANDBOX
    monkeypatch.setenv("STRIPE_API_KEY", "rk_live_51abcdefghijklmnop")
    with pytest.raises(ConfigError, match="takes a test-mode STRIPE_API_KEY"):
        load_settings()
    monkeypatch.setenv("STRIPE_API_KEY", "rk_test_51abcdefghijklmnop")
    monkeypatch.setenv("SALESFORCE_USERNAME", "u@example.com")
    monkeypatch.setenv("SALESFORCE_PASSWORD", "pw-secret")
    with pytest.raises(ConfigError, match="the sandbox org has no login endpoint") as err:
        load_settings()
    assert "pw-secret" not in str(err.value)


def test_secret_values_cover_the_soap_password_and_the_private_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "server.key"
    key.write_text(
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n"
        "AASCBKcwggSjAgEAAoIBAQ==\n-----END PRIVATE KEY-----\n"
    )
    for name, value in {
        "SALESFORCE_USERNAME": "u@example.com",
        "SALESFORCE_PASSWORD": "pw-secret",
        "SALESFORCE_SECURITY_TOKEN": "tok3n",
        "SALESFORCE_PRIVATE_KEY_FILE": str(key),
        "STRIPE_API_KEY": "sk_test_abcdefgh",
    }.items():
        monkeypatch.setenv(name, value)
    values = load_settings().secret_values()
    assert {"pw-secret", "tok3n", "pw-secrettok3n", "sk_test_abcdefgh"} <= set(values)
    assert {"MIIEvQIBADANBgkqhkiG9w0BAQEF", "AASCBKcwggSjAgEAAoIBAQ=="} <= set(values)
    assert not any("PRIVATE KEY" in v for v in values)


def test_loading_the_settings_masks_their_secrets_in_every_later_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    monkeypatch.setenv("SALESFORCE_USERNAME", "u@example.com")
    monkeypatch.setenv("SALESFORCE_PASSWORD", "plain-words-password")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_abcdefgh")
    factory = logging.getLogRecordFactory()
    try:
        load_settings()
        with caplog.at_level(logging.INFO, logger="anything"):
            logging.getLogger("anything").info("logging in with %s", "plain-words-password")
    finally:
        logging.setLogRecordFactory(factory)
    assert "plain-words-password" not in caplog.text and "[redacted]" in caplog.text


def test_a_bad_runtime_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQ_SYNC_TARGET", "staging")
    with pytest.raises(ConfigError, match="CPQ_SYNC_TARGET: Input should be 'sandbox' or 'production'"):
        load_settings()
