"""What a query asks for below a field, read from the document: a page loads the
authors or signs the rendition URLs of its posts only when some field below asks
for them, in one backend call each, so those fields then resolve synchronously."""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry import Info


def names_below(info: Info) -> frozenset[str]:
    """Every field name selected anywhere below the resolving field, through inline
    fragments and fragment spreads: a superset of what will be resolved."""
    raw = info._raw_info
    names: set[str] = set()
    expanded: set[str] = set()
    pending: list[SelectionSetNode | None] = [node.selection_set for node in raw.field_nodes]
    while pending:
        selection_set = pending.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
                pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = raw.fragments.get(name)
                if fragment is not None and name not in expanded:
                    expanded.add(name)
                    pending.append(fragment.selection_set)
    return frozenset(names)
