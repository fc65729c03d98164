"""Calendar feeds (token-authorised), subscription management, and single-audit downloads.

Feed URLs carry the only credential a calendar client has: ``/calendar/feed/<token>.ics``.
The token is redacted from request logs (werkzeug, gunicorn, the app logger) and the feed
answers ``Referrer-Policy: no-referrer``; unknown, malformed and revoked tokens get 404.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re

import segno
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from audit.audits.access import can_read_audit
from audit.auth.permissions import Permission, public, requires
from audit.calendar import feeds, ical, polls, services, subscriptions
from audit.calendar.forms import ConfirmForm, TokenForm
from audit.core.database import commit_keeping_loaded, writing
from audit.core.errors import DomainError
from audit.core.forms import saving
from audit.extensions import db
from audit.models import Audit, CalendarToken, FeedKind, utcnow

bp = Blueprint("calendar", __name__)


CONTENT_TYPE = "text/calendar; charset=utf-8"
FEED_PATH = re.compile(r"(/calendar/feed/)[^\s/?\"']+")
REDACTED = r"\1[token]"


class RedactFeedTokens(logging.Filter):
    """Rewrite log records so feed tokens never reach a log file (access and error logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/calendar/feed/" in message:
            record.msg = FEED_PATH.sub(REDACTED, message)
            record.args = ()
        return True


def install_log_filter(app: Flask) -> None:
    """Attach the redacting filter to every logger that prints request paths (idempotent)."""
    for logger in (logging.getLogger("werkzeug"), logging.getLogger("gunicorn.access"),
                   logging.getLogger("gunicorn.error"), app.logger):
        if not any(isinstance(f, RedactFeedTokens) for f in logger.filters):
            logger.addFilter(RedactFeedTokens())


bp.record_once(lambda state: install_log_filter(state.app))


def _links() -> feeds.Links:
    """The app's feed links, built once per configuration: every poll needs them, and building
    them walks the URL map (a quarter of a millisecond, on every 304; issue 16)."""
    key = (current_app.config.get("BASE_URL"), current_app.config.get("CALENDAR_UID_DOMAIN"))
    cache = current_app.extensions.setdefault("audit.feed_links", {})
    if key not in cache:
        cache[key] = feeds.Links(current_app)
    return cache[key]


def _org_name() -> str:
    return current_app.config.get("ORGANISATION_NAME", "Audits")


# --------------------------------------------------------------------------------------------
# Feeds


@bp.get("/calendar/feed/<token>.ics")
@public
def feed(token: str):
    """A subscribed calendar: authorised by the secret token in its URL, nothing else.

    A conditional poll this worker has answered before is answered from one statement
    (``polls.recall``); anything else looks the token, its owner and the target up.
    """
    digest = services.token_digest(token)
    if digest is None:
        abort(404)
    now = utcnow()
    day, links, org_name = now.date(), _links(), _org_name()
    conditional = "If-None-Match" in request.headers
    poll = polls.recall(digest, day=day, links=links, org_name=org_name) if conditional else None
    body = None
    if poll is None or not request.if_none_match.contains_weak(poll.etag):
        row = services.find_active_token(token)
        if row is None or not feeds.may_subscribe(row.user, row.kind):
            polls.forget(digest)
            abort(404)
        target = None
        if row.kind is not FeedKind.PERSONAL:
            target = feeds.load_target(row.kind, row.target_id)
            if target is None:
                polls.forget(digest)
                abort(404)
        # The fingerprint first: a client that has this feed gets its 304 before any event is built.
        poll = polls.read(digest, row, target, day=day, links=links, org_name=org_name) or abort(404)
        if not (conditional and request.if_none_match.contains_weak(poll.etag)):
            body = ical.render_feed(feeds.build_feed(row.kind, target, row.user, day=day, links=links,
                                                     org_name=org_name))
            # The stored content hash (Last-Modified's clock) is the body's, known only when built.
            poll = dataclasses.replace(poll, stamps=row)
    etag = poll.etag
    changes = services.served_changes(
        poll.stamps, None if body is None else hashlib.sha256(body).hexdigest(), now=now)
    last_modified = changes.get("content_changed_at", poll.stamps.content_changed_at)
    # End the read transaction before writing: never upgrade it (see _record_served). It
    # wrote nothing, so COMMIT ends it as ROLLBACK would, and psycopg keeps its prepared
    # statements (core.database).
    commit_keeping_loaded()
    if changes:
        _record_served(poll.token_id, changes, now=now)
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": "private, no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex, nofollow",
    }
    response = Response(status=304, headers=headers) if body is None or _not_modified(etag, last_modified) \
        else Response(body, headers=headers, content_type=CONTENT_TYPE)
    response.last_modified = last_modified
    return response


