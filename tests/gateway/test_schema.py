"""The schema as built in-process (pure logic): the contract, and no deprecated setup."""

from __future__ import annotations

from graphql import build_schema as build_contract
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from gateway.config import GatewaySettings
from gateway.schema import build_schema
from tests.harness import contract_sdl


def test_the_schema_builds_without_warnings() -> None:
    # pytest turns warnings into errors; a deprecated extension setup fails here.
    build_schema(GatewaySettings())


def test_the_schema_keeps_every_type_field_and_argument_of_the_contract() -> None:
    contract = build_contract(contract_sdl())
    ours = build_schema(GatewaySettings())._schema
    assert find_breaking_changes(contract, ours) == []
    assert find_dangerous_changes(contract, ours) == []
