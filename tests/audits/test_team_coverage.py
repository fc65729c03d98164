"""Team competence as a whole (issue 14, Found 3): a combined audit is staffed by a team that
together covers every standard; the lead needs a lead qualification for one of them."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.audits.services import add_team_member, change_status
from audit.core.errors import DomainError
from audit.models import AuditStatus, QualificationLevel, TeamRole

START = dt.datetime(2026, 4, 14, 7, 0, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def stds(make, app):
    return [make.standard(code) for code in ("ISO 9001", "ISO 14001", "ISO 45001")]


@pytest.fixture
def machining(make, stds):
    audit = make.audit(starts_at=START, ends_at=END, title="Machining")
    audit.standards.extend(stds)
    return audit


def _person(make, name, *quals):
    person = make.user(name=name)
    for std, level in quals:
        make.qualification(person, std, level=level)
    return person


def test_specialist_leads_join_a_combined_audit_and_cover_it_together(make, machining, stds, now):
    """The ISO 14001 lead leads, the ISO 9001 and ISO 45001 auditors join: no one holds every
    standard, the team covers all three, and the audit can be scheduled."""
    q, e, s = stds
    lead = _person(make, "Priya", (e, QualificationLevel.LEAD))
    add_team_member(machining, lead, TeamRole.LEAD, actor=None, now=now)
    add_team_member(machining, _person(make, "Jonas", (q, QualificationLevel.AUDITOR)), TeamRole.AUDITOR,
                    actor=None, now=now)
    with pytest.raises(DomainError, match="No lead or auditor in the team is qualified for ISO 45001"):
        change_status(machining, AuditStatus.SCHEDULED, actor=None, now=now)
    add_team_member(machining, _person(make, "Carlos", (s, QualificationLevel.LEAD)), TeamRole.AUDITOR,
                    actor=None, now=now)
    change_status(machining, AuditStatus.SCHEDULED, actor=None, now=now)
    assert machining.status is AuditStatus.SCHEDULED


def test_lead_needs_a_lead_qualification_for_one_standard(make, machining, stds, now):
    """An auditor-level qualification in every standard does not make a lead."""
    person = _person(make, "Ada", *[(s, QualificationLevel.AUDITOR) for s in stds])
    with pytest.raises(DomainError, match="Ada cannot lead"):
        add_team_member(machining, person, TeamRole.LEAD, actor=None, now=now)


def test_member_without_any_standard_in_scope_is_refused(make, machining, now):
    """Someone qualified for none of the standards in scope adds nothing and is refused."""
    other = make.standard("ISO 50001")
    person = _person(make, "Olaf", (other, QualificationLevel.LEAD))
    with pytest.raises(DomainError, match="Olaf holds no ISO 9001 auditor qualification"):
        add_team_member(machining, person, TeamRole.AUDITOR, actor=None, now=now)


def test_team_section_names_the_uncovered_standard(make, machining, stds, login, now):
    """The audit page says which standard the team does not cover yet."""
    from audit.models import Role

    lead = _person(make, "Priya", (stds[1], QualificationLevel.LEAD))
    add_team_member(machining, lead, TeamRole.LEAD, actor=None, now=now)
    coordinator = make.user(roles=(Role.COORDINATOR,))
    page = login(coordinator).get(f"/audits/{machining.id}").get_data(as_text=True)
    section = page[page.index('id="team-coverage"'):]
    section = section[:section.index("</p>")]
    assert "<b>ISO 9001</b>" in section and "<b>ISO 45001</b>" in section and "ISO 14001" not in section
