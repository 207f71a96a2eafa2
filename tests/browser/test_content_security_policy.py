"""The Content-Security-Policy in a real browser: the inbox, a task with its inlined diagram and a
live process diagram load without one violation (Chromium reports each on the console and as a
``securitypolicyviolation`` event), and a click on a diagram state still works (the script is
this site's own file)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_staff_pages import log_in

pytestmark = pytest.mark.browser

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def watch(page: Any) -> list[str]:
    """Console lines about the CSP, gathered from now on."""
    lines: list[str] = []
    page.add_init_script(LISTEN)
    page.on(
        "console",
        lambda message: (
            lines.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return lines


def violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__cspViolations || []"))


def test_pages_and_diagrams_load_without_a_csp_violation(page: Any, site: Any) -> None:
    console = watch(page)
    log_in(page, site, "wang")
    seen: list[str] = []
    for path in ("/inbox/", f"/inbox/{site.task_id}", "/account/sessions"):
        response = page.goto(f"{site.url}{path}")
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        if path == f"/inbox/{site.task_id}":
            assert page.locator("svg").count() >= 1  # the task's inlined path diagram
        seen += violations(page)

    page.context.clear_cookies()
    log_in(page, site, "boss")
    for path in ("/processes/", "/processes/card", "/processes/overdue"):
        assert page.goto(f"{site.url}{path}").status == 200, path
        seen += violations(page)
    assert seen == [] and console == [], (seen, console)

    # the diagram's click handler (app.js) runs under the policy
    page.goto(f"{site.url}/processes/card")
    page.locator("#live-diagram g#state_active").click()
    page.wait_for_url(re.compile(r"/processes/card/states/active"))

    # and the listener does see a violation when there is one
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_timeout(200)
    assert any("style-src" in v for v in violations(page)), violations(page)
