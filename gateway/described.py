"""Strawberry's ``field``, ``mutation`` and ``subscription`` with a description, typed.

Bare, Strawberry's decorators are typed; called with arguments they return Any, which
would leave every resolver declared that way unchecked. These keep the resolver's own
type for mypy and build the same field at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def field(description: str) -> Callable[[Resolver], Resolver]:
    decorate: Callable[[Resolver], Resolver] = strawberry.field(description=description)
    return decorate


def mutation(description: str) -> Callable[[Resolver], Resolver]:
    decorate: Callable[[Resolver], Resolver] = strawberry.mutation(description=description)
    return decorate


def subscription(description: str) -> Callable[[Resolver], Resolver]:
    decorate: Callable[[Resolver], Resolver] = strawberry.subscription(description=description)
    return decorate
