"""Every text a person reads is in every complete language: a fresh extraction of the
code's messages is compared with each catalog, so a text added without `make
translations`, an untranslated one or a fuzzy one fails here. Languages that are
started rather than complete are counted, not required."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from trialdm.config import PROJECT_ROOT
from trialdm.web.i18n import TRANSLATIONS_DIR

COMPLETE = ("de", "he")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "trialdm/web/babel.cfg",
            "-k",
            "lazy_gettext",
            "-k",
            "_l",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {_key(m.id) for m in read_po(handle) if m.id}


def _key(msgid):
    return tuple(msgid) if isinstance(msgid, list | tuple) else msgid


def _catalog(language: str):
    with (Path(TRANSLATIONS_DIR) / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def _translated(message) -> bool:
    text = message.string
    done = all(text) if isinstance(text, list | tuple) else bool(text)
    return done and not message.fuzzy


@pytest.mark.parametrize("language", COMPLETE)
def test_complete_languages_translate_every_text(extracted, language):
    catalog = _catalog(language)
    held = {_key(m.id): m for m in catalog if m.id}
    missing = sorted(map(str, extracted - set(held)))
    assert not missing, f"{language}: not in the catalog (run `make translations`): {missing}"
    untranslated = sorted(str(k) for k in extracted if not _translated(held[k]))
    assert not untranslated, f"{language}: untranslated or fuzzy: {untranslated}"


def test_started_languages_are_counted(extracted):
    """Swahili and the other started languages: how far each is, never a failure."""
    for po in sorted(Path(TRANSLATIONS_DIR).glob("*/LC_MESSAGES/messages.po")):
        language = po.parent.parent.name
        if language in COMPLETE:
            continue
        catalog = _catalog(language)
        done = sum(1 for m in catalog if m.id and _key(m.id) in extracted and _translated(m))
        print(f"{language}: {done} of {len(extracted)} texts translated")
        assert done <= len(extracted)


def test_placeholders_survive_translation():
    """A translation keeps every %(name)s of its source (a missing one breaks the page)."""
    import re

    names = re.compile(r"%\((\w+)\)")
    for po in Path(TRANSLATIONS_DIR).glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as handle:
            for m in read_po(handle):
                if not m.id or not _translated(m):
                    continue
                ids = m.id if isinstance(m.id, list | tuple) else [m.id]
                texts = m.string if isinstance(m.string, list | tuple) else [m.string]
                wanted = set(names.findall(ids[-1]))
                for text in texts:
                    assert set(names.findall(text)) <= wanted | set(names.findall(ids[0])), (
                        po,
                        m.id,
                    )
                    assert set(names.findall(text)) >= set(names.findall(ids[0])) - {"num"}, (
                        po,
                        m.id,
                    )
