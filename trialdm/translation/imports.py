"""Text files people upload for transcripts (verbatim, English): UTF-8 .txt or .docx.

The API and the pages read uploads through :func:`text_of_file`, so both refuse the
same files with the same field messages.
"""

from __future__ import annotations

import io
from pathlib import PurePath

from trialdm.core.errors import N_, Message, ValidationFailed
from trialdm.core.limits import TRANSCRIPT

UPLOAD_SUFFIXES = {".txt", ".docx"}


def text_of_file(filename: str, content: bytes) -> str:
    """The text of an uploaded .txt (UTF-8, with or without BOM) or .docx file, no
    longer than a transcript may be (as typed or sent as JSON)."""
    text = _text_of_file(filename, content)
    if len(text) > TRANSCRIPT:
        raise ValidationFailed.field(
            "file", Message(N_("Use at most %(max)s characters."), max=TRANSCRIPT)
        )
    return text


def _text_of_file(filename: str, content: bytes) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ValidationFailed.field("file", Message(N_("Upload a .txt or .docx file.")))
    if suffix == ".txt":
        try:
            return content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed.field(
                "file", Message(N_("The file is not UTF-8 text; save it as UTF-8 and try again."))
            ) from None
    return docx_text(content)


def docx_text(content: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(content))
    except Exception:  # python-docx raises several kinds for a broken file
        raise ValidationFailed.field(
            "file", Message(N_("The file is not a readable .docx."))
        ) from None
    return "\n".join(paragraph.text for paragraph in document.paragraphs)
