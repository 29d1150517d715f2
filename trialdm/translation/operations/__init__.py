"""Materials, translation workflows, transcripts and the key: every change, with its rules.

One module per topic; every operation is importable from here.

Operations validate, flush and raise domain errors; they never commit. The actor
is passed in (the API gives the request's principal), so the same rules serve the
API, the demo loader and tests.

Refusals: a step done out of order or the same person forward-translating and
reviewing is 422 (the request is understood but breaks a rule); acting on work not
assigned to you or without the role the step needs is 403; another site's work
does not exist for you (404, through the site filter).
"""

from __future__ import annotations

from trialdm.translation.operations.common import (
    BACK_STEPS,
    FOUR_EYES,
    SEGMENT_KEY,
    STEP_PERMISSION,
    TEXT_STEPS,
    four_eyes_conflict,
    step_role,
    user_holds,
)
from trialdm.translation.operations.key import (
    add_key_entry,
    delete_key_entry,
)
from trialdm.translation.operations.materials import (
    add_material_version,
    add_steps,
    create_material,
    instrument_segments,
    stored_instrument_version,
)
from trialdm.translation.operations.transcripts import (
    apply_pseudonymisation,
    approve_transcript,
    check_transcript,
    confirm_pseudonymisation,
    create_transcript,
    key_terms,
    refuse_key_terms,
    split_lines,
    upload_english,
    upload_verbatim,
)
from trialdm.translation.operations.workflow import (
    add_comment,
    assign_step,
    get_step,
    start_translation,
    transition_step,
    write_segment,
)

__all__ = [
    "BACK_STEPS",
    "FOUR_EYES",
    "SEGMENT_KEY",
    "STEP_PERMISSION",
    "TEXT_STEPS",
    "add_comment",
    "add_key_entry",
    "add_material_version",
    "add_steps",
    "apply_pseudonymisation",
    "approve_transcript",
    "assign_step",
    "check_transcript",
    "confirm_pseudonymisation",
    "create_material",
    "create_transcript",
    "delete_key_entry",
    "four_eyes_conflict",
    "get_step",
    "instrument_segments",
    "key_terms",
    "refuse_key_terms",
    "split_lines",
    "start_translation",
    "step_role",
    "stored_instrument_version",
    "transition_step",
    "upload_english",
    "upload_verbatim",
    "user_holds",
    "write_segment",
]
