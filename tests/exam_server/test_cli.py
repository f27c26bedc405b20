"""Commands of `exam-server` that are not covered with their features elsewhere."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import select

from exam_server.cli import analyze_command, init_command, user_create
from exam_server.extensions import db
from exam_server.models import User


def test_init_creates_first_admin_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(init_command, ["--admin", "boss", "--password", "a-long-password"])
    assert result.exit_code == 0, result.output
    boss = db.session.scalar(select(User).where(User.username == "boss"))
    assert boss.roles == {"admin"} and boss.check_password("a-long-password")
    result = runner.invoke(init_command, ["--password", "another-password"])
    assert result.exit_code == 0 and "no administrator created" in result.output


def test_user_create_validates(app):
    runner = app.test_cli_runner()
    ok = runner.invoke(
        user_create, ["li", "--role", "editor", "--role", "reviewer", "--password", "password-123"]
    )
    assert ok.exit_code == 0, ok.output
    assert "editor, reviewer" in ok.output
    short = runner.invoke(user_create, ["wu", "--role", "editor", "--password", "short"])
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    dup = runner.invoke(user_create, ["li", "--role", "editor", "--password", "password-123"])
    assert dup.exit_code == 2 and "already exists" in dup.output
    bad_role = runner.invoke(user_create, ["zz", "--role", "king", "--password", "password-123"])
    assert bad_role.exit_code == 2


def test_analyze_command_on_exported_csv(app, tmp_path):
    # Simulated Rasch data: 400 candidates, 6 items, item Q6 keyed wrongly on purpose.
    rng = np.random.default_rng(7)
    theta = rng.normal(size=400)
    b = np.array([-1.5, -0.5, 0.0, 0.5, 1.0, 0.0])
    correct = rng.random((400, 6)) < 1 / (1 + np.exp(-(theta[:, None] - b)))
    keys = ["A", "B", "C", "D", "A", "B"]
    rows = ["id," + ",".join(f"Q{i + 1}" for i in range(6))]
    for c in range(400):
        cells = []
        for i in range(6):
            wrong = [o for o in "ABCD" if o != keys[i]]
            cells.append(keys[i] if correct[c, i] else wrong[rng.integers(3)])
        rows.append(f"c{c}," + ",".join(cells))
    (tmp_path / "r.csv").write_text("\n".join(rows), encoding="utf-8")
    key_rows = ["item,key,points"] + [f"Q{i + 1},{k},1" for i, k in enumerate(keys[:5])]
    key_rows.append("Q6,C,1")  # the real key is B
    (tmp_path / "k.csv").write_text("\n".join(key_rows), encoding="utf-8")
    out = tmp_path / "report.json"
    result = app.test_cli_runner().invoke(
        analyze_command,
        [
            "--responses",
            str(tmp_path / "r.csv"),
            "--key",
            str(tmp_path / "k.csv"),
            "--irt",
            "rasch",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "400 candidates, 6 items" in result.output
    q6_line = next(line for line in result.output.splitlines() if line.startswith("Q6"))
    assert "possible_key_error(B)" in q6_line
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["irt"] is not None and len(report["items"]) == 6
    bad = app.test_cli_runner().invoke(
        analyze_command, ["--responses", str(tmp_path / "k.csv"), "--key", str(tmp_path / "k.csv")]
    )
    assert bad.exit_code == 2 and "error:" in bad.output


def test_analyze_numeric_export_and_scored_matrix_as_they_are(app, tmp_path):
    # An export of 24 items coded 1..8 with 0 for "other" and a key file item,key with 4; then LSAT-6 as
    # a plain 0/1 matrix (Bock & Lieberman 1970) with no key, and rooms for the similarity.
    from tests.item_analysis.lsat6 import lsat6

    rng = np.random.default_rng(3)
    theta = rng.normal(size=300)
    rows = ["candidate," + ",".join(f"Q{i + 1}" for i in range(24))]
    for c in range(300):
        right = rng.random(24) < 1 / (1 + np.exp(-(theta[c] - np.linspace(-1, 1, 24))))
        cells = [4 if r else int(rng.choice([0, 1, 2, 3, 5, 6, 7, 8])) for r in right]
        rows.append(f"s{c}," + ",".join(map(str, cells)))
    (tmp_path / "export.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "key.csv").write_text(
        "item,key\n" + "".join(f"Q{i + 1},4\n" for i in range(24)), encoding="utf-8"
    )
    (tmp_path / "rooms.csv").write_text(
        "candidate,room\n" + "".join(f"s{c},R{c // 30}\n" for c in range(300)), encoding="utf-8"
    )
    runner = app.test_cli_runner()
    result = runner.invoke(
        analyze_command,
        [
            "--responses", str(tmp_path / "export.csv"),
            "--key", str(tmp_path / "key.csv"),
            "--groups", str(tmp_path / "rooms.csv"),
            "--similarity",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "option codes: numeric (detected automatically)" in result.output
    assert "0 kept as a wrong option of its own in 24 items" in result.output
    assert "4350 pairs tested within 10 groups (30-30 candidates), instead of all 44850" in (
        result.output
    )

    x = lsat6().astype(int)
    lines = ["id,I1,I2,I3,I4,I5"] + [f"p{i}," + ",".join(map(str, r)) for i, r in enumerate(x)]
    (tmp_path / "lsat6.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "lsat.json"
    result = runner.invoke(
        analyze_command,
        [
            "--responses",
            str(tmp_path / "lsat6.csv"),
            "--scored",
            "--irt",
            "2pl",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "scored matrix: 5 dichotomous and 0 partial-credit items" in result.output
    assert "standard errors from the observed information (Louis)" in result.output
    assert "item fit S-X2 (Orlando and Thissen 2000): p < 0.01 for none" in result.output
    i3 = next(line for line in result.output.splitlines() if line.startswith("I3"))
    assert "-0.28 (0.10)" in i3  # ltm: b = -0.2799, SE 0.0997
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["items"][0]["irt"]["discrimination_se"] > 0

    needs_key = runner.invoke(analyze_command, ["--responses", str(tmp_path / "lsat6.csv")])
    assert needs_key.exit_code == 2 and "--key is needed unless" in needs_key.output
    too_high = runner.invoke(
        analyze_command,
        ["--responses", str(tmp_path / "export.csv"), "--scored", "--max-points", "1"],
    )
    assert too_high.exit_code == 2 and "is above the item's maximum of 1" in too_high.output
