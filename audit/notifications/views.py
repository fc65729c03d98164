"""The in-app notification list, marking read, and per-kind preferences."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from audit.auth.permissions import Permission, requires
from audit.core.errors import DomainError
from audit.core.registry import registry
from audit.extensions import db
from audit.models import Notification, NotificationPreference, utcnow
from audit.notifications import services

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def _unread():
    """Unread count for the bell in the header (one COUNT query, logged-in pages only)."""
    if not getattr(current_user, "is_authenticated", False):
        return {}
    return {"unread_notifications": services.unread_count(current_user)}


@bp.get("/")
@requires(Permission.OWN_ACCOUNT)
def index():
    """My notifications, newest first."""
    notes = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                               .order_by(Notification.created_at.desc(), Notification.id.desc())
                               .limit(200)).all()
    return render_template("notifications/index.html", notes=notes)


@bp.post("/<int:note_id>/read")
@requires(Permission.OWN_ACCOUNT)
def read(note_id: int):
    """Mark one read and follow its link."""
    note = db.session.get(Notification, note_id) or abort(404)
    try:
        services.mark_read(note, actor=current_user, now=utcnow())
    except DomainError:
        abort(404)
    db.session.commit()
    link = note.link if note.link and note.link.startswith("/") and not note.link.startswith("//") else None
    return redirect(link or url_for("notifications.index"))


@bp.post("/read-all")
@requires(Permission.OWN_ACCOUNT)
def read_all():
    """Mark everything read."""
    services.mark_all_read(actor=current_user, now=utcnow())
    db.session.commit()
    flash("All notifications marked read.", "success")
    return redirect(url_for("notifications.index"))


@bp.route("/preferences", methods=["GET", "POST"])
@requires(Permission.OWN_ACCOUNT)
def preferences():
    """Choose, per kind, in the app and/or by e-mail."""
    if request.method == "POST":
        choices = {kind: (request.form.get(f"{kind}-app") == "on", request.form.get(f"{kind}-email") == "on")
                   for kind in registry().notification_kinds}
        services.save_preferences(current_user, choices, actor=current_user, now=utcnow())
        db.session.commit()
        flash("Notification settings saved.", "success")
        return redirect(url_for("notifications.preferences"))
    prefs = {p.kind: p for p in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == current_user.id))}
    rows = [{"kind": k, "label": label, "in_app": prefs[k].in_app if k in prefs else True,
             "email": prefs[k].email if k in prefs else True} for k, label in registry().notification_kinds.items()]
    return render_template("notifications/preferences.html", rows=rows)


OUTBOX_PAGE_SIZE = 50
_OUTBOX_STATE = {
    "queued": (Notification.emailed_at.is_(None), Notification.email_failed_at.is_(None)),
    "sent": (Notification.emailed_at.is_not(None),),
    "failed": (Notification.email_failed_at.is_not(None),),
}


@bp.get("/outbox")
@requires(Permission.VIEW_OUTBOX)
def outbox():
    """Everyone's e-mails: queued (with retry reason), sent and failed, newest first, paged.

    Three queries whatever the page shows: the counts per state, the page, nothing per row.
    """
    state = request.args.get("state") if request.args.get("state") in _OUTBOX_STATE else None
    wanted = Notification.email_wanted.is_(True)
    failed = Notification.email_failed_at.is_not(None)
    sent = Notification.emailed_at.is_not(None)
    counts = db.session.execute(select(
        func.count(case((~failed & ~sent, 1))), func.count(case((sent, 1))),
        func.count(case((failed, 1)))).where(wanted)).one()
    counts = dict(zip(("queued", "sent", "failed"), counts, strict=True))
    total = counts[state] if state else sum(counts.values())
    pages = max((total + OUTBOX_PAGE_SIZE - 1) // OUTBOX_PAGE_SIZE, 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    # Only the recipient's name and address are shown: none of their relationships are loaded.
    stmt = select(Notification).options(joinedload(Notification.user).raiseload("*")).where(wanted)
    if state:
        stmt = stmt.where(*_OUTBOX_STATE[state])
    notes = db.session.scalars(stmt.order_by(Notification.id.desc())
                               .offset((page - 1) * OUTBOX_PAGE_SIZE).limit(OUTBOX_PAGE_SIZE)).all()
    return render_template("notifications/outbox.html", notes=notes, counts=counts, state=state,
                           page=page, pages=pages, total=total,
                           mail_server=current_app.config.get("MAIL_SERVER"))
