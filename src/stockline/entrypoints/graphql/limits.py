"""Query depth and cost limits, checked with the document's validation, before it runs.

Depth counts fields nested in fields. Cost counts the fields a query may answer: a field
costs 1 for each object it is asked of, and a list of pages (a connection) asks what is
under it of up to ``first`` objects (50 when not given; a variable's value, or 500 when
the variable does not give a number). ``products(first: 50) { edges { node { levels(first:
50) { edges { node { sku } } } } } }`` costs 1 + 50 x 3 + 2,500 x 3. Introspection
(``__schema``, ``__type``, ``__typename``) is free: tools ask for it deeply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from graphql.type import GraphQLInterfaceType, GraphQLObjectType
from strawberry.extensions import SchemaExtension

from stockline.entrypoints.graphql.paging import DEFAULT_FIRST, MAX_FIRST
from stockline.entrypoints.http.errors import VALIDATION_ERROR

MAX_DEPTH = 15
MAX_COST = 50_000


class Walk:
    """The depth and cost of one operation."""

    def __init__(self, context: ValidationContext, variables: Mapping[str, Any]) -> None:
        self._context, self._variables = context, variables
        self.cost, self.depth = 0, 0

    def selections(self, nodes: Sequence[SelectionNode], parent: GraphQLNamedType | None,
                   times: int, depth: int, fragments: frozenset[str]) -> None:
        for node in nodes:
            if isinstance(node, FieldNode):
                self._field(node, parent, times, depth, fragments)
            elif isinstance(node, InlineFragmentNode):
                kind = (self._context.schema.get_type(node.type_condition.name.value)
                        if node.type_condition else parent)
                self.selections(node.selection_set.selections, kind, times, depth, fragments)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self._context.get_fragment(name)
                if fragment is None or name in fragments:  # reported by graphql's own rules
                    continue
                kind = self._context.schema.get_type(fragment.type_condition.name.value)
                self.selections(fragment.selection_set.selections, kind, times, depth,
                                fragments | {name})

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None, times: int,
               depth: int, fragments: frozenset[str]) -> None:
        name = node.name.value
        if name.startswith("__"):
            return
        field = (parent.fields.get(name)
                 if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None)
        if field is None:
            return
        self.cost += times
        self.depth = max(self.depth, depth + 1)
        if node.selection_set is not None:
            self.selections(node.selection_set.selections, get_named_type(field.type),
                            times * self._page(node, field), depth + 1, fragments)

    def _page(self, node: FieldNode, field: GraphQLField) -> int:
        """How many objects a field may answer per parent: ``first`` for a connection."""
        if "first" not in field.args:
            return 1
        given = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if given is None:
            return DEFAULT_FIRST
        if isinstance(given, IntValueNode):
            value: Any = int(given.value)
        elif isinstance(given, VariableNode):
            value = self._variables.get(given.name.value, DEFAULT_FIRST)
        else:
            value = MAX_FIRST
        return max(1, min(value, MAX_FIRST)) if type(value) is int else MAX_FIRST


def limits_rule(variables: Mapping[str, Any]) -> type[ValidationRule]:
    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode,
                                       *_args: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            walk = Walk(self.context, variables)
            walk.selections(node.selection_set.selections, root, 1, 0, frozenset())
            if walk.depth > MAX_DEPTH:
                self.report_error(_refusal(
                    f"the query is {walk.depth} fields deep; at most {MAX_DEPTH} are served",
                    node, depth=walk.depth, maxDepth=MAX_DEPTH))
            if walk.cost > MAX_COST:
                self.report_error(_refusal(
                    f"the query may answer {walk.cost} fields; at most {MAX_COST} are served "
                    "(ask for smaller pages: `first`)", node, cost=walk.cost,
                    maxCost=MAX_COST))

    return QueryLimitsRule


def _refusal(message: str, node: OperationDefinitionNode, **extra: int) -> GraphQLError:
    return GraphQLError(message, node, extensions={
        "code": VALIDATION_ERROR.code, "status": VALIDATION_ERROR.status, **extra})


class QueryLimits(SchemaExtension):
    """Adds the limits to the validation of each operation (with its variables)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (*context.validation_rules,
                                    limits_rule(context.variables or {}))
        yield
