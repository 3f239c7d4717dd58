"""The @idempotent directive: Shopify's GraphQL-native Idempotency-Key.

The gateway reads it from the document before running it (gateway/graphql/idempotency.py);
here it only has to exist, and leaves the field's value as it is."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.directive import DirectiveLocation, DirectiveValue


@strawberry.directive(
    locations=[DirectiveLocation.FIELD],
    description="On a mutation's root field: the request's idempotency key, as the "
    "Idempotency-Key header would give it (1-255 visible ASCII characters). A retry with the "
    "same key gets the first answer.",
)
def idempotent(value: DirectiveValue[Any], key: str) -> Any:
    return value
