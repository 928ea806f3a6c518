"""The create contract has one definition (handoff/schema.py): the validator and the OpenAPI document come
from it, and its fields are the fields of the TypedDicts the bot writes (bot/contract.py)."""

from __future__ import annotations

import typing
from typing import Any, Literal

import pytest

from bot.contract import ArticleShown, CreateTicketRequest, Customer, TranscriptTurn
from handoff.errors import InvalidTicket
from handoff.openapi import openapi_document
from handoff.schema import (
    ARTICLE_SHOWN, CREATE_REQUEST, CUSTOMER, TRANSCRIPT_TURN, Arr, Obj, Str, openapi, validate,
)


@pytest.mark.parametrize(("spec", "typed"), [(CREATE_REQUEST, CreateTicketRequest), (CUSTOMER, Customer),
                                             (ARTICLE_SHOWN, ArticleShown), (TRANSCRIPT_TURN, TranscriptTurn)])
def test_the_definition_names_exactly_the_fields_of_the_typeddict(spec: Obj, typed: Any) -> None:
    hints = typing.get_type_hints(typed)
    assert set(spec.fields) == set(hints)
    for key, sub in spec.fields.items():  # an enumeration allows what the Literal allows
        if isinstance(sub, Str) and sub.values and typing.get_origin(hints[key]) is Literal:
            assert set(sub.values) == set(typing.get_args(hints[key])), key


def test_nested_definitions_are_the_ones_of_the_nested_typeddicts() -> None:
    assert CREATE_REQUEST.fields["customer"] is CUSTOMER
    assert isinstance(CREATE_REQUEST.fields["articles_shown"], Arr)
    assert CREATE_REQUEST.fields["articles_shown"].items is ARTICLE_SHOWN  # type: ignore[union-attr]
    assert CREATE_REQUEST.fields["transcript"].items is TRANSCRIPT_TURN  # type: ignore[union-attr]


def test_the_served_openapi_schema_is_generated_from_the_definition() -> None:
    served = openapi_document()["components"]["schemas"]["CreateTicketRequest"]
    assert served == openapi(CREATE_REQUEST)
    assert served["required"] == ["conversation_id", "channel", "language", "description"]
    assert served["properties"]["language"]["enum"] == ["de", "en", "da"]


def test_the_validator_is_the_definition() -> None:
    ok = {"conversation_id": "c", "channel": "rest", "language": "da", "description": "Min app starter ikke"}
    validate(CREATE_REQUEST, ok)
    with pytest.raises(InvalidTicket, match="'customer.tier' must be one of standard, vip, b2b"):
        validate(CREATE_REQUEST, {**ok, "customer": {"tier": "gold"}})
    with pytest.raises(InvalidTicket, match="'steps_tried\\[1\\]' must be a string of at most 5000"):
        validate(CREATE_REQUEST, {**ok, "steps_tried": ["restart", 7]})
