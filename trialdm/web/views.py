"""Pages: login, logout, language, the dashboard. Domains add their pages beside their API
(``<domain>/views.py``); templates for all of them live under ``web/templates``."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer

from trialdm.auth.operations import LoginThrottled, end_sessions, get_user_by_email
from trialdm.auth.operations import login as check_login
from trialdm.auth.permissions import current_principal, public, requires
from trialdm.core.http import keep_transaction
from trialdm.extensions import db, limiter
from trialdm.web.dashboard import dashboard_widgets
from trialdm.web.forms import init_forms
from trialdm.web.i18n import LANGUAGES, SESSION_KEY, init_i18n
from trialdm.web.labels import init_labels
from trialdm.web.navigation import init_navigation, local_target
from trialdm.web.security import init_security_headers

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

# One message for every failure (wrong address, wrong password, locked, inactive).
LOGIN_FAILED = lazy_gettext(
    "The e-mail address or password is not right, or the account is locked."
)


@bp.record_once
def _setup(state) -> None:
    app: Flask = state.app
    init_i18n(app)
    init_security_headers(app)
    init_navigation(app)
    init_labels(app)
    init_forms(app)
    app.extensions["trialdm.page_error"] = render_error


def render_error(status: int, title: str, detail: str | None) -> str:
    return render_template("error.html", status=status, title=title, detail=detail)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failed(response) -> bool:
    return response.status_code == 401


# A browser where an account logged in before carries its id in a signed cookie, so
# that failures from elsewhere (someone guessing) do not lock the owner out.
KNOWN_DEVICE_COOKIE = "trialdm_device"
KNOWN_DEVICE_MAX_AGE = 365 * 24 * 3600
KNOWN_DEVICE_SALT = "trialdm-known-device"


def _known_device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=KNOWN_DEVICE_SALT)


def _known_accounts() -> list[int]:
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    try:
        ids = _known_device_serializer().loads(raw)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _remember_device(response, user_id: int) -> None:
    accounts = [user_id] + [i for i in _known_accounts() if i != user_id]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        _known_device_serializer().dumps(accounts[:10]),
        max_age=KNOWN_DEVICE_MAX_AGE,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
def login():
    if request.method == "POST":
        email = request.form.get("email", "")
        account = get_user_by_email(db.session, email)
        known = account is not None and account.id in _known_accounts()
        try:
            user = check_login(
                db.session, email, request.form.get("password", ""), known_device=known
            )
        except LoginThrottled as throttled:
            keep_transaction()
            error = gettext(
                "Too many failed logins for this account. Try again in %(seconds)s seconds.",
                seconds=throttled.retry_after,
            )
            page = render_template("login.html", error=error, email=email)
            return page, 429, {"Retry-After": str(throttled.retry_after)}
        keep_transaction()  # the audit row of a failed login is kept too
        if user is None:
            return render_template("login.html", error=LOGIN_FAILED, email=email), 401
        login_user(user)
        response = redirect(local_target(request.args.get("next"), url_for("web.home")))
        _remember_device(response, user.id)
        return response
    return render_template("login.html", error=None, email="")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        # Ends this session and every other one of the account (the cookie alone is
        # the session: it must stop working, not just be forgotten by this browser).
        end_sessions(current_user._get_current_object())
        db.session.flush()
    logout_user()
    flash(gettext("You are logged out."))
    return redirect(url_for("web.login"))


@bp.route("/language", methods=["POST"])
@public
def language():
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        session[SESSION_KEY] = chosen
    return redirect(local_target(request.form.get("next"), url_for("web.home")))


@bp.route("/")
@login_required
@requires("self")
def home():
    principal = current_principal()
    return render_template(
        "home.html", principal=principal, widgets=dashboard_widgets(db.session, principal)
    )