def _record_served(token_id: int, changes: dict, *, now) -> None:
    """The poll's bookkeeping in a short write transaction of its own, best effort.

    Writing inside the poll's read transaction made polls answer 500 "database is locked" on
    SQLite under write load (issue 16); a separate immediate transaction queues for the lock
    instead, and if it still fails the poll is answered anyway: the next one records it.
    """
    try:
        with writing():
            services.note_served(token_id, changes, now=now)
            db.session.commit()
    except OperationalError:
        db.session.rollback()
        current_app.logger.warning("calendar token %s: poll not recorded (database busy)", token_id)


def _not_modified(etag: str, last_modified) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if "If-None-Match" in request.headers:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since


@bp.get("/audits/<int:audit_id>/calendar.ics")
@requires(Permission.VIEW_ORGANISATION)
def audit_download(audit_id: int):
    """One audit and its agenda sessions as an .ics file (the same serialiser as the feeds)."""
    audit = db.session.get(Audit, audit_id)
    if audit is None or not can_read_audit(audit, current_user):
        abort(404)  # the same rule as the audit's page and plan
    body = feeds.audit_ics(audit)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", audit.reference) + ".ics"
    return Response(body, content_type=CONTENT_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def audit_section(audit: Audit, user):
    """The audit page's calendar box: download link for the audit and its agenda."""
    if not user.can(Permission.VIEW_ORGANISATION):
        return None
    return {
        "title": "Calendar",
        "template": "calendar/_audit_section.html",
        "context": {"ics_url": url_for("calendar.audit_download", audit_id=audit.id)},
    }



# --------------------------------------------------------------------------------------------
# Subscription management


@bp.get("/calendar/")
@requires(Permission.OWN_ACCOUNT)
def index():
    """My calendar links: create, revoke, rotate. ``?feed=site:3`` preselects a calendar, so
    other pages can offer "Subscribe to this site's calendar"."""
    form = _token_form(formdata=None)
    wanted = request.args.get("feed")
    if wanted and any(value == wanted for group in form.feed.choices.values() for value, _ in group):
        form.feed.data = wanted
    return _render_index(form)


def _token_form(**kwargs) -> TokenForm:
    form = TokenForm(**kwargs)
    form.feed.choices = subscriptions.subscription_choices(current_user)
    return form


def _render_index(form: TokenForm, status: int = 200, created=None):
    tokens = services.tokens_of(current_user)
    names = subscriptions.token_names(tokens)
    response = current_app.make_response((render_template(
        "calendar/index.html", form=form, tokens=tokens, names=names, confirm=ConfirmForm(),
        created=created), status))
    if created is not None:
        # The page shows a secret: never let it leak through a Referer header or a cache.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


def _created(token: CalendarToken, secret: str) -> dict:
    """What the page shows once: the https and webcal links and a QR code of the webcal one."""
    https = current_app.config.get("BASE_URL", request.host_url).rstrip("/") + url_for(
        "calendar.feed", token=secret)
    webcal = "webcal://" + https.split("://", 1)[1]
    qr = segno.make(webcal, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")
    return {"token": token, "https": https, "webcal": webcal, "qr_svg": qr,
            "name": feeds.target_name(token.kind, feeds.load_target(token.kind, token.target_id))}


@bp.post("/calendar/tokens")
@requires(Permission.OWN_ACCOUNT)
def create():
    """Create a subscription link; the page shows its secret this once."""
    form = _token_form()
    if not form.validate():
        return _render_index(form, 400)
    kind, target_id = subscriptions.parse_choice(form.feed.data)
    with saving(form) as saved:
        token, secret = services.create_token(current_user, kind, target_id, form.label.data,
                                              actor=current_user, now=utcnow())
    if not saved.ok:
        return _render_index(form, 400)
    return _render_index(_token_form(formdata=None), created=_created(token, secret))


def _own_token(token_id: int) -> CalendarToken:
    token = db.session.get(CalendarToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    return token


@bp.post("/calendar/tokens/<int:token_id>/revoke")
@requires(Permission.OWN_ACCOUNT)
def revoke(token_id: int):
    """Revoke a link: calendar apps using it get 404 from now on."""
    token = _own_token(token_id)
    if not ConfirmForm().validate():
        abort(400)
    try:
        services.revoke_token(token, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("calendar.index"))
    db.session.commit()
    flash("The calendar link is revoked.", "success")
    return redirect(url_for("calendar.index"))


@bp.post("/calendar/tokens/<int:token_id>/rotate")
@requires(Permission.OWN_ACCOUNT)
def rotate(token_id: int):
    """Replace a link by a new one (the old one stops working); shows the new secret once."""
    token = _own_token(token_id)
    if not ConfirmForm().validate():
        abort(400)
    try:
        new, secret = services.rotate_token(token, actor=current_user, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("calendar.index"))
    db.session.commit()
    return _render_index(_token_form(formdata=None), created=_created(new, secret))
