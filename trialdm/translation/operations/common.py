"""Rules every translation operation shares: who may do a step."""

from __future__ import annotations

import re

from trialdm.auth.models import User
from trialdm.auth.permissions import ALL_SITE_ROLES, ROLE_PERMISSIONS
from trialdm.config import TRANSLATION_STEP_ROLES
from trialdm.translation.models import Translation, TranslationStep

STEP_PERMISSION = {"translator": "translation.write", "reviewer": "translation.review"}
# Steps that write the translated text, and the one that writes the back translation.
TEXT_STEPS = {"forward", "reconciliation", "harmonisation"}
BACK_STEPS = {"back_translation"}
# "The same person may not forward-translate and review the same translation."
FOUR_EYES = {"forward": {"review"}, "review": {"forward"}}
SEGMENT_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def four_eyes_conflict(translation: Translation, kind: str, user_id: int) -> TranslationStep | None:
    """The step of ``translation`` that ``user_id`` was assigned and that the four-eyes
    rule keeps apart from a step of ``kind``, or None."""
    return next(
        (
            other
            for other in translation.steps
            if other.kind in FOUR_EYES.get(kind, ()) and other.assignee_id == user_id
        ),
        None,
    )


def step_role(kind: str) -> str:
    return TRANSLATION_STEP_ROLES[kind]


def user_holds(user: User, permission: str, site_code: str) -> bool:
    """Whether ``user`` holds a role granting ``permission`` at ``site_code``."""
    for membership in user.memberships:
        if permission not in ROLE_PERMISSIONS.get(membership.role, ()):
            continue
        if membership.role in ALL_SITE_ROLES or membership.site_code == site_code:
            return True
    return False
