"""Closing the audit: report record, sign-off, issue freezes the audit, the PDF."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from audit.conduct.access import AuditFrozen
from audit.conduct.answers import raise_finding_from_answer, save_answer
from audit.conduct.blockers import record_question_reason
from audit.conduct.evidence import add_evidence
from audit.conduct.report import ensure_report_due_on, get_report, issue_report, save_report, sign_report
from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings.services import issue_finding
from audit.models import AuditStatus, Finding, FindingStatus, Grade, TrailEntry
from tests.conduct.conftest import jpeg_bytes

REPORT = {"conclusions": "The assembly process conforms with two exceptions.",
          "fulfilment": "Criteria largely fulfilled.",
          "positive_findings": "Excellent 5S on line 1.",
          "areas_not_covered": "Night shift: not operating during the audit.",
          "diverging_opinions": "Auditee disputes the grading of F02.",
          "follow_up": "Verify actions at the next surveillance."}


def _ready_to_issue(setup, now):
    """Answer the photo-required question with a photo, write and sign the report."""
    audit = setup.audit
    save_answer(audit, setup.questions["S1Q1"], verdict="minor_nc", note="WI-7 outdated",
                         base_version=0, actor=setup.auditor, now=now)
    add_evidence(audit, data=jpeg_bytes(), filename="p.jpg", question=setup.questions["S1Q1"],
                          max_bytes=10_000_000, actor=setup.auditor, now=now)
    raise_finding_from_answer(audit, setup.questions["S1Q1"], grade=Grade.MINOR,
                              statement="Work instruction WI-7 is not the released revision.",
                              evidence="WI-7 rev B at station 3; rev C released.",
                              actor=setup.auditor, now=now)
    # Every draft of the audit issued (a draft blocks the report's issue), the test's own too.
    for draft in db.session.scalars(select(Finding).where(Finding.audit_id == audit.id,
                                                          Finding.status == FindingStatus.DRAFT)):
        issue_finding(draft, actor=setup.lead, now=now)
    _cover_the_rest(setup, now)
    save_report(audit, REPORT, actor=setup.lead, now=now)
    sign_report(audit, actor=setup.lead, now=now)
    db.session.commit()


def _cover_the_rest(setup, now):
    """Answer or mark every question other than S1Q1 so that none blocks the issue."""
    audit, q = setup.audit, setup.questions
    save_answer(audit, q["S1Q3"], verdict="not_applicable", base_version=0, actor=setup.auditor, now=now)
    save_answer(audit, q["S2Q2"], verdict="conforming", base_version=0, actor=setup.auditor, now=now)
    for key in ("S1Q2", "S2Q1", "S2Q3"):
        record_question_reason(audit, q[key], kind="not_covered", reason=f"{key}: line stopped",
                               actor=setup.auditor, now=now)


def test_issue_freezes_the_audit(setup, now):
    """After issue: status report issued, no answer edits, no evidence, no new findings."""
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()
    audit = setup.audit
    assert audit.status is AuditStatus.REPORT_ISSUED
    assert audit.report_issued_at == now
    with pytest.raises(AuditFrozen):
        save_answer(audit, setup.questions["S1Q2"], verdict="conforming", base_version=0,
                             actor=setup.auditor, now=now)
    with pytest.raises(AuditFrozen):
        add_evidence(audit, data=jpeg_bytes(), filename="x.jpg", max_bytes=10_000_000,
                              actor=setup.auditor, now=now)
    with pytest.raises(DomainError):
        raise_finding_from_answer(audit, setup.questions["S1Q1"], grade=Grade.OFI,
                                           statement="late", evidence=None, actor=setup.lead, now=now)
    with pytest.raises(AuditFrozen):
        save_report(audit, REPORT, actor=setup.lead, now=now)
    actions = [e.summary for e in db.session.scalars(select(TrailEntry).where(
        TrailEntry.object_type == "Audit", TrailEntry.object_id == audit.id))]
    assert any("report issued" in s for s in actions)


def test_api_answers_423_after_issue(setup, now, login):
    """The API refuses answer changes of a frozen audit with 423 and says why."""
    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()
    client = login(setup.auditor)
    r = client.put(f"/api/audits/{setup.audit.id}/answers/{setup.questions['S1Q2'].id}",
                   json={"verdict": "conforming", "base_version": 0})
    assert r.status_code == 423
    assert "report of this audit is issued" in r.json["detail"]
    html = client.get(f"/audits/{setup.audit.id}/checklist").get_data(as_text=True)
    assert 'data-can-answer="0"' in html


def test_issue_needs_conclusions_signature_and_required_photos(setup, now):
    """Issue is refused while conclusions, the lead's signature or a required photo are missing."""
    audit = setup.audit
    save_answer(audit, setup.questions["S1Q2"], verdict="conforming", base_version=0,
                         actor=setup.auditor, now=now)
    with pytest.raises(DomainError) as err:
        issue_report(audit, actor=setup.lead, now=now)
    message = err.value.message
    assert "conclusions" in message and "signed" in message and "S1Q2: a photo is required" in message
    assert audit.report_issued_at is None


