"""A qualification coming to its end is somebody's turn before an audit team breaks on it: the
registered sweep tells the auditor and the coordinators 60 days ahead and again once it has
ended unrenewed, each once; the coordinators' "Waiting for me" holds "Qualification to renew"
until a renewal at the same level or above is recorded (or 30 days after the end). Days are the
auditor's own."""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy import select

from audit.extensions import db
from audit.models import Notification, QualificationLevel, Role
from audit.people import renewals
from tests.journey import at, notice_titles, run_job, waiting_items

LAST_DAY = dt.date(2027, 3, 31)

_sweep = partial(run_job, job="qualification_renewals")
_titles = partial(notice_titles, kind="qualification_ending")
_to_renew = partial(waiting_items, step="renew_qualification")


def _people(make):
    coordinator = make.user(roles=(Role.COORDINATOR,), name="Cora Coordinator")
    auditor = make.user(roles=(Role.AUDITOR,), name="Lena Lead", timezone="Pacific/Auckland")
    standard = make.standard("ISO 9001")
    lead = make.qualification(auditor, standard, level=QualificationLevel.LEAD, valid_until=LAST_DAY)
    db.session.commit()
    return coordinator, auditor, standard, lead


def test_an_ending_qualification_is_told_once_and_waits_for_the_coordinators(app, make):
    coordinator, auditor, standard, lead = _people(make)
    assert _sweep(app, at(LAST_DAY - dt.timedelta(days=61))) == {"send_renewal_notices": 0}
    assert _to_renew(app, coordinator, at(LAST_DAY - dt.timedelta(days=61))) == []

    notice_day = at(LAST_DAY - dt.timedelta(days=60))
    assert _sweep(app, notice_day) == {"send_renewal_notices": 2}
    assert _sweep(app, notice_day + dt.timedelta(hours=1)) == {"send_renewal_notices": 0}
    assert _titles(auditor) == _titles(coordinator) == [
        "Qualification ending: Lena Lead, Lead auditor ISO 9001:2015"]
    mine = db.session.scalars(select(Notification).where(Notification.user_id == auditor.id)).one()
    assert "ends on 31 Mar 2027" in mine.body and "send the evidence to your coordinator" in mine.body
    assert mine.link == f"/people/qualifications/{lead.id}"
    item, = _to_renew(app, coordinator, notice_day)
    assert (item.label, item.key, item.due_on, item.overdue) == (
        "Qualification to renew", "Lena Lead", LAST_DAY, False)
    assert item.url == f"/people/qualifications/{lead.id}"
    assert _to_renew(app, auditor, notice_day) == []  # recording it is the coordinators' turn

    # 11:30 UTC on the last day is already the next day in Auckland: it has ended there.
    ended = dt.datetime(2027, 3, 31, 11, 30, tzinfo=dt.UTC)
    assert _sweep(app, ended) == {"send_renewal_notices": 2}
    assert _titles(auditor)[-1] == "Qualification ended: Lena Lead, Lead auditor ISO 9001:2015"
    item, = _to_renew(app, coordinator, ended)
    assert item.overdue and "ended 31 Mar 2027" in item.title
    assert _to_renew(app, coordinator, at(LAST_DAY + dt.timedelta(days=31))) == []  # long lapsed


def test_a_renewal_at_the_same_level_or_above_ends_the_turn(app, make):
    coordinator, auditor, standard, lead = _people(make)
    soon = at(LAST_DAY - dt.timedelta(days=30))
    # A lower level valid for longer is no renewal of a lead qualification.
    make.qualification(auditor, standard, level=QualificationLevel.AUDITOR, valid_until=dt.date(2030, 3, 31))
    db.session.commit()
    assert len(_to_renew(app, coordinator, soon)) == 1
    make.qualification(auditor, standard, level=QualificationLevel.LEAD, valid_from=dt.date(2027, 3, 1),
                       valid_until=dt.date(2030, 3, 31))
    db.session.commit()
    assert _to_renew(app, coordinator, soon) == []
    assert _sweep(app, soon) == {"send_renewal_notices": 0}


def test_nothing_for_people_who_can_no_longer_log_in(app, make):
    coordinator, auditor, _standard, _lead = _people(make)
    auditor.is_active = False
    db.session.commit()
    assert _sweep(app, at(LAST_DAY - dt.timedelta(days=10))) == {"send_renewal_notices": 0}
    assert _to_renew(app, coordinator, at(LAST_DAY - dt.timedelta(days=10))) == []


def test_the_list_costs_the_same_queries_for_one_qualification_or_six(app, make, count_queries):
    coordinator, _auditor, standard, _lead = _people(make)
    soon = at(LAST_DAY - dt.timedelta(days=10))
    with count_queries() as one:
        assert len(renewals.to_renew(soon)) == 1
    for i in range(5):
        person = make.user(roles=(Role.AUDITOR,), timezone=["Europe/Berlin", "America/Chicago"][i % 2])
        make.qualification(person, standard, valid_until=LAST_DAY - dt.timedelta(days=i))
    db.session.commit()
    db.session.expire_all()
    with count_queries() as six:
        assert len(renewals.to_renew(soon)) == 6
    assert six.count == one.count == 1
