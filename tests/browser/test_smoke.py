"""The console's shell: signs a dispatcher in through its own form."""

from __future__ import annotations

from tests.browser.conftest import DISPATCHER, sign_in


def test_a_dispatcher_signs_in_to_the_console(open_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = open_page("/console")
    sign_in(page, *DISPATCHER)
    page.get_by_role("heading", name="Signed in as").wait_for()
