"""`GET /console` and `/console/...`: the web console's indexed files, with a strict Content-Security-Policy."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.console.files import ConsoleFiles


def security_headers(files: ConsoleFiles) -> dict[str, str]:
    """Headers on every console response: only the console's own origin, no inline script but its import map."""
    scripts = " ".join(("'self'", *files.script_hashes))
    policy = (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def routes(files: ConsoleFiles) -> list[BaseRoute]:
    """The console's routes over an index built once (`load_console_files`)."""
    headers = security_headers(files)

    async def asset(request: Request) -> Response:
        found = files.files.get(request.path_params.get("path", ""))
        if found is None:  # answered in the API's error envelope (`on_http_exception`), with the same headers
            raise HTTPException(404, headers={**headers, "Cache-Control": "no-store"})
        answer = {**headers, "Cache-Control": "no-cache", "ETag": found.etag}  # kept, but revalidated each load
        if found.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=answer)
        return Response(found.body, headers=answer, media_type=found.content_type)

    return [
        Route("/console", asset, methods=["GET", "HEAD"]),
        Route("/console/{path:path}", asset, methods=["GET", "HEAD"]),
    ]
