"""Imported images and formulas on the candidate page, in a real browser: the paper's image
links are signed for candidates (who have no staff session) and MathML renders natively."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from exam_server import WEB_DIR
from exam_server.extensions import db
from question_bank.models import Asset, ItemVersion
from tests.conftest import service_missing
from tests.live_support import migrated_app, prepare_exam, release_database, serving
from tests.question_bank.moodle_bank import CIRCUIT, MATH
from tests.web.conftest import Tabs, screenshot

pytestmark = pytest.mark.browser

SHA = hashlib.sha256(CIRCUIT).hexdigest()
FORMULA = MATH.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not (WEB_DIR / "node_modules" / "socket.io-client").is_dir():
        service_missing("web/node_modules", "run `./dev setup` (npm ci in web/) first")
    base = tmp_path_factory.mktemp("images")
    url = f"sqlite:///{base / 'exam.sqlite'}"
    app = migrated_app(url, base / "instance", "candidate-images-test")
    exam = prepare_exam(app, candidates=1, code="CAND-IMG")
    with app.app_context():
        # Every item shows the image and the formula, as an imported Moodle item would.
        db.session.add(Asset(sha256=SHA, media_type="image/png", data=CIRCUIT, size=len(CIRCUIT)))
        for version in db.session.scalars(select(ItemVersion)):
            content = dict(version.content)
            content["stem"] = (
                content["stem"] + f'<p><img src="/assets/{SHA}" alt="电路图" width="40"></p>'
                f"<p>{FORMULA}</p>"
            )
            version.content = content
        db.session.commit()
    release_database(app)
    with serving(app, url, base / "instance") as server:
        yield server, exam


def test_the_candidate_sees_the_image_and_the_formula(browser, world):
    server, exam = world
    tabs = Tabs(browser, server.url)
    page = tabs.open("zh-CN")
    c = exam.candidates[0]
    page.goto(f"{page.base}/exam")
    page.fill("#ticket", c.ticket_number)
    page.fill("#id-number", c.id_number)
    page.fill("#access-code", exam.access_code)
    page.click("#signin button[type=submit]")
    page.wait_for_url(re.compile(r".*/exam/sit$"))
    page.wait_for_selector("#view-exam:not([hidden])")
    img = page.wait_for_selector(".stem img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img)
    assert img.evaluate("i => i.naturalWidth") == 4  # the PNG's own width: it really loaded
    assert re.search(r"/exam/assets/[0-9a-f]{64}\?k=[0-9a-f]{32}$", img.get_attribute("src"))
    box = page.eval_on_selector(
        ".stem math mfrac",
        "e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; }",
    )
    # A rendered fraction is taller than one line of its numerator alone.
    numerator = page.eval_on_selector(".stem math msup", "e => e.getBoundingClientRect().height")
    assert box[0] > 0 and box[1] > numerator * 1.5
    screenshot(page, "candidate-image-formula")
    tabs.close()
