"""Log in, log out, and one's own account."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from audit.auth import services
from audit.auth.forms import AccountForm, EndOtherSessionsForm, LoginForm, PasswordForm
from audit.auth.permissions import Permission, public, requires
from audit.core.errors import DomainError
from audit.core.routing import local_path
from audit.extensions import db
from audit.models import utcnow
from audit.trail.services import apply_changes, record

bp = Blueprint("auth", __name__)


def _keep_this_session() -> None:
    """Re-issue the current session with the user's new session version (others stay ended)."""
    login_user(current_user._get_current_object())


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """The login page; throttled per account after repeated failures.

    Every refusal (unknown e-mail, wrong password, locked or inactive account) is the same
    401 with the same message after the same work, so the page cannot be used to list accounts.
    """
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
            return redirect(local_path(request.args.get("next")) or url_for("home.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@requires(Permission.OWN_ACCOUNT)
def logout():
    """Log out everywhere (POST with CSRF, so a link on another site cannot log people out).

    Ending only this browser's cookie would leave a copy of it (a shared tablet, a proxy log)
    working for the rest of its life, so every session of the user ends.
    """
    services.end_sessions(current_user, actor=current_user, now=utcnow(), reason="logged out")
    db.session.commit()
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
            _keep_this_session()
            flash("Your password is changed; your other sessions are logged out.", "success")
            return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/account.html", form=form, password_form=password_form,
                           sessions_form=EndOtherSessionsForm(prefix="sessions")), status


@bp.post("/account/sessions")
@requires(Permission.OWN_ACCOUNT)
def end_other_sessions():
    """Log out every other browser and device of this user; this one stays logged in."""
    form = EndOtherSessionsForm(prefix="sessions")
    if not form.validate_on_submit():
        flash("The form expired; nothing was changed. Please try again.", "error")
        return redirect(url_for("auth.account"))
    services.end_sessions(current_user, actor=current_user, now=utcnow(),
                          reason="other sessions logged out from the account page")
    db.session.commit()
    _keep_this_session()
    flash("Your other sessions are logged out.", "success")
    return redirect(url_for("auth.account"))
