"""Reading a request body without holding more of it than its cap.

``await request.body()`` reads whatever is sent: an unsigned, chunked 400 MiB upload to the
MLflow webhook took the daemon from 99 MB to 892 MB before it answered 401. Every door that
reads a body reads it through ``read_body``: refused by its Content-Length before a byte
is read, else as soon as more than the cap has arrived.
"""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is over its cap; ``size`` is its declared length, or what had arrived when
    reading stopped (``declared`` False: the whole is larger still)."""

    def __init__(self, size: int, cap: int, *, declared: bool) -> None:
        shown = f"{size:,} bytes" if declared else f"more than {size:,} bytes"
        super().__init__(f"request body is {shown}, over the limit of {cap:,}")
        self.size = size
        self.cap = cap
        self.declared = declared


async def read_body(request: Request, cap: int) -> bytes:
    """The body of ``request``, or ``BodyTooLarge`` once it is known to exceed ``cap``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(int(declared), cap, declared=True)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise BodyTooLarge(len(body), cap, declared=False)
    return bytes(body)
