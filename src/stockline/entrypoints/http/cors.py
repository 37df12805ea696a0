"""Cross-origin requests from web pages (CORS), for the origins of STOCKLINE_CORS_ORIGINS.

Starlette's CORSMiddleware, placed outside authentication and the rate limit: a preflight
carries no credential, so it is answered before either would refuse it; and the answers
they give (401, 429) carry the CORS headers like any other, so that the page can read
them. An origin not configured gets no ``Access-Control-Allow-Origin``: the browser keeps
the answer from its page.
"""

from __future__ import annotations

from collections.abc import Collection

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from stockline.entrypoints.http.consistency import POSITION, READ_AFTER
from stockline.entrypoints.http.errors import BAD_REQUEST, problem_response

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("X-API-Key", "Authorization", "Content-Type", "Idempotency-Key",
                   "Last-Event-ID", "X-Request-ID", READ_AFTER)
# What a page may read of an answer beyond the CORS-safelisted headers.
EXPOSED_HEADERS = ("Idempotent-Replayed", "X-Request-ID", "Retry-After", "RateLimit-Limit",
                   "RateLimit-Remaining", "RateLimit-Reset", "Location", "WWW-Authenticate",
                   POSITION)
PREFLIGHT_MAX_AGE_SECONDS = 600


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem (400)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code == 200:
            return answer
        detail = bytes(answer.body).decode().replace("Disallowed CORS", "this preflight "
                                                     "asks for a disallowed")
        return problem_response(BAD_REQUEST, f"{detail} (see STOCKLINE_CORS_ORIGINS)")


def install_cors(app: FastAPI, origins: Collection[str]) -> None:
    """Let pages of ``origins`` call the API (nothing when there are none: no cost)."""
    if not origins:
        return
    app.add_middleware(ProblemCORSMiddleware, allow_origins=list(origins),
                       allow_methods=ALLOWED_METHODS, allow_headers=ALLOWED_HEADERS,
                       expose_headers=EXPOSED_HEADERS, max_age=PREFLIGHT_MAX_AGE_SECONDS)
