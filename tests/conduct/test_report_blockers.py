"""Report blockers (issue 15 item 3): NC verdicts need a finding or a reason, unanswered
questions need N/A or a "not covered" reason, and the report prints what was not covered, its
distribution list, its confidentiality statement and its criteria as a list."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from audit.conduct.answers import raise_finding_from_answer, save_answer
from audit.conduct.blockers import record_question_reason, report_blockers
from audit.conduct.checklist_read import build_checklist
from audit.conduct.report import get_report, issue_report, save_report, sign_report
from audit.core.errors import DomainError
from audit.extensions import db
from audit.findings.services import issue_finding
from audit.models import AuditStatus, Grade, TrailEntry
from tests.conduct.test_report import REPORT


def _answer_all_but_s1q1(setup, now):
    """Every visible question other than S1Q1 answered (S1Q3 shows because S1Q1 is an NC)."""
    audit, q = setup.audit, setup.questions
    for key in ("S1Q3", "S2Q2", "S2Q3"):
        save_answer(audit, q[key], verdict="not_applicable", base_version=0, actor=setup.auditor, now=now)
    # S1Q2 demands a photo even when N/A (existing rule), so it is recorded as not covered.
    record_question_reason(audit, q["S1Q2"], kind="not_covered", reason="Camera not allowed",
                           actor=setup.auditor, now=now)
    save_answer(audit, q["S2Q1"], value="5", base_version=0, actor=setup.auditor, now=now)


def _sign(setup, now, **extra):
    save_report(setup.audit, dict(REPORT, **extra), actor=setup.lead, now=now)
    sign_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()


def _blocker_questions(setup):
    audit = setup.audit
    return {b.question_id: b.reason_kind
            for b in report_blockers(audit, get_report(audit), build_checklist(audit)) if b.question_id}


@pytest.mark.parametrize("verdict", ["major_nc", "minor_nc"])
def test_nc_verdict_without_finding_blocks_issue(setup, now, verdict):
    """An NC verdict with neither finding nor reason is a blocker and the issue is refused."""
    _answer_all_but_s1q1(setup, now)
    save_answer(setup.audit, setup.questions["S1Q1"], verdict=verdict, base_version=0,
                actor=setup.auditor, now=now)
    _sign(setup, now)
    assert _blocker_questions(setup) == {setup.questions["S1Q1"].id: "no_finding"}
    with pytest.raises(DomainError) as err:
        issue_report(setup.audit, actor=setup.lead, now=now)
    assert "S1Q1" in err.value.message and "without a finding" in err.value.message
    assert setup.audit.report_issued_at is None


def test_nc_with_finding_or_reason_does_not_block(setup, now):
    """A finding raised from the NC, or a recorded reason, clears the blocker; the issue succeeds."""
    q = setup.questions
    _answer_all_but_s1q1(setup, now)
    save_answer(setup.audit, q["S1Q1"], verdict="major_nc", base_version=0, actor=setup.auditor, now=now)
    record_question_reason(setup.audit, q["S1Q1"], kind="no_finding",
                           reason="Corrected on the spot and verified.", actor=setup.auditor, now=now)
    assert _blocker_questions(setup) == {}
    record_question_reason(setup.audit, q["S1Q1"], kind="no_finding", reason="", actor=setup.auditor, now=now)
    assert _blocker_questions(setup) == {q["S1Q1"].id: "no_finding"}
    finding = raise_finding_from_answer(setup.audit, q["S1Q1"], grade=Grade.MAJOR,
                                        statement="No records kept.", evidence="Logbook empty since May.",
                                        actor=setup.auditor, now=now)
    _sign(setup, now)
    assert _blocker_questions(setup) == {}
    # Still a draft, it would reach nobody with the report: issuing it comes first.
    blockers = report_blockers(setup.audit, get_report(setup.audit), build_checklist(setup.audit))
    assert [b.message for b in blockers] == [f"Finding {finding.reference} is still a draft: issue it (or "
                                             "delete it) first."]
    with pytest.raises(DomainError, match="is still a draft"):
        issue_report(setup.audit, actor=setup.lead, now=now)
    issue_finding(finding, actor=setup.lead, now=now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    assert setup.audit.status is AuditStatus.REPORT_ISSUED


def test_unanswered_questions_block_unless_na_or_not_covered(setup, now):
    """Unanswered visible questions block; N/A or a "not covered" reason clears them; a hidden
    conditional question never blocks."""
    audit, q = setup.audit, setup.questions
    save_answer(audit, q["S1Q1"], verdict="conforming", base_version=0, actor=setup.auditor, now=now)
    _sign(setup, now)
    blocked = _blocker_questions(setup)
    assert blocked == {q[k].id: "not_covered" for k in ("S1Q2", "S2Q1", "S2Q2", "S2Q3")}  # S1Q3 hidden
    save_answer(audit, q["S2Q2"], verdict="not_applicable", base_version=0, actor=setup.auditor, now=now)
    for key in ("S1Q2", "S2Q1", "S2Q3"):
        record_question_reason(audit, q[key], kind="not_covered", reason=f"Night shift only ({key})",
                               actor=setup.auditor, now=now)
    assert _blocker_questions(setup) == {}
    issue_report(audit, actor=setup.lead, now=now)
    assert audit.report_issued_at == now


def test_reason_rules_and_trail(setup, now):
    """A reason needs text, fits its case (no "no finding" on a conforming answer, no "not
    covered" on an answered question), leaves the answer unanswered and writes a trail row."""
    audit, q = setup.audit, setup.questions
    with pytest.raises(DomainError):
        record_question_reason(audit, q["S2Q3"], kind="not_covered", reason="  ", actor=setup.auditor, now=now)
    save_answer(audit, q["S1Q1"], verdict="conforming", base_version=0, actor=setup.auditor, now=now)
    with pytest.raises(DomainError):
        record_question_reason(audit, q["S1Q1"], kind="no_finding", reason="x", actor=setup.auditor, now=now)
    with pytest.raises(DomainError):
        record_question_reason(audit, q["S1Q1"], kind="not_covered", reason="x", actor=setup.auditor, now=now)
    with pytest.raises(DomainError):
        record_question_reason(audit, q["S2Q3"], kind="other", reason="x", actor=setup.auditor, now=now)
    answer = record_question_reason(audit, q["S2Q3"], kind="not_covered", reason="Stopped line",
                                    actor=setup.auditor, now=now)
    assert answer.version == 0 and answer.verdict is None
    row = next(r for r in build_checklist(audit).rows if r.question.key == "S2Q3")
    assert not row.answered
    trail = db.session.scalars(select(TrailEntry).where(TrailEntry.object_type == "ChecklistAnswer",
                                                        TrailEntry.object_id == answer.id)).all()
    assert any("not covered" in t.summary for t in trail)
    # The tablet still saves its first answer against version 0.
    save_answer(audit, q["S2Q3"], verdict="conforming", base_version=0, actor=setup.auditor, now=now)


def test_report_page_lists_blockers_with_links_and_hides_issue(setup, now, login):
    """The page lists the NC blocker with a link to its question and no issue button; recording
    the reason through the page clears it and offers the button."""
    q = setup.questions
    _answer_all_but_s1q1(setup, now)
    save_answer(setup.audit, q["S1Q1"], verdict="major_nc", base_version=0, actor=setup.auditor, now=now)
    _sign(setup, now)
    client = login(setup.lead)
    page = client.get(f"/audits/{setup.audit.id}/report").get_data(as_text=True)
    assert f'/audits/{setup.audit.id}/checklist#q{q["S1Q1"].id}' in page
    assert "Major NC verdict without a finding" in page
    assert "Issue report" not in page
    r = client.post(f"/audits/{setup.audit.id}/report/questions/{q['S1Q1'].id}/reason",
                    data={"kind": "no_finding", "reason": "Already covered by F-2026-003."})
    assert r.status_code == 302
    page = client.get(f"/audits/{setup.audit.id}/report").get_data(as_text=True)
    assert "without a finding" not in page and "Issue report" in page
    r = client.post(f"/audits/{setup.audit.id}/report/questions/{q['S2Q1'].id}/reason",
                    data={"kind": "not_covered", "reason": "x"})  # answered: refused, nothing stored
    follow = client.get(f"/audits/{setup.audit.id}/report").get_data(as_text=True)
    assert "it was covered" in follow


def test_pdf_lists_not_covered_distribution_confidentiality_and_criteria(setup, now, login, app):
    """The PDF prints questions not covered with their reasons, the distribution list, the
    configured confidentiality statement and the criteria one per line."""
    from pypdf import PdfReader

    app.config["REPORT_CONFIDENTIALITY"] = "Strictly confidential to Acme Works."
    audit, q = setup.audit, setup.questions
    save_answer(audit, q["S1Q1"], verdict="conforming", base_version=0, actor=setup.auditor, now=now)
    for key in ("S1Q2", "S2Q1", "S2Q2", "S2Q3"):
        record_question_reason(audit, q[key], kind="not_covered", reason=f"Night shift not visited {key}",
                               actor=setup.auditor, now=now)
    _sign(setup, now, areas_not_covered="", distribution="Plant manager\nQuality team\n\n")
    client = login(setup.auditee)
    page = client.get(f"/audits/{audit.id}/report").get_data(as_text=True)
    assert "whole scope was covered" not in page
    reader = PdfReader(io.BytesIO(client.get(f"/audits/{audit.id}/report.pdf").data))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    for key in ("S1Q2", "S2Q1", "S2Q2", "S2Q3"):
        assert f"Night shift not visited {key}" in text
    assert "Distribution" in text and "Plant manager" in text and "Quality team" in text
    assert "Strictly confidential to Acme Works." in text
    assert "ISO 9001:2015 clauses 7-9" in text


def test_areas_not_covered_is_honest_when_questions_are_unanswered(setup, now, login):
    """With nothing recorded, the report does not claim the whole scope was covered while
    questions are unanswered."""
    save_answer(setup.audit, setup.questions["S1Q1"], verdict="conforming", base_version=0,
                actor=setup.auditor, now=now)
    db.session.commit()
    page = login(setup.lead).get(f"/audits/{setup.audit.id}/report").get_data(as_text=True)
    assert "whole scope was covered" not in page
    assert "None recorded (4 of 5 checklist questions unanswered)" in page


def test_checklist_shows_recorded_reasons(setup, now, login):
    """A question marked not covered, and an NC explained without a finding, say so on the checklist."""
    q = setup.questions
    save_answer(setup.audit, q["S1Q1"], verdict="minor_nc", base_version=0, actor=setup.auditor, now=now)
    record_question_reason(setup.audit, q["S1Q1"], kind="no_finding", reason="Fixed during the audit",
                           actor=setup.auditor, now=now)
    record_question_reason(setup.audit, q["S2Q3"], kind="not_covered", reason="Store closed",
                           actor=setup.auditor, now=now)
    db.session.commit()
    html = login(setup.auditor).get(f"/audits/{setup.audit.id}/checklist").get_data(as_text=True)
    assert "No finding raised: Fixed during the audit" in html and "Not covered: Store closed" in html
