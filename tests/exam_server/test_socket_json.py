"""The Socket.IO JSON module (exam_server/socket_json.py) against the standard library's json,
the encoder python-socketio uses by default: every payload decodes to the same value."""

from __future__ import annotations

import json

import pytest

from exam_server import socket_json

PAYLOADS = [
    {"ok": True, "seq": 7, "accepted": False, "server_time": "2026-11-21T09:00:00+00:00"},
    {"ok": False, "error": "validation_error", "message": "答案格式不对", "field": "answer"},
    {"answers": {"3": ["A", "C"], "5": "T"}, "flags": [2, 9], "remaining_seconds": 3599.25},
    {"room_id": 4, "beats": {101: 1763715600.5, 102: None}},  # int keys, as the console sends
    ["state", {"reason": "pause", "seconds": 0, "nested": [[], {}, [1, [2, [3]]]]}],
    {"text": 'line\nbreak "quoted" \\ tab\t \u2028 emoji 🎓 控制 \x01'},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_decodes_as_the_standard_library_encodes_it(payload):
    ours = socket_json.dumps(payload, separators=(",", ":"))
    assert json.loads(ours) == json.loads(json.dumps(payload))
    assert socket_json.loads(json.dumps(payload)) == json.loads(json.dumps(payload))


def test_a_fragment_is_spliced_in_unchanged():
    paper = {"item_count": 2, "items": [{"stem": "欧姆定律", "options": ["U=IR", "P=UI"]}]}
    fragment = socket_json.Fragment(socket_json.encode(paper))
    reply = {"ok": True, "paper": fragment, "answers": {}}
    assert json.loads(socket_json.dumps(reply)) == {"ok": True, "paper": paper, "answers": {}}


def test_incoming_invalid_json_is_refused():
    with pytest.raises(ValueError):
        socket_json.loads('{"seq": NaN}')
    with pytest.raises(ValueError):
        socket_json.loads("{'seq': 1}")
