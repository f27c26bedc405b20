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
