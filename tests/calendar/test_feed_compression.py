"""A feed polled with Accept-Encoding: gzip arrives compressed, and its 304 still works: the
compressed body carries the same ETag as a weak one, which If-None-Match matches."""

from __future__ import annotations

import gzip

from audit.extensions import db
from audit.models import TeamRole
from tests.calendar.test_views import SOON, new_token


def test_gzip_feed_keeps_its_etag_and_304(app, client, make, cal):
    """The gzip body decodes to the identity body; the weak ETag gets a 304; a change a new body."""
    user = make.user()
    for i in range(4):  # a feed of a few events: large enough to be worth compressing
        audit = cal.scheduled_audit(team=[(user, TeamRole.LEAD)], day=SOON)
        audit.title = f"Audit of the assembly line number {i} with a long enough title"
    db.session.commit()
    _token, secret = new_token(user)
    url = f"/calendar/feed/{secret}.ics"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"]
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get(url, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    audit.title = "Renamed"
    db.session.commit()
    changed = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert changed.status_code == 200 and b"Renamed" in gzip.decompress(changed.data)
