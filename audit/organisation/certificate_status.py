"""A certificate's status changed: the coordinators are told what it means for the cycle.

Suspension and withdrawal are decided by the certification body and recorded here by hand;
nothing else in the application reacts to the edit, so without a notice the people who plan the
third-party audits would learn of it only by reading the certificate list (DOMAIN.md §3:
suspension normally lasts at most 6 months, then withdrawal or scope reduction).
"""

from __future__ import annotations

import datetime as dt

from audit.models import Certificate, CertificateStatus
from audit.notifications.services import notify
from audit.people.services import coordinators

KIND = "certificate_status"
#: Registered by the organisation feature (``audit.organisation.init_app``).
KINDS = {KIND: "A certificate was suspended, withdrawn, expired or made active again (coordinators)"}

#: What the coordinators are expected to do, per new status.
EXPECTED = {
    CertificateStatus.SUSPENDED: "Its surveillance deadlines still run and keep being warned about: plan "
                                 "the audits the certification body needs to lift the suspension (normally "
                                 "within 6 months, else it withdraws the certificate).",
    CertificateStatus.WITHDRAWN: "No further cycle audits are generated for it; cancel the planned ones "
                                 "that are no longer wanted. Certification starts again with stage 1 and 2.",
    CertificateStatus.EXPIRED: "No further cycle audits are generated for it; the certification body may "
                               "restore it within 6 months of expiry if the recertification is completed.",
    CertificateStatus.ACTIVE: "Its cycle audits are generated and warned about again.",
}


def tell_status_change(cert: Certificate, previous: CertificateStatus, *, actor=None,
                       now: dt.datetime) -> int:
    """Notify every active coordinator but ``actor`` (who made the change) that ``cert`` went
    from ``previous`` to its status.

    Returns the number of notifications queued."""
    if cert.status is previous:
        return 0
    holder = cert.supplier.name if cert.supplier is not None else "our organisation"
    name = f"{cert.standard.code} certificate {cert.number or f'#{cert.id}'}"
    made = 0
    for person in coordinators():
        if actor is not None and person.id == getattr(actor, "id", None):
            continue
        # The time in the key: a later suspension of the same certificate is told again.
        if notify(person, kind=KIND, title=f"{name} is now {cert.status.value}",
                  body=f"{name} of {holder} went from {previous.value} to {cert.status.value}. "
                       + EXPECTED[cert.status],
                  link=f"/organisation/certificates/{cert.id}",
                  dedupe_key=f"cert-status:{cert.id}:{cert.status.value}:{now.isoformat()}:{person.id}",
                  now=now):
            made += 1
    return made
