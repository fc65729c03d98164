"""Team assignment rules, each with its message (ISO 19011 clause 7, ISO 9001 9.2.2 c)."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.audits.services import add_team_member, change_status, remove_team_member, update_audit
from audit.core.errors import DomainError
from audit.models import AuditStatus, QualificationLevel, Role, TeamRole

START = dt.datetime(2026, 4, 14, 7, 0, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def std(make, app):
    return make.standard("ISO 9001")


@pytest.fixture
def audit(make, std):
    a = make.audit(starts_at=START, ends_at=END)
    a.standards.append(std)
    return a


def lead_person(make, std, **kw):
    person = make.user(**kw)
    make.qualification(person, std, level=QualificationLevel.LEAD)
    return person


def test_qualified_auditor_joins_and_bumps_revision(make, audit, std, now):
    """A valid auditor qualification for the standard lets a person join; the revision goes up."""
    person = make.user(name="Ada Auditor")
    make.qualification(person, std)
    before = audit.revision
    add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)
    assert [m.user for m in audit.team] == [person]
    assert audit.revision == before + 1


def test_unqualified_person_is_refused(make, audit, now):
    """Without any qualification for the standard in scope, nobody may audit."""
    person = make.user(name="No Cert")
    with pytest.raises(DomainError, match="No Cert holds no ISO 9001 auditor qualification"):
        add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)


def test_expired_qualification_on_audit_dates_is_refused(make, audit, std, now):
    """A qualification that has expired by the audit dates does not count."""
    person = make.user(name="Old Cert")
    make.qualification(person, std, valid_until=dt.date(2026, 4, 1))
    with pytest.raises(DomainError, match=r"Old Cert's ISO 9001 qualification is not valid on the audit dates "
                                          r"14 Apr 2026 – 14 Apr 2026 \(expired 01 Apr 2026\)"):
        add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)


def test_qualification_for_other_standard_is_refused(make, audit, now):
    """A qualification for ISO 14001 does not qualify for an ISO 9001 audit."""
    person = make.user(name="Env Only")
    make.qualification(person, make.standard("ISO 14001"))
    with pytest.raises(DomainError, match="holds no ISO 9001 auditor qualification"):
        add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)


def test_lead_needs_lead_qualification(make, audit, std, now):
    """The lead auditor needs a lead-auditor qualification, not just an auditor one."""
    person = make.user(name="Plain Auditor")
    make.qualification(person, std, level=QualificationLevel.AUDITOR)
    with pytest.raises(DomainError, match="Plain Auditor cannot lead: no valid lead-auditor qualification for ISO 9001"):
        add_team_member(audit, person, TeamRole.LEAD, actor=None, now=now)


def test_trainee_level_is_not_enough_for_auditor_role(make, audit, std, now):
    """An auditor in training may join as trainee but not as auditor."""
    person = make.user(name="Tina Trainee")
    make.qualification(person, std, level=QualificationLevel.TRAINEE)
    with pytest.raises(DomainError, match="only qualified as Auditor in training for ISO 9001"):
        add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)
    add_team_member(audit, person, TeamRole.TRAINEE, actor=None, now=now)
    assert audit.team[0].role is TeamRole.TRAINEE


def test_owner_may_not_audit_own_unit(make, audit, std, now):
    """Impartiality: the owner of an audited unit is refused..."""
    person = lead_person(make, std, name="Olga Owner")
    audit.units.append(make.unit(name="Welding", owner=person))
    with pytest.raises(DomainError, match="Olga Owner owns Welding and may not audit it"):
        add_team_member(audit, person, TeamRole.LEAD, actor=None, now=now)


def test_member_may_not_audit_own_unit_unless_justified(make, audit, std, now):
    """... and so is a member, unless a coordinator records a justification, which is kept."""
    person = make.user(name="Mia Member")
    make.qualification(person, std)
    unit = make.unit(name="Painting")
    unit.members.append(person)
    audit.units.append(unit)
    with pytest.raises(DomainError, match="Mia Member belongs to Painting and may not audit it"):
        add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)
    member = add_team_member(audit, person, TeamRole.AUDITOR, justification="Only two people on site.",
                             actor=None, now=now)
    assert member.impartiality_justification == "Only two people on site."


def test_no_double_booking(make, audit, std, now):
    """Nobody sits in two overlapping audits."""
    person = lead_person(make, std, name="Busy Bee")
    other = make.audit(reference="IA-2026-900", title="Other audit",
                       starts_at=START + dt.timedelta(hours=4), ends_at=END + dt.timedelta(hours=4))
    other.standards.append(std)
    add_team_member(other, person, TeamRole.LEAD, actor=None, now=now)
    with pytest.raises(DomainError, match=r"Busy Bee is already booked on IA-2026-900 \(Other audit\) at that time"):
        add_team_member(audit, person, TeamRole.AUDITOR, actor=None, now=now)


def test_cancelled_audit_does_not_block(make, audit, std, now):
    """A cancelled overlapping audit frees its people."""
    person = lead_person(make, std)
    other = make.audit(starts_at=START, ends_at=END)
    other.standards.append(std)
    add_team_member(other, person, TeamRole.LEAD, actor=None, now=now)
    change_status(other, AuditStatus.CANCELLED, reason="Plant closed", actor=None, now=now)
    add_team_member(audit, person, TeamRole.LEAD, actor=None, now=now)
    assert audit.lead is person


def test_experts_and_observers_never_count_as_auditors(make, audit, std, now):
    """Technical experts and observers need no qualification but never make an audit staffed."""
    expert, observer = make.user(name="Tech Expert"), make.user(name="Obi Observer")
    add_team_member(audit, expert, TeamRole.TECHNICAL_EXPERT, actor=None, now=now)
    add_team_member(audit, observer, TeamRole.OBSERVER, actor=None, now=now)
    assert audit.auditors == []
    with pytest.raises(DomainError, match="Assign a lead auditor first \\(technical experts and observers do not count"):
        change_status(audit, AuditStatus.SCHEDULED, actor=None, now=now)


def test_one_lead_and_one_role_per_person(make, audit, std, now):
    """An audit has one lead, and a person holds one role in it."""
    first, second = lead_person(make, std, name="First Lead"), lead_person(make, std)
    add_team_member(audit, first, TeamRole.LEAD, actor=None, now=now)
    with pytest.raises(DomainError, match="First Lead already leads this audit"):
        add_team_member(audit, second, TeamRole.LEAD, actor=None, now=now)
    with pytest.raises(DomainError, match="First Lead is already in the team as lead"):
        add_team_member(audit, first, TeamRole.OBSERVER, actor=None, now=now)


def test_no_standard_means_no_auditors(app, make, now):
    """Qualifications are per standard, so an audit without standards takes no auditors yet."""
    audit = make.audit(starts_at=START, ends_at=END)
    with pytest.raises(DomainError, match="Add the standards in scope before assigning auditors"):
        add_team_member(audit, make.user(), TeamRole.AUDITOR, actor=None, now=now)


def test_rescheduling_into_a_clash_is_refused(make, audit, std, now):
    """Moving an audit onto a team member's other audit is refused with the clash named."""
    person = lead_person(make, std, name="Rita Resched")
    add_team_member(audit, person, TeamRole.LEAD, actor=None, now=now)
    other = make.audit(reference="IA-2026-901", starts_at=START + dt.timedelta(days=7),
                       ends_at=END + dt.timedelta(days=7))
    other.standards.append(std)
    add_team_member(other, person, TeamRole.LEAD, actor=None, now=now)
    data = {"title": audit.title, "kind": audit.kind, "site_id": audit.site_id, "standard_ids": [std.id],
            "starts_local": dt.datetime(2026, 4, 21, 9, 0), "ends_local": dt.datetime(2026, 4, 21, 17, 0)}
    with pytest.raises(DomainError, match="Rita Resched is already booked on IA-2026-901"):
        update_audit(audit, data, actor=None, now=now)


def test_scheduled_audit_keeps_its_lead(make, audit, std, now):
    """The lead of a scheduled audit cannot be removed without a replacement."""
    person = lead_person(make, std)
    member = add_team_member(audit, person, TeamRole.LEAD, actor=None, now=now)
    change_status(audit, AuditStatus.SCHEDULED, actor=None, now=now)
    with pytest.raises(DomainError, match="A scheduled audit needs its lead"):
        remove_team_member(audit, member, actor=None, now=now)


def test_inactive_account_refused(make, audit, std, now):
    """Deactivated people cannot be assigned."""
    person = lead_person(make, std, name="Gone Person", is_active=False, roles=(Role.AUDITOR,))
    with pytest.raises(DomainError, match="Gone Person's account is deactivated"):
        add_team_member(audit, person, TeamRole.LEAD, actor=None, now=now)
