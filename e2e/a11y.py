"""Accessibility checks with axe-core (vendored under ``e2e/vendor/axe-core``)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.0/2.1/2.2 A and AA, plus axe's best practices; "serious" and "critical" fail a test.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = frozenset({"serious", "critical"})


def axe_violations(page: Page) -> list[dict]:
    """Run axe on the page as it is now; return every violation (all impacts)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {
                runOnly: {type: 'tag', values: tags},
                resultTypes: ['violations'],
            });
            return results.violations.map(v => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,
                                          summary: n.failureSummary})),
            }));
        }""",
        AXE_TAGS,
    )


def serious_violations(page: Page) -> list[dict]:
    return [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {node['target']}: {node['html'][:160]}")
            if node["summary"]:
                lines.extend(f"      {line}" for line in node["summary"].splitlines())
    return "\n".join(lines)


def expect_accessible(browser: Browser, stack, page: Page) -> None:
    """The page as this visitor sees it, checked by axe in a context that may inject the script
    (the visitor's own context keeps the site's real Content-Security-Policy)."""
    from .conftest import open_context

    context = open_context(
        browser, stack, bypass_csp=True, storage_state=page.context.storage_state()
    )
    try:
        checked = context.new_page()
        checked.goto(page.url)
        expect(checked.get_by_role("heading", level=1)).to_be_visible()
        violations = serious_violations(checked)
        assert not violations, f"{page.url}:\n{describe(violations)}"
    finally:
        context.close()
