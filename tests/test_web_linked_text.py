"""A reminder's body on the page: its web addresses are links, isolated left to right
so that inside Hebrew text an address keeps its parentheses; the rest stays text."""

from __future__ import annotations

from trialdm.web.labels import linked


def test_addresses_become_isolated_links_and_the_rest_stays_escaped():
    body = (
        "- הערכה לביצוע: 3 (https://trial.example.org/reminders/found?site=BU&rule=due)\n<b>x</b>"
    )
    shown = str(linked(body))
    address = "https://trial.example.org/reminders/found?site=BU&amp;rule=due"
    assert f'(<bdi dir="ltr"><a href="{address}">{address}</a></bdi>)' in shown
    assert "&lt;b&gt;x&lt;/b&gt;" in shown and "<b>" not in shown


def test_only_web_addresses_are_linked():
    shown = str(linked('javascript:alert(1) "https://x.org/a" ftp://y.org'))
    assert 'href="javascript' not in shown and "ftp://y.org</a>" not in shown
    assert '<a href="https://x.org/a">' in shown
