"""Cross-site walk records of accounts: a BU research worker, a token, a membership."""

from trialdm.auth.operations import create_token, create_user


def seed(session, site: str, marker: str) -> dict:
    user = create_user(
        session, f"walk.{site.lower()}@test.org", "research_worker", [site], display_name=marker
    )
    token, _ = create_token(session, user, marker)
    return {
        "user_id": user.id,
        "token_id": token.id,
        "membership_id": user.memberships[0].id,
        "code": site,
    }
