"""The request body limit: any body over the configured size is refused with 413 before it is
parsed, whether its Content-Length says so up front or the bytes run over while streaming."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the body may be at most {max_bytes} bytes")
        self.errors = [
            {
                "field": "body",
                "value": f"more than {max_bytes} bytes",
                "message": f"over {max_bytes} bytes",
            }
        ]


class BodyLimit:
    """ASGI middleware refusing bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = problem(
                413,
                "Request too large",
                f"the body may be at most {self.max_bytes} bytes",
                instance=scope.get("path"),
                errors=[
                    {
                        "field": "body",
                        "value": f"Content-Length: {declared.decode('latin-1')}",
                        "message": f"over {self.max_bytes} bytes",
                    }
                ],
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A body without (or lying about) its length is counted as it arrives; the error
            # surfaces where the app reads the body, inside its error handlers (-> 413). An
            # HTTPException, because FastAPI turns anything else raised while it parses a
            # body into a 400.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
