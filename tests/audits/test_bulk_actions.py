"""Audit list search, filters and bulk changes (issue 14, build 9): every selected audit goes
through the single change's rules; the ones that pass are applied, the refused ones come back
ticked with their reasons; the page keeps a constant number of queries."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from audit.audits.announcements import AUDITEE_KIND, TEAM_KIND
from audit.extensions import db
from audit.models import (
    Audit,
    AuditStatus,
    Notification,
    QualificationLevel,
    Role,
    TeamRole,
    TrailEntry,
)

UTC = dt.UTC


def _at(day: dt.date, hour: int) -> dt.datetime:
    """Berlin wall-clock hour on ``day`` in UTC (winter: UTC+1)."""
    return dt.datetime(day.year, day.month, day.day, hour - 1, tzinfo=UTC)


@pytest.fixture
def w(app, make):
    """Two 9001 audits in Berlin (Thursday and Friday 11-12 Feb 2027) led by Lea, one 14001
    audit, a unit with its owner, a coordinator and a second lead qualified for 9001 only."""
    q, e = make.standard("ISO 9001"), make.standard("ISO 14001")
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    lea, ned = make.user(name="Lea Lead"), make.user(name="Ned Nextlead")
    for person in (lea, ned):
        make.qualification(person, q, level=QualificationLevel.LEAD)
    make.qualification(lea, e, level=QualificationLevel.LEAD)
    owner = make.user(roles=(Role.AUDITEE,), name="Olga Owner")
    berlin = make.site(name="Berlin works", timezone="Europe/Berlin")
    unit = make.unit(name="Welding", site=berlin, owner=owner)
    audits = []
    for n, (day, std) in enumerate([(dt.date(2027, 2, 11), q), (dt.date(2027, 2, 12), q),
                                    (dt.date(2027, 2, 16), e)]):
        audit = make.audit(reference=f"IA-2027-00{n + 1}", title=f"Audit {n + 1}", site=berlin,
                           starts_at=_at(day, 9), ends_at=_at(day, 17), planned_date=day,
                           team=[(lea, TeamRole.LEAD)] if n < 2 else [])
        audit.standards.append(std)
        audit.units.append(unit)
        audits.append(audit)
    db.session.commit()
    return SimpleNamespace(coordinator=coordinator, lea=lea, ned=ned, owner=owner, audits=audits, unit=unit,
                           site=berlin, q=q, e=e)


def _post(client, ids, **data):
    return client.post("/audits/bulk", data={"ids": [a.id for a in ids], **data})


def _notes(kind=None):
    stmt = select(Notification.user_id, Notification.kind, Notification.title)
    return [tuple(r) for r in db.session.execute(stmt)]


def _days(*audits):
    db.session.expire_all()
    return [db.session.get(Audit, a.id).local_dates()[0] for a in audits]


def test_shift_by_days_moves_each_audit_with_trail_and_one_notification_per_person(w, login):
    """Two audits a week later: each rescheduled through the service (trail "reschedule"),
    local times kept, and the lead and the unit's owner get exactly one notification per audit."""
    a1, a2, _ = w.audits
    response = _post(login(w.coordinator), [a1, a2], action="shift", days="7")
    assert response.status_code == 302
    assert _days(a1, a2) == [dt.date(2027, 2, 18), dt.date(2027, 2, 19)]
    assert db.session.get(Audit, a1.id).starts_at == _at(dt.date(2027, 2, 18), 9)
    trail = db.session.scalars(select(TrailEntry.object_id).where(TrailEntry.action == "reschedule")).all()
    assert sorted(trail) == sorted([a1.id, a2.id])
    notes = _notes()
    for person, kind in ((w.lea, TEAM_KIND), (w.owner, AUDITEE_KIND)):
        mine = [n for n in notes if n[0] == person.id]
        assert len(mine) == 2 and {n[1] for n in mine} == {kind}
        titles = sorted(n[2] for n in mine)  # one per audit, each naming its audit
        assert titles[0].startswith(f"{a1.reference} moved to") and titles[1].startswith(f"{a2.reference} moved to")
    assert not [n for n in notes if n[0] in (w.coordinator.id, w.ned.id)]


