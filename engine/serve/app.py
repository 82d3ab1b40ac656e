"""The FastAPI app: `POST /recommend`, `POST /feedback`, `GET /status`, `GET /openapi.json`, behind the guards."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp

from engine import __version__
from engine.record_validation import field_path
from engine.serve.guards import BearerToken, BodySizeLimit, RateLimit
from engine.serve.schema import (
    ErrorField,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    RecommendRequest,
    RecommendResponse,
    StatusResponse,
)
from engine.serve.service import InputError, LensService
from engine.serve.settings import Limits

DESCRIPTION = (
    "Rankings from the user's own photos for other programs on this machine. Answers carry rankings and aspect "
    "words only: never photos, paths, captions or vectors of the user's library. Every request needs "
    "`Authorization: Bearer <token>`; the token is in the token file `visuallens serve` writes (mode 0600)."
)
_ERRORS = {
    400: "Malformed JSON or header", 401: "Missing or wrong bearer token", 413: "Request body too large",
    422: "A field is invalid (named in `errors`)", 429: "Rate limit exceeded (see Retry-After)",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text} for code, text in _ERRORS.items()
}


def create_app(service: LensService, token: str, limits: Limits = Limits()) -> ASGIApp:
    """The API as an ASGI app; outermost first: bearer token, rate limit, body size, Host check, FastAPI."""
    api = FastAPI(title="VisualLens local API", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None)  # the doc pages load scripts from a CDN: not here

    @api.post("/recommend", response_model=RecommendResponse, responses=ERROR_RESPONSES)
    def recommend(body: RecommendRequest) -> RecommendResponse:
        """Rank the candidates for this user, with the aspect words of their photos that support each one."""
        return service.recommend(body)

    @api.post("/feedback", response_model=FeedbackResponse, responses=ERROR_RESPONSES)
    def feedback(body: FeedbackRequest) -> FeedbackResponse:
        """Record the user's "like" or "not for me" of a ranked item, or withdraw it ("undo")."""
        return service.feedback(body)

    @api.get("/status", response_model=StatusResponse, responses=ERROR_RESPONSES)
    def status() -> StatusResponse:
        """The profile's photo count and what serves it; nothing about any photo."""
        return service.status()

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            return _error(400, "the request body is not valid JSON")
        if any(tuple(e["loc"]) == ("body",) and e["type"] in ("model_attributes_type", "missing") for e in errors):
            return _error(400, "the request body must be a JSON object sent as Content-Type: application/json")
        return _error(422, "invalid request", [ErrorField(field=_field(e["loc"]), message=_message(e)) for e in errors])

    @api.exception_handler(InputError)
    async def unusable(_: Request, exc: InputError) -> JSONResponse:
        return _error(422, "invalid request", [ErrorField(field=exc.field, message=exc.message)])

    @api.exception_handler(Exception)
    async def failed(_: Request, exc: Exception) -> JSONResponse:
        # The class name only: engine messages may name files, and answers must not.
        return _error(500, f"the engine failed ({type(exc).__name__}); see the server's terminal")

    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]  # FastAPI's documented way to extend it
    guarded: ASGIApp = TrustedHostMiddleware(api, allowed_hosts=["127.0.0.1", "localhost"])
    guarded = BodySizeLimit(guarded, limits.max_body_bytes)
    guarded = RateLimit(guarded, limits.rate)
    return BearerToken(guarded, token)


def _error(status: int, detail: str, errors: list[ErrorField] | None = None) -> JSONResponse:
    """An error body naming the fields at fault; it never echoes the submitted values."""
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
    return JSONResponse(ErrorResponse(detail=detail, errors=errors or []).model_dump(), status_code=status)


def _field(loc: tuple) -> str:
    """pydantic's location ("body", "candidates", 0, "image") as the client wrote it: candidates[0].image."""
    return field_path(loc[1:] if loc and loc[0] == "body" else loc)


def _message(error: dict) -> str:
    message = error["msg"]
    return message.removeprefix("Value error, ") if error["type"] == "value_error" else message


def _openapi(api: FastAPI) -> dict:
    if api.openapi_schema is None:
        schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
        schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{"bearer": []}]
        api.openapi_schema = schema
    return api.openapi_schema
