"""Known vulnerabilities in the locked dependencies: `pip-audit` over `uv export --frozen` (every package of uv.lock,
extras included), against PyPI's vulnerability data. Skipped, saying why, where that database cannot be reached
(no network, or a package index mirror that does not serve PyPI's JSON API), so CI stays green offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PROBE = "https://pypi.org/pypi/pip/24.0/json"  # what pip-audit's PyPI service reads: a release that exists


def vulnerability_database_reachable() -> str | None:
    """None when PyPI's JSON API answers with vulnerability data; else why not."""
    try:
        answer = requests.get(PROBE, timeout=5)
    except requests.RequestException as exc:
        return f"{PROBE} is unreachable ({type(exc).__name__})"
    if answer.status_code != 200:
        return f"{PROBE} answered {answer.status_code} (an index mirror without PyPI's JSON API?)"
    try:
        data = answer.json()
    except ValueError:
        return f"{PROBE} did not answer JSON"
    if "vulnerabilities" not in data:
        return f"{PROBE} carries no vulnerability data"
    return None


def locked_requirements(tmp_path: Path) -> Path:
    uv = shutil.which("uv")
    command = [uv] if uv else [sys.executable, "-m", "uv"]
    target = tmp_path / "requirements.txt"
    export = ["export", "--frozen", "--all-extras", "--no-emit-project", "--format", "requirements-txt", "-q"]
    subprocess.run(
        [*command, *export, "-o", str(target)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


def test_locked_dependencies_have_no_known_vulnerability(tmp_path: Path) -> None:
    why = vulnerability_database_reachable()
    if why is not None:
        pytest.skip(f"vulnerability check not run: the database cannot be reached: {why}")
    requirements = locked_requirements(tmp_path)
    options = ["--disable-pip", "--no-deps", "--vulnerability-service", "pypi", "--format", "json"]
    audit = subprocess.run(
        [sys.executable, "-m", "pip_audit", *options, "--progress-spinner", "off", "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert audit.stdout, audit.stderr
    report = json.loads(audit.stdout)
    dependencies = report["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        pytest.skip(f"vulnerability check not run: none of the {len(dependencies)} packages could be looked up")
    vulnerable = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or 'no release yet'})"
        for d in audited
        for v in d["vulns"]
    ]
    assert vulnerable == [], "known vulnerabilities in uv.lock:\n" + "\n".join(vulnerable)
    unaudited = sorted(d["name"] for d in dependencies if "skip_reason" in d)
    assert unaudited == [], f"packages pip-audit could not look up: {unaudited}"
