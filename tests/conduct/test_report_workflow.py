"""The report page offers exactly the report actions the REPORT workflow grants, at every stage
and for every kind of person; refused actions answer 403/409 with the workflow's reason."""

from __future__ import annotations

import html
import re

from werkzeug.exceptions import MethodNotAllowed, NotFound

from audit.conduct.report import save_report, sign_report
from audit.conduct.report_workflow import REPORT
from audit.extensions import db

FORM = re.compile(r'<form method="post"(?: action="([^"]*)")?', re.I)
REPORT_VALUES = {"conclusions": "Assembly conforms; one minor.", "positive_findings": "Clean line",
                 "areas_not_covered": "", "opinion_divergence": ""}


def _offered(app, audit_id: int, page: str) -> set[str]:
    adapter = app.url_map.bind("localhost")
    names = set()
    for action in FORM.findall(page):
        url = html.unescape(action) or f"/audits/{audit_id}/report"  # no action: the page itself
        try:
            endpoint, _ = adapter.match(url, method="POST")
        except (NotFound, MethodNotAllowed):
            continue
        blueprint, _, name = endpoint.partition(".")
        if blueprint == "conduct" and name in REPORT.steps:
            names.add(name)
    return names


def test_report_page_offers_exactly_the_granted_actions(app, setup, login, now):
    """No report, a draft, a signed draft: for lead, auditor, trainee, observer, auditee,
    outsider and coordinator the page's report forms are the granted actions; refusals say why."""
    audit = setup.audit
    people = {"lead": setup.lead, "auditor": setup.auditor, "trainee": setup.trainee, "observer": setup.observer,
              "auditee": setup.auditee, "outsider": setup.outsider, "coordinator": setup.coordinator}
    checked = refused = 0
    for stage in ("none", "draft", "signed"):
        if stage == "draft":
            save_report(audit, REPORT_VALUES, actor=setup.lead, now=now)
        if stage == "signed":
            sign_report(audit, actor=setup.lead, now=now)
        db.session.commit()
        for who, user in people.items():
            client = login(user)
            response = client.get(f"/audits/{audit.id}/report")
            if response.status_code in (403, 404):
                assert not REPORT.allowed(audit, user), (stage, who)
                continue
            granted, offered = REPORT.allowed(audit, user), _offered(app, audit.id, response.text)
            # a reason form shows per blocker that takes one: offered only if granted
            assert offered - {"question_reason"} == granted - {"question_reason"}, (stage, who)
            assert offered <= granted, (stage, who)
            checked += 1
            for decision in REPORT.allowed_actions(audit, user):
                if decision.allowed or decision.action in ("report", "question_reason"):
                    continue
                path = {"sign_report": "report/sign", "issue_report": "report/issue",
                        "acknowledge_report": "report/acknowledge"}[decision.action]
                response = client.post(f"/audits/{audit.id}/{path}", data={"name": "Otto"})
                endpoint = f"conduct.{decision.action}"
                needed = getattr(app.view_functions[endpoint], "required_permissions", frozenset())
                if all(user.can(p) for p in needed):
                    assert response.status_code == decision.status, (stage, who, decision.action)
                    assert decision.reason in html.unescape(response.text), (stage, who, decision.action)
                else:  # the route's capability check refuses first
                    assert response.status_code == 403, (stage, who, decision.action, response.status_code)
                refused += 1
    assert checked >= 12 and refused >= 20
    assert REPORT.decide(audit, setup.lead, "issue_report").status == 409  # blockers: unanswered questions
    assert REPORT.decide(audit, setup.auditor, "sign_report").status == 403
