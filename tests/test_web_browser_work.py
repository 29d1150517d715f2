"""Browser tests of daily work where a person's clicks matter: the translation editor
keeps typed text whatever button is pressed, and a reviewer's check of a transcript."""

from __future__ import annotations

import pytest

from tests.test_web_browser import browser, live_url, log_in, page  # noqa: F401

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


def open_scale_translation(page, live_url):  # noqa: F811
    log_in(page, live_url, "translator.bu@demo.trialdm.org")
    page.click("nav >> text=Translation")
    page.locator("ul.queue a", has_text="Everyday social inclusion scale").first.click()
    expect(page.locator("#editor-form")).to_be_visible()
    # a click's navigation is awaited only until the page starts; the editor's deferred
    # script (autosave) has run by "load", and the tests type into it next
    page.wait_for_load_state("load")


def test_the_editor_keeps_typed_text_on_every_button(page, live_url):  # noqa: F811
    open_scale_translation(page, live_url)
    boxes = page.locator("#editor-form textarea[name^='seg.']")
    first, second = boxes.nth(1), boxes.nth(2)
    first_name = first.get_attribute("name")
    second_name = second.get_attribute("name")
    # the segment names the question in words, not by its key
    expect(page.locator("#editor-form .seg-key").nth(2)).not_to_contain_text("fields.")

    # typed and left: saved on its own, then another form's button (Comment) is pressed
    first.fill("Ekigambo ekipya")
    first.blur()
    expect(page.locator(".autosave-status")).to_have_text("All changes saved.")
    page.fill("#comment-body", "A question about wording.")
    page.click("button:has-text('Comment')")
    expect(page.locator(f"textarea[name='{first_name}']")).to_have_value("Ekigambo ekipya")

    # typed and not left: the main button sends it with the step action
    second = page.locator(f"textarea[name='{second_name}']")
    second.fill("Ekirala")
    # a form's POST and redirect: reloading before they end would race the navigation
    with page.expect_navigation(wait_until="load"):
        page.click("button:has-text('Save and submit for review')")
    expect(page.locator(f"textarea[name='{second_name}']")).to_have_value("Ekirala")
    page.reload()
    expect(page.locator(f"textarea[name='{second_name}']")).to_have_value("Ekirala")
    assert not page.errors, page.errors


def test_another_forms_button_right_after_typing_saves_the_text_first(page, live_url):  # noqa: F811
    open_scale_translation(page, live_url)
    box = page.locator("#editor-form textarea[name^='seg.']").nth(4)
    name = box.get_attribute("name")
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    box.fill("Tekinnyonnyola")  # typed, not left: no save has started yet
    page.fill("#comment-body", "Is 'tekinnyonnyola' the usual word?")
    page.click("button:has-text('Comment')")
    expect(page.locator("body")).to_contain_text("Is 'tekinnyonnyola' the usual word?")
    expect(page.locator(f"textarea[name='{name}']")).to_have_value("Tekinnyonnyola")
    page.wait_for_load_state("load")
    page.reload()
    expect(page.locator(f"textarea[name='{name}']")).to_have_value("Tekinnyonnyola")
    assert asked == []  # nothing to ask: saved before the comment went
    # the form's own Save button at the bottom keeps what was typed as well
    box = page.locator(f"textarea[name='{name}']")
    box.fill("Tekinnyonnyola nnyo")
    with page.expect_navigation(wait_until="load"):
        page.click("#editor-form .sticky-actions button:has-text('Save')")
    page.reload()
    expect(page.locator(f"textarea[name='{name}']")).to_have_value("Tekinnyonnyola nnyo")
    assert not page.errors, page.errors


def test_leaving_with_unsaved_text_asks_first(page, live_url):  # noqa: F811
    open_scale_translation(page, live_url)
    box = page.locator("#editor-form textarea[name^='seg.']").nth(3)
    box.click()
    page.keyboard.type("nicht gespeichert")
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.click("nav >> text=Dashboard")
    assert asked == ["beforeunload"]
    expect(page.locator("#editor-form")).to_be_visible()  # stayed on the page
