"""Smoke test: the demo organisation seeds and every main page renders for a coordinator."""

from audit.demo import DEMO_PASSWORD, seed_demo
from audit.extensions import db

PAGES = [
    "/", "/organisation/sites/", "/organisation/units/", "/organisation/suppliers/",
    "/organisation/certificates/", "/organisation/certification-bodies/", "/people/users/",
    "/people/qualifications/", "/people/training/", "/trail/", "/account",
]


def test_demo_pages_render(app, client, now):
    """Each main page answers 200 for the demo coordinator."""
    seed_demo(now=now)
    db.session.commit()
    response = client.post("/login", data={"email": "coordinator@example.com", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_home_greets_by_first_name_not_title(make, login, client):
    """"Dr. Heinz Vogel" is greeted as Heinz, not "Dr."."""
    from audit.models import Role

    user = make.user(name="Dr. Heinz Vogel", roles=[Role.VIEWER])
    login(user)
    page = client.get("/").text
    assert "Good to see you, Heinz" in page
    assert "Good to see you, Dr." not in page
