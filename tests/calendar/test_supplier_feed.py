"""A supplier contact's personal feed holds their company's SCAR deadlines (review zones2 #2).

A SCAR has no owner: every contact of the supplier answers it. Their feed shows the stage
deadlines still ahead (the dates the SCAR page shows, ``Finding.scar_due_dates``) and the
SCAR's open actions, and the feed's ETag follows every change of them.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from audit.calendar import feeds, fingerprint, ical
from audit.extensions import db
from audit.models import (
    AuditKind,
    AuditStatus,
    FeedKind,
    Finding,
    FindingStatus,
    Grade,
    Role,
    ScarStage,
)
from tests.calendar.conftest import local
from tests.calendar.parsers import assert_wellformed, parse_everywhere

DAY = dt.date(2026, 3, 10)


@pytest.fixture
def scar(app, make, cal, now):
    """An acknowledged SCAR at a Shanghai supplier, issued on 2 Mar 20:00 UTC (3 Mar in
    Shanghai), with an action carried by one contact; two contacts, and a contact elsewhere."""
    supplier = make.supplier(timezone="Asia/Shanghai")
    contact = make.user(roles=(Role.SUPPLIER,), supplier=supplier)
    colleague = make.user(roles=(Role.SUPPLIER,), supplier=supplier)
    stranger = make.user(roles=(Role.SUPPLIER,), supplier=make.supplier())
    audit = make.audit(site=None, supplier=supplier, kind=AuditKind.SECOND_PARTY,
                       status=AuditStatus.REPORT_ISSUED, reference="SA-T-2026-001",
                       starts_at=local("Asia/Shanghai", 2026, 3, 2, 9),
                       ends_at=local("Asia/Shanghai", 2026, 3, 2, 17))
    finding = Finding(reference="SA-T-2026-001-F01", audit=audit, grade=Grade.MAJOR,
                      status=FindingStatus.AWAITING_RESPONSE, statement="Secret SCAR statement",
                      supplier=supplier, scar_stage=ScarStage.ACKNOWLEDGED, raised_at=now,
                      issued_at=dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC),
                      response_due_on=dt.date(2026, 4, 1), closure_due_on=dt.date(2026, 5, 1),
                      updated_at=now)
    db.session.add(finding)
    db.session.flush()
    action = cal.action(finding, colleague, due=dt.date(2026, 4, 20))
    db.session.commit()
    token = SimpleNamespace(user=contact, kind=FeedKind.PERSONAL, target_id=None)
    return SimpleNamespace(supplier=supplier, contact=contact, colleague=colleague, stranger=stranger,
                           audit=audit, finding=finding, action=action, token=token)


def render(app, user, day=DAY) -> bytes:
    return ical.render_feed(feeds.build_feed(FeedKind.PERSONAL, None, user, day=day, links=feeds.Links(app)))


def deadlines(app, user) -> dict[str, dt.date]:
    """UID stem → date of the all-day deadlines in ``user``'s feed, as three parsers read it."""
    data = render(app, user)
    assert_wellformed(data)
    return {uid.split("@")[0]: start for uid, (start, _end, _status, _seq) in parse_everywhere(data).items()
            if not isinstance(start, dt.datetime)}


def test_a_supplier_contact_sees_the_scar_stage_deadlines_and_its_actions(app, scar):
    """Every contact of the supplier gets the stage deadlines the SCAR page shows, in the audit's
    zone, and the SCAR's open actions, whoever of them carries one."""
    f, a = scar.finding, scar.action
    assert f.scar_due_dates() == {"containment": dt.date(2026, 3, 4), "root_cause": dt.date(2026, 3, 17),
                                  "action_plan": dt.date(2026, 4, 1), "implementation": dt.date(2026, 5, 1)}
    expected = {f"finding-{f.id}-containment-20260304": dt.date(2026, 3, 4),
                f"finding-{f.id}-root-cause-20260317": dt.date(2026, 3, 17),
                f"finding-{f.id}-action-plan-20260401": dt.date(2026, 4, 1),
                f"finding-{f.id}-implementation-20260501": dt.date(2026, 5, 1),
                f"action-{a.id}-20260420": dt.date(2026, 4, 20)}
    assert deadlines(app, scar.contact) == expected
    assert deadlines(app, scar.colleague) == expected
    assert deadlines(app, scar.stranger) == {}

    text = render(app, scar.contact).decode().replace("\r\n ", "")
    assert "SUMMARY:Containment due: SCAR SA-T-2026-001-F01" in text
    assert "SUMMARY:Corrective action due: SCAR SA-T-2026-001-F01" in text
    assert f"URL:{app.config['BASE_URL']}/scar/{f.id}" in text
    assert "Secret" not in text


