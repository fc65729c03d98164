"""Log in, log out, and one's own account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from audit.auth import services
from audit.auth.forms import AccountForm, LoginForm, PasswordForm
from audit.auth.permissions import Permission, public, requires
from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import utcnow
from audit.trail.services import apply_changes, record

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """The login page; throttled per account after repeated failures."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.email.data,
                form.password.data,
                now=utcnow(),
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lock_seconds=current_app.config["LOGIN_LOCK_SECONDS"],
            )
        except services.LoginFailed as exc:
            db.session.commit()  # keep the failure count
            flash(exc.message, "error")
            status = 401
        else:
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@requires(Permission.OWN_ACCOUNT)
def logout():
    """Log out (POST with CSRF, so a link on another site cannot log people out)."""
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@requires(Permission.OWN_ACCOUNT)
def account():
    """One's own name, time zone and password."""
    form = AccountForm(obj=current_user, prefix="account")
    password_form = PasswordForm(prefix="pw")
    if request.method == "POST" and "account-name" in request.form and form.validate():
        changes = apply_changes(current_user, {"name": form.name.data, "timezone": form.timezone.data})
        if changes:
            record(current_user, "update", actor=current_user, now=utcnow(), changes=changes,
                   summary="Account details changed")
        db.session.commit()
        flash("Your account is updated.", "success")
        return redirect(url_for("auth.account"))
    if request.method == "POST" and "pw-password" in request.form and password_form.validate():
        try:
            services.change_password(
                current_user, password_form.current_password.data, password_form.password.data,
                now=utcnow(),
            )
        except DomainError as exc:
            db.session.rollback()
            getattr(password_form, exc.field or "password").errors.append(exc.message)
        else:
            db.session.commit()
            flash("Your password is changed.", "success")
            return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/account.html", form=form, password_form=password_form), status