def test_partial_failure_applies_the_rest_and_keeps_the_refused_ticked_with_reason(w, login):
    """Two days later: Tuesday → Thursday passes, Thursday → Saturday is refused by the calendar
    rule. The page answers 200 with the refusal's reason, the refused audit still ticked and
    the form's input kept; nothing of the refused audit changed and nobody heard about it."""
    a1, _, a3 = w.audits
    response = _post(login(w.coordinator), [a1, a3], action="shift", days="2")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _days(a1, a3) == [dt.date(2027, 2, 11), dt.date(2027, 2, 18)]
    refused = page[page.index('id="bulk-refused"'):]
    assert a1.reference in refused and "Sat 13 Feb 2027 is a weekend day." in refused
    assert a3.reference not in refused.split("</div>")[0]
    assert re.search(rf'name="ids" value="{a1.id}"[^>]*checked', page)
    assert not re.search(rf'name="ids" value="{a3.id}"[^>]*checked', page)
    assert re.search(r'name="days"[^>]*value="2"', page)
    assert not [n for n in _notes() if n[0] == w.lea.id]  # only a1 concerns Lea: not moved
    assert len([n for n in _notes() if n[0] == w.owner.id]) == 1  # a3's move
    # With the reason the weekend is waived and kept in the trail, as on the audit page.
    response = _post(login(w.coordinator), [a1], action="shift", days="2", reason="Shutdown weekend")
    assert response.status_code == 302 and _days(a1) == [dt.date(2027, 2, 13)]
    entry = db.session.scalars(select(TrailEntry).where(TrailEntry.object_id == a1.id,
                                                        TrailEntry.action == "reschedule")).one()
    assert entry.changes["override_reason"] == "Shutdown weekend"


def test_move_to_a_date_keeps_local_times_and_refuses_with_the_reason(w, login):
    """All three to Monday 1 March: the two led by Lea cannot both be that day (double
    booking is the team's rule): the first passes, the second is refused with why."""
    a1, a2, a3 = w.audits
    response = _post(login(w.coordinator), [a1, a2, a3], action="move_to", to_date="2027-03-01")
    assert response.status_code == 200
    assert _days(a1, a2, a3) == [dt.date(2027, 3, 1), dt.date(2027, 2, 12), dt.date(2027, 3, 1)]
    assert "Lea Lead" in response.get_data(as_text=True).split('id="bulk-refused"')[1].split("</div>")[0]


def test_assign_lead_checks_competence_per_audit(w, login):
    """Ned (lead for 9001 only) as lead of the 14001 audit is refused with the uncovered
    standard; Lea leads it fine. Each assignment notifies the new lead once."""
    _, _, a3 = w.audits
    client = login(w.coordinator)
    response = _post(client, [a3], action="assign_lead", lead_id=str(w.ned.id))
    assert response.status_code == 422
    assert "ISO 14001" in response.get_data(as_text=True).split('id="bulk-refused"')[1]
    assert db.session.get(Audit, a3.id).lead is None and not _notes()
    response = _post(client, [a3], action="assign_lead", lead_id="999999")
    assert response.status_code == 422 and "choose the lead again" in response.get_data(as_text=True)
    response = _post(client, [a3], action="assign_lead", lead_id=str(w.lea.id))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Audit, a3.id).lead.id == w.lea.id
    assert [n[1] for n in _notes() if n[0] == w.lea.id] == [TEAM_KIND]
    assert [n[1] for n in _notes() if n[0] == w.owner.id] == [AUDITEE_KIND]


def test_cancel_and_postpone_need_a_reason_and_follow_the_table_of_states(w, login):
    """Without a reason nothing is touched (422, selection kept); with it the audits are
    cancelled; a cancelled audit cannot be postponed and says so."""
    a1, a2, _ = w.audits
    client = login(w.coordinator)
    response = _post(client, [a1, a2], action="cancel")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Say why the audits are cancelled." in page
    assert re.search(rf'name="ids" value="{a1.id}"[^>]*checked', page)
    assert {db.session.get(Audit, a.id).status for a in (a1, a2)} == {AuditStatus.PLANNED}
    assert _post(client, [a1], action="cancel", reason="Unit closed").status_code == 302
    db.session.expire_all()
    assert db.session.get(Audit, a1.id).status is AuditStatus.CANCELLED
    assert db.session.get(Audit, a1.id).status_reason == "Unit closed"
    assert len([n for n in _notes() if n[0] == w.lea.id and "cancelled" in n[2]]) == 1
    response = _post(client, [a1, a2], action="postpone", reason="Audit team ill")
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Audit, a2.id).status is AuditStatus.POSTPONED
    assert "the audit is cancelled" in response.get_data(as_text=True).split('id="bulk-refused"')[1]


