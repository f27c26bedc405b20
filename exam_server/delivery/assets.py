"""Images in a delivered paper.

Item text shows images as ``/assets/<sha256>``, a route for signed-in staff. Candidates have no
staff session (their token lives in the page, not in a cookie an ``<img>`` would send), so the
paper they get points each image at ``/exam/assets/<sha256>?k=<signature>``: the signature is an
HMAC of the hash under the server's secret key, so only someone who was given the paper (or
staff) can fetch the image, and the URL is the same for every candidate, which keeps the paper
cacheable as one encoded fragment and lets the browser cache the image.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from flask import current_app

_ASSET = re.compile(r'(<img\b[^>]*?\bsrc=")/assets/([0-9a-f]{64})"', re.I)


def asset_signature(sha: str) -> str:
    secret = (current_app.secret_key or "").encode()
    return hmac.new(secret, b"exam-asset:" + sha.encode(), hashlib.sha256).hexdigest()[:32]


def check_signature(sha: str, signature: str) -> bool:
    return hmac.compare_digest(asset_signature(sha), signature or "")


def _sign_text(text: str) -> str:
    if "/assets/" not in text:
        return text
    return _ASSET.sub(
        lambda m: f'{m.group(1)}/exam/assets/{m.group(2)}?k={asset_signature(m.group(2))}"', text
    )


def sign_images(value: Any) -> Any:
    """``value`` (the delivered paper) with every image source a candidate can fetch."""
    if isinstance(value, str):
        return _sign_text(value)
    if isinstance(value, dict):
        return {k: sign_images(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sign_images(v) for v in value]
    return value
