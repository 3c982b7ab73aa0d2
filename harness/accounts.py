"""Accounts to drive the stack with: signed up through GraphQL as an app would, or
looked up by name through graph_svc."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import grpc
import httpx

from harness.graphql import GraphQLClient
from pictor.clients import ServiceClients
from pictor.graph.v1 import graph_pb2

PASSWORD = "a fine password"
SIGN_UP = """
mutation($username: String!, $password: String!) {
  signUp(username: $username, password: $password) { token user { id username } }
}
"""
LOG_IN = """
mutation($username: String!, $password: String!) {
  logIn(username: $username, password: $password) { token }
}
"""

_names = itertools.count()


@dataclass
class Person:
    """A signed-up user and a client logged in as them."""

    id: str
    username: str
    client: GraphQLClient


def unique_name(prefix: str = "user") -> str:
    """A username no other caller of this process takes, nor (by pid) another process:
    the stacks keep their users."""
    return f"{prefix}.{os.getpid() % 10_000}.{next(_names)}"


async def sign_up(
    http: httpx.AsyncClient,
    prefix: str = "user",
    *,
    username: str | None = None,
    password: str = PASSWORD,
) -> Person:
    """Signs up ``username`` (else a unique name with ``prefix``); raises GraphQLError
    when the gateway refuses."""
    username = username or unique_name(prefix)
    anonymous = GraphQLClient(http)
    payload = (await anonymous.data(SIGN_UP, {"username": username, "password": password}))[
        "signUp"
    ]
    return Person(payload["user"]["id"], username, anonymous.signed_in(payload["token"]))


async def log_in(client: GraphQLClient, username: str, password: str = PASSWORD) -> GraphQLClient:
    """``client`` signed in as ``username``."""
    payload = await client.data(LOG_IN, {"username": username, "password": password})
    return client.signed_in(payload["logIn"]["token"])


async def find_user(clients: ServiceClients, username: str) -> int | None:
    """The id of ``username`` (graph_svc), None when there is no such user."""
    try:
        response = await clients.graph.GetUserByUsername(
            graph_pb2.GetUserByUsernameRequest(username=username)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return int(response.user.id)
