"""Wave 16 G: ``operations._matches`` as plain loops answers as the ``all()`` form it replaced,
for every rule against requests made of each rule's own names (and one name no rule takes)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from s3proxy import operations
from s3proxy.operations import RULES, Operation, Rule, Target


def oracle(rule: Rule, request: Any, subresource: str | None, named: list[str]) -> bool:
    query = request.query
    return (
        rule.subresource == subresource
        and all(name in query for name in rule.required)
        and all(rule.takes(name) for name in named)
        and (rule.header is None or rule.header in request.header_map)
    )


def test_every_rule_matches_as_before() -> None:
    names = sorted(
        {n for rule in RULES for n in (*rule.required, *rule.optional, *rule.parameters)}
        | {"not-a-parameter"}
    )
    subresources = sorted({rule.subresource for rule in RULES if rule.subresource} | {"x"})
    headers = [{}, {rule.header: "v" for rule in RULES if rule.header}]
    checked = 0
    for rule in RULES:
        own = [*rule.required, *rule.optional, *rule.parameters, "not-a-parameter"]
        for size in range(3):
            for chosen in itertools.combinations(own + names[:2], size):
                for subresource in (None, rule.subresource, subresources[0]):
                    for header_map in headers:
                        query = dict.fromkeys(chosen, "1")
                        request: Any = SimpleNamespace(query=query, header_map=header_map)
                        named = list(chosen)
                        got = operations._matches(rule, request, subresource, named)
                        assert got == oracle(rule, request, subresource, named), rule
                        checked += 1
    assert checked > 1000


def test_operations_and_targets_hash_by_identity() -> None:
    table = {operation: operation.value for operation in Operation}
    assert all(table[operation] == operation.value for operation in Operation)
    assert hash(Operation.GetObject) == object.__hash__(Operation.GetObject)
    assert {Target.OBJECT: 1}.get(Target.OBJECT) == 1 and Target.BUCKET not in {Target.OBJECT}
    assert len(list(Operation)) == len(Operation.__members__)  # __hash__ is not a member
