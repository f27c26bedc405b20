"""Factory helpers for bank tests: defaults that make a valid thing, overridable per test."""

from __future__ import annotations

from typing import Any

OCC = "6-31-01-03"
TREE = [
    {
        "code": "A",
        "name": "基本要求",
        "weight": 40,
        "importance": "X",
        "children": [
            {"code": "A-01", "name": "电工基础", "weight": 60},
            {"code": "A-02", "name": "安全", "weight": 40, "importance": "X"},
        ],
    },
    {
        "code": "B",
        "name": "相关知识",
        "weight": 60,
        "children": [
            {"code": "B-01", "name": "电动机", "weight": 100},
        ],
    },
]


def choice(**over: Any) -> dict[str, Any]:
    content = {
        "type": "single_choice",
        "stem": "<p>欧姆定律的表达式是？</p>",
        "options": [
            {"label": "A", "text": "U = IR"},
            {"label": "B", "text": "P = UI"},
            {"label": "C", "text": "Q = CU"},
            {"label": "D", "text": "W = Pt"},
        ],
        "key": ["A"],
        "points": "1",
        "knowledge_point": "A-01",
        "difficulty": 0.8,
        "tags": ["基础"],
    }
    content.update(over)
    return content


def setup_bank(api) -> None:
    """Occupation + knowledge table, created through the API as an editor."""
    assert (
        api.post(
            "/api/occupations", json={"code": OCC, "name": "电工", "name_en": "Electrician"}
        ).status_code
        == 201
    )
    resp = api.put(
        f"/api/occupations/{OCC}/levels/4/knowledge-points", json={"knowledge_points": TREE}
    )
    assert resp.status_code == 200, resp.get_json()


def add_item(api, code: str, **over: Any):
    resp = api.post(
        "/api/items", json={"occupation": OCC, "level": 4, "code": code, "content": choice(**over)}
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["version"]


def approve(editor, reviewer, code: str, version: int = 1) -> None:
    path = f"/api/items/{code}/versions/{version}/review"
    assert editor.post(path, json={"action": "submit"}).status_code == 200
    resp = reviewer.post(path, json={"action": "approve", "comment": "ok"})
    assert resp.status_code == 200, resp.get_json()
