"""The shipped systemd units are valid units (systemd-analyze verify, with the executable
they name pointed at this checkout's), and the example settings file is what production
accepts once its secrets are filled in, and refuses while they are empty."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from stockline.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNITS = sorted(p.name for p in DEPLOY.iterdir() if p.suffix in {".service", ".timer"})
SHIPPED_EXECUTABLE = "/opt/stockline/.venv/bin/stockline"


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (Debian's systemd package)")
        pytest.skip("systemd-analyze is not installed")
    return found


def _local_copy(name: str, into: Path) -> Path:
    """The unit as shipped, but naming this checkout's executable and an existing user."""
    text = (DEPLOY / name).read_text()
    text = text.replace(SHIPPED_EXECUTABLE, str(Path(sys.executable).parent / "stockline"))
    text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.MULTILINE)
    target = into / name
    target.write_text(text)
    return target


def test_every_unit_is_shipped() -> None:
    assert UNITS == ["stockline-migrate.service", "stockline-reconcile.service",
                     "stockline-reconcile.timer", "stockline.service"]


@pytest.mark.parametrize("name", UNITS)
def test_the_unit_verifies(name: str, tmp_path: Path) -> None:
    analyze = _analyze()
    copies = [_local_copy(unit, tmp_path) for unit in UNITS]  # a timer needs its service
    unit = next(c for c in copies if c.name == name)
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)
    about_ours = [line for line in (done.stdout + done.stderr).splitlines()
                  if str(tmp_path) in line or name in line]
    assert done.returncode == 0, done.stderr
    assert about_ours == []


def _example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "stockline.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def _settings(pairs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("STOCKLINE_")]:
        monkeypatch.delenv(name)
    for name, value in pairs.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_example_is_refused_until_its_secrets_are_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        _settings(_example(), monkeypatch)


def test_the_example_with_its_secrets_is_a_production_configuration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = {name: value or secrets.token_urlsafe(48) for name, value in _example().items()}
    settings = _settings(pairs, monkeypatch)
    assert settings.env == "production"
    assert settings.database_url.startswith("postgresql")
    assert settings.bus_url == pairs["STOCKLINE_BUS_URL"]
    assert settings.trusted_proxies == pairs["STOCKLINE_TRUSTED_PROXIES"]
