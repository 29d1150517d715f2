"""Pages: login, logout and the home page. Domains add their pages beside their API."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user

from trialdm.auth.operations import login as check_login
from trialdm.auth.permissions import current_principal, public, requires
from trialdm.core.http import keep_transaction
from trialdm.extensions import db, limiter

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

LOGIN_FAILED = "The e-mail address or password is not right, or the account is locked."


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failed(response) -> bool:
    return response.status_code == 401


def _login_email_key() -> str:
    return "login-account:" + request.form.get("email", "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed, key_func=_login_email_key)
def login():
    if request.method == "POST":
        user = check_login(
            db.session, request.form.get("email", ""), request.form.get("password", "")
        )
        keep_transaction()  # the audit row of a failed login is kept too
        if user is None:
            return render_template(
                "login.html", error=LOGIN_FAILED, email=request.form.get("email", "")
            ), 401
        login_user(user)
        target = request.args.get("next", "")
        # only local paths: never an open redirect
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("web.home")
        return redirect(target)
    return render_template("login.html", error=None, email="")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("web.login"))


@bp.route("/")
@login_required
@requires("self")
def home():
    principal = current_principal()
    return render_template("home.html", principal=principal)