@pytest.mark.parametrize("role,status", [(Role.COORDINATOR, 302), (Role.ADMIN, 302), (Role.AUDITOR, 403),
                                         (Role.AUDITEE, 403), (Role.VIEWER, 403)])
def test_only_coordinators_change_audits_in_bulk(w, make, login, role, status):
    """The bulk change is the coordinator's capability: others get 403 and change nothing; the
    list shows them no checkboxes."""
    person = make.user(roles=(role,))
    client = login(person)
    response = _post(client, [w.audits[0]], action="cancel", reason="Not mine to cancel")
    assert response.status_code == status
    db.session.expire_all()
    cancelled = db.session.get(Audit, w.audits[0].id).status is AuditStatus.CANCELLED
    assert cancelled is (status == 302)
    page = client.get("/audits/").get_data(as_text=True)
    assert ('form="bulk"' in page) is (status == 302)


def test_bulk_change_needs_the_csrf_token(w, app, login):
    """With CSRF on, as in production, a bulk POST without the token changes nothing."""
    client = login(w.coordinator)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = _post(client, [w.audits[0]], action="cancel", reason="x")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code in (400, 422)
    db.session.expire_all()
    assert db.session.get(Audit, w.audits[0].id).status is AuditStatus.PLANNED


def test_search_covers_unit_site_and_supplier_and_filters_lead_and_dates(w, make, login):
    """Search finds audits by unit and site name; the lead filter keeps Lea's audits; the date
    range is judged on each audit's own local day (a Sydney audit at 09:00 on 1 March is 28
    February in UTC, yet in March)."""
    sydney = make.site(name="Sydney office", timezone="Australia/Sydney")
    far = make.audit(reference="IA-2027-009", title="Far away", site=sydney,
                     starts_at=dt.datetime(2027, 2, 28, 22, tzinfo=UTC), ends_at=dt.datetime(2027, 3, 1, 6, tzinfo=UTC))
    undated = make.audit(reference="IA-2027-010", title="Not dated", site=sydney, planned_date=dt.date(2027, 3, 2))
    client = login(w.coordinator)
    refs = [a.reference for a in w.audits] + [far.reference, undated.reference]

    def found(query):
        page = client.get(f"/audits/?{query}").get_data(as_text=True)
        return {r for r in refs if f">{r}<" in page}

    assert found("q=weld") == {a.reference for a in w.audits}
    assert found("q=sydney") == {far.reference, undated.reference}
    assert found(f"lead={w.lea.id}") == {w.audits[0].reference, w.audits[1].reference}
    assert found("date_from=2027-03-01") == {far.reference, undated.reference}
    assert found("date_to=2027-02-28") == {a.reference for a in w.audits}
    assert found("date_from=2027-02-12&date_to=2027-02-12") == {w.audits[1].reference}


def test_list_with_every_filter_and_the_bulk_form_keeps_a_constant_query_count(w, make, login, count_queries):
    """Filters, search, date range and the bulk form cost the same for 3 and for 23 audits,
    and a refused bulk change re-renders at a cost independent of the selection's size."""
    client = login(w.coordinator)
    query = (f"/audits/?q=a&lead={w.lea.id}&site={w.site.id}&standard={w.q.id}&status=planned"
             "&date_from=2027-01-01&date_to=2027-12-31&kind=internal")
    db.session.commit()  # both measured requests start from an expired session, as in production
    with count_queries() as few:
        assert client.get(query).status_code == 200
    more = []
    for n in range(20):
        day = dt.date(2027, 4, 1) + dt.timedelta(days=n)
        audit = make.audit(title=f"Extra {n}", site=w.site, starts_at=_at(day, 9), ends_at=_at(day, 17),
                           team=[(w.lea, TeamRole.LEAD)])
        audit.standards.append(w.q)
        audit.units.append(w.unit)
        more.append(audit)
    db.session.commit()
    with count_queries() as many:
        assert client.get(query).status_code == 200
    assert few.count == many.count
    # A refused form (no action chosen) with 2 or 20 ticked audits.
    with count_queries() as two:
        assert _post(client, more[:2]).status_code == 422
    with count_queries() as twenty:
        assert _post(client, more).status_code == 422
    assert two.count == twenty.count
