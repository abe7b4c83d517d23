"""Accessibility checks in the browser tests: axe-core (bundled with the axe-playwright-python
package, so nothing is downloaded) run against the page as it is now."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

# What a page must not have: violations a screen-reader, keyboard or low-vision user cannot get
# around. Minor and moderate ones are reported by axe but do not fail a test.
BLOCKING = ("serious", "critical")
TARGETS_SHOWN = 4

_AXE = Axe()


def violations(page, disabled: dict[str, str] | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """axe's violations on ``page`` (the whole document, axe's default rules: WCAG 2.x A and AA
    and best practices). ``disabled`` names rules not to run, each with why it is a false
    positive there."""
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if disabled:
        options["rules"] = {rule: {"enabled": False} for rule in disabled}
    return _AXE.run(page, options=options).response["violations"]


def describe(found: list[dict[str, Any]]) -> str:
    """One line per violation: rule, impact, help, how many nodes, the first few selectors."""
    lines = []
    for violation in found:
        # A target is a list of selectors: one per frame down to the element.
        targets = [" >> ".join(node["target"]) for node in violation["nodes"][:TARGETS_SHOWN]]
        more = len(violation["nodes"]) - len(targets)
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{len(violation['nodes'])} nodes] {' ; '.join(targets)}"
            + (f" and {more} more" if more > 0 else "")
            + f"\n  {violation['helpUrl']}"
        )
    return "\n".join(lines)


def assert_accessible(page, where: str, disabled: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Fails when axe finds a serious or critical violation on ``page`` (``where`` names the
    page and state in the message)."""
    blocking = [v for v in violations(page, disabled) if v["impact"] in BLOCKING]
    assert not blocking, f"accessibility violations on {where}:\n{describe(blocking)}"
