"""The pages' show-if script evaluates the server's logic tree with the same rules:
every case of the language's table, run in Debian's chromium through ``trialdm.js``
against a form holding the answers as the page would post them."""

from __future__ import annotations

import html
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import browser_missing, launch_chromium
from tests.test_instruments_logic import CASES
from trialdm.instruments.logic import evaluate_answers, parse

pytestmark = pytest.mark.browser

_missing = browser_missing()
if _missing:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true needs the browser tests: {_missing}")
    pytest.skip(_missing, allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "trialdm" / "web" / "static" / "trialdm.js"


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "yes_no"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, list):
        return "multiple_choice"
    if isinstance(value, date):
        return "date"
    return "single_choice"


def inputs(answers: dict[str, Any]) -> str:
    """The answers as the questionnaire form holds them."""
    out = []
    for name, value in answers.items():
        key = html.escape(f"a.{name}")
        if isinstance(value, bool):
            for option in ("true", "false"):
                checked = " checked" if option == str(value).lower() else ""
                out.append(f'<input type="radio" name="{key}" value="{option}"{checked}>')
        elif isinstance(value, list):
            out += [f'<input type="checkbox" name="{key}" value="{v}" checked>' for v in value]
        else:
            text = value.isoformat() if isinstance(value, date) else str(value)
            out.append(f'<input type="text" name="{key}" value="{html.escape(text)}">')
    return "".join(out)


def page_tree(node: Any, answers: dict[str, Any]) -> Any:
    """The tree as the questionnaire page embeds it (references name input and type)."""
    if isinstance(node, dict):
        out = {key: page_tree(value, answers) for key, value in node.items()}
        if "ref" in node:
            out["input"] = "a." + node["ref"]
            out["kind"] = kind_of(answers.get(node["ref"], 0))
        return out
    if isinstance(node, list):
        return [page_tree(item, answers) for item in node]
    return node


# missing-data codes are not entered on the pages
PAGE_CASES = [
    case for case in CASES if not any(hasattr(value, "code") for value in case[1].values())
]


def test_the_page_script_gives_the_servers_value_for_every_case():
    assert len(PAGE_CASES) > 50
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.set_content("<form id='answers'></form>")
            page.add_script_tag(path=str(SCRIPT))
            for text, answers, expected in PAGE_CASES:
                tree = parse(text)
                server = evaluate_answers(tree, answers)
                browser_value = page.evaluate(
                    """([markup, tree]) => {
                        const form = document.getElementById("answers");
                        form.innerHTML = markup;
                        return logicValue(form, tree);
                    }""",
                    [inputs(answers), page_tree(tree.to_json(), answers)],
                )
                if isinstance(server, float):
                    assert browser_value == pytest.approx(server, rel=1e-12), text
                    assert server == pytest.approx(expected, rel=1e-12), text
                else:
                    assert browser_value == server == expected, (text, browser_value, server)
        finally:
            browser.close()
