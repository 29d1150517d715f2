"""Roles and permissions as data, and the one place where they are enforced.

Every endpoint declares the permission it needs with :func:`requires` (or
:func:`public`), from :mod:`trialdm.core.permissions` (importable here too);
``check_endpoint_permissions`` refuses to start an app with an endpoint that
declares none. :func:`authorize`, which ``requires`` calls, narrows the request's
site scope to the sites where the user holds a role granting that permission, so
reads are filtered by the ORM and writes checked against the same sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import g

from trialdm.core.audit import current_audit_context, set_audit_context
from trialdm.core.errors import N_, Forbidden, Unauthorized
from trialdm.core.permissions import PERMISSION_ATTR as PERMISSION_ATTR
from trialdm.core.permissions import PUBLIC as PUBLIC
from trialdm.core.permissions import PUBLIC_ENDPOINTS as PUBLIC_ENDPOINTS
from trialdm.core.permissions import check_endpoint_permissions as check_endpoint_permissions
from trialdm.core.permissions import endpoint_permissions as endpoint_permissions
from trialdm.core.permissions import public as public
from trialdm.core.permissions import requires as requires
from trialdm.core.scoping import EVERY_SITE, SiteScope, set_scope

ROLES = (
    "research_worker",
    "site_lead",
    "translator",
    "reviewer",
    "monitor",
    "coordinator",
    "statistician",
    "admin",
)
SITE_ROLES = ("research_worker", "site_lead", "translator", "reviewer")
ALL_SITE_ROLES = ("coordinator", "statistician", "admin")
# Roles held either at the sites given or, granted without a site, at every site.
SITES_OR_ALL_ROLES = ("monitor",)

_DATA_ENTRY = {
    "participants.read",
    "participants.write",
    "participants.randomise",
    "contacts.read",
    "contacts.write",
    "qualitative.read",
    "qualitative.write",
    "responses.read",
    "responses.write",
    "instruments.read",
    "schedule.read",
    "translation.read",
    "fidelity.read",
    # the history of one record of their sites (who changed what); the site's whole
    # log and the audit API stay with "audit.read"
    "history.read",
}
# Data quality: reading queries and signatures, opening and closing queries (who
# opened a query closes it), answering them (the site), signing and unlocking.
_QUALITY_READ = {"quality.read"}
_READ_ALL = {
    "participants.read",
    "contacts.read",
    "qualitative.read",
    "responses.read",
    "instruments.read",
    "schedule.read",
    "translation.read",
    "fidelity.read",
    "history.read",
    "audit.read",
    "summaries.read",
    "summaries.build",
    "exports.read",
    "exports.build",
}

# role -> permissions. "self" is anything about one's own account (tokens, inbox).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "research_worker": frozenset(
        _DATA_ENTRY
        | _QUALITY_READ
        | {"self", "reminders.read", "reminders.inbox", "queries.answer"}
    ),
    "site_lead": frozenset(
        _DATA_ENTRY
        | {
            "self",
            "reminders.read",
            "reminders.inbox",
            "reminders.failures",
            "audit.read",
            "summaries.read",
            "summaries.build",
            "exports.read",
            "exports.build",
            "participants.import",
            # removing a record (softly, with a reason) is a lead's decision
            "participants.delete",
            "pseudonymisation.key",
            # starts translations of materials at their site and assigns the steps
            "translation.assign",
            # steps and comments of the translation work (the step's role is checked too)
            "translation.work",
            "quality.read",
            "quality.run",
            "queries.open",
            "queries.answer",
            "queries.close",
            # the e-signature of completed forms and events, and lifting it with a reason
            "responses.sign",
            "responses.unlock",
        }
    ),
    "translator": frozenset(
        {
            "self",
            "reminders.read",
            "reminders.inbox",
            "translation.read",
            "translation.write",
            "translation.work",
            "instruments.read",
        }
    ),
    "reviewer": frozenset(
        {
            "self",
            "reminders.read",
            "reminders.inbox",
            "translation.read",
            "translation.review",
            "translation.work",
            "instruments.read",
        }
    ),
    # A monitor reads (source data verification), asks and closes; it signs nothing
    # and changes no data.
    "monitor": frozenset(
        (_READ_ALL - {"summaries.build", "exports.build"})
        | {
            "self",
            "reminders.read",
            "reminders.inbox",
            "quality.read",
            "queries.open",
            "queries.close",
        }
    ),
    "coordinator": frozenset(
        _READ_ALL
        | {
            "self",
            "reminders.read",
            "reminders.inbox",
            "reminders.failures",
            "quality.read",
            "quality.run",
            "queries.open",
            "queries.close",
        }
    ),
    # Holds the allocation lists (concealed from everyone who enrols) and their balance.
    "statistician": frozenset(
        {
            "self",
            "reminders.read",
            "reminders.inbox",
            "randomisation.manage",
            "randomisation.report",
        }
    ),
    "admin": frozenset(
        _READ_ALL
        | _DATA_ENTRY
        | {
            "self",
            "reminders.read",
            "reminders.inbox",
            "reminders.failures",
            "users.manage",
            "participants.import",
            "participants.delete",
            "translation.write",
            "translation.review",
            "translation.assign",
            # steps and comments of the translation work (the step's role is checked too)
            "translation.work",
            "pseudonymisation.key",
            "instruments.manage",
            # the trial-wide English source of study materials
            "materials.manage",
            "randomisation.manage",
            "randomisation.report",
            "quality.read",
            "quality.run",
            "queries.open",
            "queries.answer",
            "queries.close",
            "responses.unlock",
        }
    ),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: the user and (role, site) pairs; site None means every site."""

    user_id: int
    email: str
    grants: tuple[tuple[str, str | None], ...] = field(default_factory=tuple)
    via: str = "api"  # api (bearer token) or page (session)

    @property
    def roles(self) -> list[str]:
        return sorted({role for role, _ in self.grants})

    def scope_for(self, permission: str) -> tuple[SiteScope, list[str]]:
        """Sites where a role grants ``permission``, and those roles."""
        codes: set[str] = set()
        roles: set[str] = set()
        for role, site in self.grants:
            if permission not in ROLE_PERMISSIONS.get(role, ()):
                continue
            roles.add(role)
            if role in ALL_SITE_ROLES or (role in SITES_OR_ALL_ROLES and site is None):
                return EVERY_SITE, sorted(roles | {role})
            if site is not None:
                codes.add(site)
        return SiteScope(codes=frozenset(codes)), sorted(roles)

    def has(self, permission: str, site_code: str | None = None) -> bool:
        scope, roles = self.scope_for(permission)
        if not roles:
            return False
        return site_code is None or scope.allows(site_code)


def current_principal() -> Principal | None:
    return g.get("principal")


def authorize(permission: str) -> Principal:
    """Enforce ``permission`` for this request and narrow the site scope to it."""
    principal = current_principal()
    if principal is None:
        raise Unauthorized(N_("Log in or send an API token."))
    scope, roles = principal.scope_for(permission)
    if not roles or (not scope.every_site and not scope.codes):
        raise Forbidden(N_("You do not have permission for this."))
    set_scope(scope)
    set_audit_context(replace(current_audit_context(), role=",".join(roles)))
    g.permission = permission
    return principal