def test_stages_done_leave_the_feed_and_a_closed_scar_leaves_entirely(app, scar):
    """As an internal finding's response leaves once answered, a SCAR stage leaves once done."""
    f = scar.finding
    f.scar_stage = ScarStage.CONTAINMENT
    db.session.commit()
    assert {uid.rsplit("-", 1)[0] for uid in deadlines(app, scar.contact)} == {
        f"finding-{f.id}-root-cause", f"finding-{f.id}-action-plan", f"finding-{f.id}-implementation",
        f"action-{scar.action.id}"}
    f.status, f.scar_stage = FindingStatus.ACTION_IN_PROGRESS, ScarStage.ACTION_PLAN
    db.session.commit()
    assert {uid.rsplit("-", 1)[0] for uid in deadlines(app, scar.contact)} == {
        f"finding-{f.id}-implementation", f"action-{scar.action.id}"}
    f.status, f.scar_stage = FindingStatus.CLOSED, ScarStage.CLOSED
    db.session.commit()
    assert f"finding-{f.id}" not in render(app, scar.contact).decode()


def etag(app, token) -> str:
    db.session.flush()
    return fingerprint.feed_etag(token, None, day=DAY, links=feeds.Links(app), org_name="Audits")


def _stage_done(ctx):
    ctx.finding.scar_stage = ScarStage.CONTAINMENT


def _plan_moved(ctx):
    ctx.finding.response_due_on = dt.date(2026, 4, 8)


def _closed(ctx):
    ctx.finding.status = FindingStatus.CLOSED


def _supplier_zone(ctx):
    # Issued 2 Mar 20:00 UTC: 3 Mar in Shanghai, 2 Mar in London; containment moves a day.
    ctx.supplier.timezone = "Europe/London"


def _colleagues_action(ctx):
    ctx.action.due_on = dt.date(2026, 4, 21)


def _new_scar(ctx):
    db.session.add(Finding(reference="SA-T-2026-001-F02", audit=ctx.audit, grade=Grade.MINOR,
                           status=FindingStatus.AWAITING_RESPONSE, statement="Another", supplier=ctx.supplier,
                           scar_stage=ScarStage.ISSUED, issued_at=ctx.finding.issued_at,
                           response_due_on=dt.date(2026, 4, 1), closure_due_on=dt.date(2026, 6, 1)))


SCAR_INPUTS = {
    "SCAR stage done": _stage_done,
    "SCAR plan date moved": _plan_moved,
    "SCAR closed": _closed,
    "zone of the SCAR's audit": _supplier_zone,
    "colleague's action on the SCAR": _colleagues_action,
    "new SCAR for the company": _new_scar,
}


@pytest.mark.parametrize("change", SCAR_INPUTS.values(), ids=SCAR_INPUTS.keys())
def test_each_scar_input_changes_the_supplier_contacts_etag(app, scar, change):
    """The fingerprint selects the same SCARs and actions as the feed: each change that alters
    the feed's deadlines changes the ETag, so a client polling with If-None-Match sees it."""
    before_feed, before = render(app, scar.contact), etag(app, scar.token)
    change(scar)
    assert etag(app, scar.token) != before
    assert render(app, scar.contact) != before_feed


def test_other_suppliers_scars_do_not_touch_the_etag(app, scar):
    """A stranger's ETag stays put when another company's SCAR changes (their 304 holds)."""
    token = SimpleNamespace(user=scar.stranger, kind=FeedKind.PERSONAL, target_id=None)
    before = etag(app, token)
    _stage_done(scar)
    _colleagues_action(scar)
    assert etag(app, token) == before


def test_the_scars_zone_counts_even_when_its_audit_is_outside_the_feed(app, scar):
    """The stage dates are days in the audit's zone: the ETag follows that zone through the
    SCAR itself, not only through the audit's own event (here out of the window)."""
    scar.audit.starts_at = local("Asia/Shanghai", 2025, 11, 2, 9)
    scar.audit.ends_at = local("Asia/Shanghai", 2025, 11, 2, 17)
    db.session.commit()
    assert f"audit-{scar.audit.id}@" not in render(app, scar.contact).decode()
    before_feed, before = render(app, scar.contact), etag(app, scar.token)
    _supplier_zone(scar)
    assert render(app, scar.contact) != before_feed
    assert etag(app, scar.token) != before
