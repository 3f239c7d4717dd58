"""What each PATCH body may hold: field names and JSON types only. The rules on the values
(lengths, slugs, file names, what null may clear) are the resolvers', as for GraphQL."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from resolvers.errors import FieldCode, FieldIssue
from resolvers.patches import api_name


def _no_defaults(schema: dict[str, Any]) -> None:
    """An absent field is left unchanged: it has no default to document."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


# strict: a number is not a string; forbid: an unknown field is refused, not ignored.
STRICT = ConfigDict(extra="forbid", strict=True, json_schema_extra=_no_defaults)
# A field that cannot be cleared is documented as a string, yet null reaches the rules, which
# answer it as GraphQL does (REQUIRED), instead of a type error.
NotNull = Annotated[str | None, WithJsonSchema({"type": "string"})]


class Body(BaseModel):
    model_config = STRICT

    def sent(self) -> dict[str, Any]:
        """The fields the body held (null included), by Python name: a patch's keywords."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class PromptBody(Body):
    """PATCH /prompts/{id}: the fields to change, in camelCase."""

    model_config = ConfigDict(**STRICT, alias_generator=to_camel)

    title: str | None = Field(None, description="Display title, 1-200 characters; null clears it.")
    content: str | None = Field(
        None, description="Text content, at most 20000 characters; null clears it."
    )
    model: str | None = Field(None, description="Model, 1-100 characters; null clears it.")
    tags: list[str] | None = Field(
        None,
        description="Replaces the tags: at most 20, each trimmed, 1-50 characters; duplicates "
        "are dropped keeping the first. null clears them.",
    )
    name: NotNull = Field(
        None, description="Name, unique in the organization; trimmed, 1-100 characters."
    )
    description: str | None = Field(
        None, description="Description, at most 1000 characters; null clears it."
    )
    request_id: NotNull = Field(
        None,
        description="Attach the audio uploaded under this request id (sets assetId, type "
        "ASSET and the upload's file name unless fileName is given).",
    )
    file_name: NotNull = Field(None, description="Audio file name ending in .mp3, .wav or .ogg.")


class AudioPromptBody(Body):
    """PATCH /v1/prompts/{id}: the audio prompt's fields, in snake_case."""

    model_config = STRICT

    request_id: NotNull = Field(
        None,
        description="Attach the audio uploaded under this request id; sets asset_id and "
        "type asset, and the upload's file name unless file_name is given.",
    )
    name: NotNull = Field(
        None, description="Name, unique in the organization; trimmed, 1-100 characters."
    )
    file_name: NotNull = Field(
        None,
        description="Audio file name ending in .mp3, .wav or .ogg; alone, it renames the "
        "audio file of a prompt that has one.",
    )
    description: str | None = Field(
        None, description="Description, at most 1000 characters; null clears it."
    )


class PoolBody(Body):
    """PATCH /v1/guardrails/pools/{id}: name and slug; a pool's brand_id is immutable."""

    model_config = STRICT

    name: NotNull = Field(None, description="Name; trimmed, 1-100 characters.")
    slug: NotNull = Field(
        None,
        description="Slug, unique in the organization: 1-64 characters of lowercase letters "
        "and digits in words joined by '-'.",
    )


IMMUTABLE = {"brand_id", "brandId", "id", "_id", "org_id", "orgId"}


class BodyInvalid(Exception):
    """The body's fields are not the model's, or not of its JSON types. `rest` holds the
    fields that are, so that the rules can judge them too: every failure at once."""

    def __init__(self, issues: list[FieldIssue], rest: Body) -> None:
        super().__init__("validation failed")
        self.issues = issues
        self.rest = rest


def sent_fields(model: type[Body], data: dict[str, Any]) -> dict[str, Any]:
    """parse_body(model, data).sent(). A body of text fields only, each a string or null,
    is what the model accepts unchanged: its fields are read without pydantic (a third of
    the body's cost per PATCH)."""
    names = _TEXT_FIELDS.get(model)
    if names is None:
        names = _TEXT_FIELDS[model] = _text_fields(model)
    fields = {}
    for key, value in data.items():
        name = names.get(key)
        if name is None or (value is not None and type(value) is not str):
            return parse_body(model, data).sent()
        fields[name] = value
    return fields


_TEXT_FIELDS: dict[type[Body], dict[str, str]] = {}  # model -> {key in the body: field name}


def _text_fields(model: type[Body]) -> dict[str, str]:
    """The fields a plain string or null passes as it is: `str | None`, no constraint."""
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.model_validators or decorators.validators:
        return {}
    return {
        field.alias or name: name
        for name, field in model.model_fields.items()
        if field.annotation == (str | None) and _documentation_only(field)
    }


def _documentation_only(field: FieldInfo) -> bool:
    return all(isinstance(item, WithJsonSchema) for item in field.metadata)


def parse_body(model: type[Body], data: dict[str, Any]) -> Body:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        failed = {detail["loc"][0] for detail in error.errors() if detail["loc"]}
        rest = model.model_validate({k: v for k, v in data.items() if k not in failed})
        raise BodyInvalid([_issue(model, detail) for detail in error.errors()], rest) from None


def _issue(model: type[Body], detail: Any) -> FieldIssue:
    """A pydantic error as a field issue, named as the resolvers name fields (`fileName`,
    `tags.2`) so that every front renders it like the rules' own."""
    head, *rest = detail["loc"] or ("body",)
    if detail["type"] == "extra_forbidden":
        if head in IMMUTABLE:
            return FieldIssue(str(head), "is immutable", FieldCode.INVALID)
        return FieldIssue(str(head), "is not a field of this resource", FieldCode.INVALID)
    name = next((n for n, f in model.model_fields.items() if (f.alias or n) == head), str(head))
    path = ".".join([api_name(name), *map(str, rest)])
    return FieldIssue(path, str(detail["msg"]), FieldCode.INVALID)
