"""Settings come from DISPATCH_* variables and refuse unsafe or unknown values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dispatch.settings import Environment, Settings

REAL_SECRET = "k" * 40


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("ENVIRONMENT", "DATABASE_URL", "SECRET_KEY", "DEFAULT_TIMEZONE", "PORT"):
        monkeypatch.delenv(f"DISPATCH_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_defaults_run_the_embedded_database_in_the_working_directory() -> None:
    settings = Settings()
    assert settings.environment is Environment.development
    assert settings.database_url == "sqlite:///./dispatch.db"
    assert settings.default_timezone == "Europe/Moscow"


def test_values_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_DATABASE_URL", "postgresql+psycopg://postgres@db/dispatch")
    monkeypatch.setenv("DISPATCH_PORT", "9000")
    settings = Settings()
    assert settings.database_url.endswith("@db/dispatch")
    assert settings.port == 9000


@pytest.mark.parametrize("environment", ["production", "test"])
@pytest.mark.parametrize("secret", [None, "change-me", "short-but-not-placeholder"])
def test_placeholder_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str, secret: str | None
) -> None:
    monkeypatch.setenv("DISPATCH_ENVIRONMENT", environment)
    if secret is not None:
        monkeypatch.setenv("DISPATCH_SECRET_KEY", secret)
    with pytest.raises(ValidationError, match="secret_key must be set"):
        Settings()


def test_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_ENVIRONMENT", "production")
    monkeypatch.setenv("DISPATCH_SECRET_KEY", REAL_SECRET)
    assert Settings().secret_key.get_secret_value() == REAL_SECRET


def test_secret_is_not_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", REAL_SECRET)
    assert REAL_SECRET not in repr(Settings())


def test_unknown_timezone_is_named_in_the_error() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        Settings(default_timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("field", "value"),
    [("solver_time_limit_seconds", 0), ("replan_time_limit_seconds", -1), ("port", 70000)],
)
def test_out_of_range_numbers_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_settings_are_not_built_at_import_time() -> None:
    import api.app
    import dispatch.db

    assert not any(isinstance(v, Settings) for v in vars(api.app).values())
    assert not any(isinstance(v, Settings) for v in vars(dispatch.db).values())
