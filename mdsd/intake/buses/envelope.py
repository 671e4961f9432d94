"""SNS envelopes: what an SQS message carries when a topic fans out to the queue.

With raw message delivery the body is the event itself; without it, SNS wraps the event
as ``{"Type": "Notification", "Message": "<the event as a string>", "TopicArn": ...}``.
Anything else passes through untouched, so intake judges (and dead-letters) the body as
it arrived.
"""

from __future__ import annotations

import json

#: present in every SNS envelope, and a cheap test before decoding a body twice
_MARKER = b'"TopicArn"'


def unwrap(body: bytes) -> bytes:
    """The event an SQS body carries: the body, or the ``Message`` of an SNS notification."""
    if _MARKER not in body:
        return body
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    if (
        isinstance(envelope, dict)
        and envelope.get("Type") == "Notification"
        and isinstance(envelope.get("Message"), str)
    ):
        return envelope["Message"].encode()
    return body
