"""Credentials in a Prefect Secret block, for workers that should not carry them in their environment.

`cpq-sync configure` stores the credential variables found in its environment (`SALESFORCE_*`, `STRIPE_API_KEY`)
as one JSON object in the Secret block `cpq-sync-credentials` on the current Prefect server. Each run loads that
block and sets the variables its environment lacks (the environment wins), before the settings are read.
Values are never logged: only variable names are.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import cast

from pydantic import SecretStr

log = logging.getLogger(__name__)

BLOCK_NAME = "cpq-sync-credentials"
CREDENTIAL_VARS = (
    "SALESFORCE_USERNAME",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_SECURITY_TOKEN",
    "SALESFORCE_DOMAIN",
    "SALESFORCE_INSTANCE_URL",
    "SALESFORCE_ACCESS_TOKEN",
    "SALESFORCE_CONSUMER_KEY",
    "SALESFORCE_PRIVATE_KEY_FILE",
    "STRIPE_API_KEY",
)


def credentials_from(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in CREDENTIAL_VARS if env.get(name)}


def register_secret_block(values: Mapping[str, str], block_name: str = BLOCK_NAME) -> list[str]:
    """Saves the credentials (overwriting) in a Secret block; returns the variable names stored."""
    from prefect.blocks.system import Secret

    unknown = sorted(set(values) - set(CREDENTIAL_VARS))
    if unknown:
        raise ValueError(f"not credential variables: {', '.join(unknown)}")
    Secret(value=SecretStr(json.dumps(dict(values)))).save(block_name, overwrite=True)
    return sorted(values)


def load_secret_block(block_name: str = BLOCK_NAME) -> dict[str, str]:
    """The credentials in the block, or nothing when there is no such block (or no server to ask)."""
    from prefect.blocks.system import Secret

    try:
        block: Secret[str] = cast("Secret[str]", Secret.load(block_name))
    except (ValueError, RuntimeError):  # no such block
        return {}
    raw: object = block.get()
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise ValueError(f"Secret block {block_name} must hold a JSON object of credential variables")
    return {str(k): str(v) for k, v in data.items() if k in CREDENTIAL_VARS and v}


def apply_secret_blocks(block_name: str = BLOCK_NAME) -> list[str]:
    """Sets the credential variables this process lacks from the Secret block; returns the names set."""
    values = load_secret_block(block_name)
    missing = {k: v for k, v in values.items() if not os.environ.get(k)}
    os.environ.update(missing)
    if missing:
        log.info("credentials from the Secret block %s: %s", block_name, ", ".join(sorted(missing)))
    return sorted(missing)
