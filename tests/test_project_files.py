"""The README, Docker files and CI script stay true to the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block(marker: str) -> list[str]:
    found = re.search(rf"<!-- {marker} -->\n```\n(.*?)```\n<!-- /{marker} -->", README, re.S)
    assert found, f"README has no {marker} block"
    return [line for line in found.group(1).splitlines() if line.strip()]


def test_quickstart_is_two_commands() -> None:
    demo, test = _block("demo-command"), _block("test-command")
    assert len(demo) == len(test) == 1
    assert demo[0].endswith("dispatch demo")
    assert "pytest" in test[0]


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in script


def test_readme_documents_every_setting() -> None:
    documented = set(re.findall(r"`(DISPATCH_[A-Z_]+)`", README))
    expected = {f"DISPATCH_{name.upper()}" for name in Settings.model_fields}
    assert expected <= documented, expected - documented


def test_compose_sets_only_known_settings_and_runs_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    known = {f"DISPATCH_{name.upper()}" for name in Settings.model_fields}
    runner = CliRunner()
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("DISPATCH_"):
                assert variable in known, f"{name}: {variable}"
        command = service.get("command")
        if command:
            assert command[0] == "dispatch"
            result = runner.invoke(app, [*command[1:], "--help"])
            assert result.exit_code == 0, f"{name}: {command}"


def test_dockerfile_serves_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert 'CMD ["dispatch", "serve"]' in dockerfile
    for package in ("dispatch", "routing", "schedules", "api", "migrations", "seed_data"):
        assert f"COPY {package} ./{package}" in dockerfile
