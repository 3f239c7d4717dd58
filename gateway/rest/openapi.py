"""The OpenAPI 3.1 document, built from the resources' definitions and pydantic models (never
written by hand). `python -m gateway.rest.openapi > openapi.json` refreshes the committed copy.
"""

from __future__ import annotations

import json
from typing import Any

from openapi_pydantic.util import PydanticSchema, construct_open_api_with_schema_class
from openapi_pydantic.v3.v3_1 import (
    Components,
    Header,
    Info,
    MediaType,
    OpenAPI,
    Operation,
    Parameter,
    PathItem,
    RequestBody,
    Response,
    Schema,
    SecurityScheme,
)
from pydantic import BaseModel

from gateway.rest.exchange import JSON_TYPES
from gateway.rest.failures import STATUSES
from gateway.rest.resources import RESOURCES, Resource

VERSION = "1.0.0"
STRING = Schema(type="string")
REQUEST_ID = Header(
    description="The request's id: the caller's own (1-128 of [A-Za-z0-9._-]) or a new one.",
    required=True,
    schema=STRING,
)
ETAG = Header(
    description="The version of the representation, for If-Match.", required=True, schema=STRING
)


def document() -> dict[str, Any]:
    """The document as JSON data."""
    paths = {resource.path: _path_item(resource) for resource in RESOURCES}
    api = OpenAPI(
        openapi="3.1.0",
        info=Info(
            title="Patchbay REST",
            version=VERSION,
            description="The seed pages' endpoints, on the rules of Patchbay's GraphQL API: "
            "the same authentication, scopes, tenant rule, validation and order of errors. "
            "Every response carries X-Request-ID.",
        ),
        paths=paths,
        components=Components(
            securitySchemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="A JWT, or an organization's API key (`am_live_...`).",
                )
            }
        ),
        security=[{"bearer": []}],
    )
    built = construct_open_api_with_schema_class(api)
    data: dict[str, Any] = built.model_dump(
        by_alias=True, exclude_unset=True, exclude_none=True, mode="json"
    )
    return data


def _path_item(resource: Resource[Any]) -> PathItem:
    return PathItem(
        parameters=[
            Parameter.model_validate(
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "Id of the object, percent-encoded (a `/` in a prompt id as "
                    "`%2F`); an id that matches nothing is 404.",
                    "schema": STRING,
                    "example": resource.example_id,
                }
            )
        ],
        get=Operation(
            operationId=f"get{resource.noun}",
            summary=f"Retrieve {_article(resource.noun)} by ID",
            description=f"Needs one of the scopes {', '.join(resource.read_scopes)}. "
            "If-None-Match with the current ETag answers 304.",
            parameters=[_header("If-None-Match", "ETags the caller holds: 304 if one is current.")],
            responses=_responses(resource, (401, 403, 404, 429, 503), ok_status="304"),
        ),
        patch=Operation(
            operationId=f"update{resource.noun}",
            summary=resource.summary,
            description=f"{resource.description} Needs the {resource.write_scope} scope. "
            "RFC 7396 semantics: an absent field is unchanged, null clears where clearing is "
            "allowed, an empty object changes nothing.",
            parameters=[
                _header(
                    "If-Match",
                    "An ETag of this resource: the write happens only if it "
                    "is still current (else 412).",
                ),
                _header(
                    "Idempotency-Key",
                    "1-255 visible ASCII characters: a retry with the same key and request "
                    "gets the first answer again (`Idempotent-Replayed: true`) without a second "
                    "write; the same key with another request is 422.",
                ),
            ],
            requestBody=RequestBody(
                required=True,
                content={
                    media: MediaType(media_type_schema=_ref(resource.body))
                    for media in sorted(JSON_TYPES)
                },
            ),
            responses=_responses(resource, (400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503)),
        ),
    )


def _responses(
    resource: Resource[Any], errors: tuple[int, ...], ok_status: str | None = None
) -> dict[str, Response]:
    responses = {
        "200": Response(
            description="The resource.",
            headers={"ETag": ETAG, "X-Request-ID": REQUEST_ID},
            content={
                "application/json": MediaType(media_type_schema=_ref(resource.representation))
            },
        )
    }
    if ok_status is not None:
        responses[ok_status] = Response(
            description="Not modified: the ETag sent is current.",
            headers={"ETag": ETAG, "X-Request-ID": REQUEST_ID},
        )
    for status in errors:
        _, text = STATUSES[status]
        if status == 403 and not resource.has_owner:
            text = "The credential lacks the scope."
        responses[str(status)] = Response(
            description=text,
            headers={"X-Request-ID": REQUEST_ID},
            content={"application/json": MediaType(media_type_schema=_ref(resource.dialect.model))},
        )
    return responses


def _header(name: str, description: str) -> Parameter:
    return Parameter.model_validate(
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": STRING,
        }
    )


def _ref(model: type[BaseModel]) -> PydanticSchema[BaseModel]:
    return PydanticSchema(schema_class=model)


def _article(noun: str) -> str:
    words = {"Prompt": "a prompt", "AudioPrompt": "an audio prompt"}
    return words.get(noun, "a guardrail pool")


def dumps() -> str:
    """The committed file's text."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(dumps(), end="")