def test_only_the_lead_signs_and_issues(setup, now):
    """An auditor cannot sign or issue; editing after signing withdraws the signature."""
    save_report(setup.audit, REPORT, actor=setup.auditor, now=now)
    with pytest.raises(NotAllowed):
        sign_report(setup.audit, actor=setup.auditor, now=now)
    with pytest.raises(NotAllowed):
        issue_report(setup.audit, actor=setup.auditor, now=now)
    report = sign_report(setup.audit, actor=setup.lead, now=now)
    assert report.signed_by_id == setup.lead.id
    save_report(setup.audit, dict(REPORT, conclusions="Changed"), actor=setup.auditor, now=now)
    assert report.signed_at is None


def test_auditee_acknowledges(setup, now, login):
    """The process owner acknowledges the report in their own name through the page."""
    save_report(setup.audit, REPORT, actor=setup.lead, now=now)
    db.session.commit()
    client = login(setup.auditee)
    r = client.post(f"/audits/{setup.audit.id}/report/acknowledge", data={"name": ""})
    assert r.status_code == 302
    report = get_report(setup.audit)
    db.session.refresh(report)
    assert report.acknowledged_by_id == setup.auditee.id
    assert report.acknowledged_by_name == "Otto Owner"


def test_report_pages_through_the_client(setup, now, login):
    """The lead saves, signs and issues through the pages; the checklist is then read-only."""
    _ready_to_issue(setup, now)
    client = login(setup.lead)
    r = client.post(f"/audits/{setup.audit.id}/report", data=dict(REPORT, conclusions="Final words"))
    assert r.status_code == 302
    client.post(f"/audits/{setup.audit.id}/report/sign")
    r = client.post(f"/audits/{setup.audit.id}/report/issue")
    assert r.status_code == 302
    db.session.refresh(setup.audit)
    assert setup.audit.status is AuditStatus.REPORT_ISSUED
    page = client.get(f"/audits/{setup.audit.id}/report").get_data(as_text=True)
    assert "Final words" in page and "Issued" in page and "Save report" not in page
    login(setup.auditor)
    assert client.post(f"/audits/{setup.audit.id}/report/issue").status_code in (302, 403)
    login(setup.auditee)
    assert client.post(f"/audits/{setup.audit.id}/report", data=REPORT).status_code == 403
    assert client.post(f"/audits/{setup.audit.id}/report/sign").status_code == 403


def test_pdf_contains_the_required_sections(setup, now, login):
    """The PDF holds the ISO 19011 6.5.1 contents, the finding with its photo, and clause coverage."""
    from pypdf import PdfReader

    _ready_to_issue(setup, now)
    issue_report(setup.audit, actor=setup.lead, now=now)
    db.session.commit()
    client = login(setup.auditee)
    r = client.get(f"/audits/{setup.audit.id}/report.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    text = " ".join(page.extract_text() for page in reader.pages)
    text = " ".join(text.split())
    for heading in ("Audit objectives", "Audit scope", "Audit client", "Audit team and auditee participants",
                    "Dates and locations", "Audit criteria", "Audit findings and evidence",
                    "Audit conclusions", "Degree of fulfilment", "Unresolved diverging opinions",
                    "Sampling", "Good practices", "Areas not covered", "Clause coverage", "Sign-off"):
        assert heading in text, heading
    assert "audits are based on samples" in text.lower()
    assert "Work instruction WI-7 is not the released revision." in text
    assert "Night shift: not operating during the audit." in text
    assert "8.5 Production and service provision" in text or "7.5 Documented information" in text
    assert "Lena Lead" in text
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 1


def test_report_due_date_default(setup, now, app):
    """The report is due REPORT_DUE_DAYS after the audit's last local day."""
    setup.audit.ends_at = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)  # 11 March in Berlin
    ensure_report_due_on(setup.audit, days=app.config["REPORT_DUE_DAYS"], actor=None, now=now)
    assert setup.audit.report_due_on == dt.date(2026, 3, 25)


def test_raise_finding_from_answer_prefills(setup, now, login):
    """The form proposes the grade from the verdict and the note as evidence; the finding cites
    the question's clause, the answer and the photo."""
    from audit.models import Evidence

    save_answer(setup.audit, setup.questions["S1Q1"], verdict="major_nc", note="No records",
                         base_version=0, actor=setup.auditor, now=now)
    ev, _ = add_evidence(setup.audit, data=jpeg_bytes(), filename="p.jpg",
                                  question=setup.questions["S1Q1"], max_bytes=10_000_000,
                                  actor=setup.auditor, now=now)
    db.session.commit()
    client = login(setup.auditor)
    url = f"/audits/{setup.audit.id}/checklist/questions/{setup.questions['S1Q1'].id}/finding"
    page = client.get(url).get_data(as_text=True)
    assert '<option selected value="major">' in page and "No records" in page
    assert "7.5 Documented information" in page
    r = client.post(url, data={"grade": "major", "statement": "No calibration records.",
                               "evidence": "No records for gauge G-12"})
    assert r.status_code == 302
    finding = db.session.scalar(select(Finding))
    assert finding.audit_id == setup.audit.id
    assert [c.number for c in finding.clauses] == ["7.5"]
    assert finding.answer.question_id == setup.questions["S1Q1"].id
    assert db.session.get(Evidence, ev.id).finding_id == finding.id
    login(setup.auditee)
    assert client.get(url).status_code == 403
