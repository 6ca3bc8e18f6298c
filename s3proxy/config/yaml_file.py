"""Reading the configuration file: YAML that cannot mean two things and cannot exhaust the box.

PyYAML's ``safe_load`` alone has three traps for an operator. A key written twice in one
mapping (two ``alice:`` tenants, ``port:`` twice) keeps the last silently, so a setting is
ignored without a word. Aliases expand without bound (nine anchors of nine aliases each are
387 million strings: the "billion laughs"), and a huge file is read and parsed whole: start-up
then hangs or is killed instead of failing with a line. So this loader refuses a duplicate key
(naming it and its line), a file over ``MAX_CONFIG_BYTES``, a document that aliases would
expand past ``MAX_CONFIG_NODES`` and an alias that contains itself. Errors never quote the
file: a line may hold a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from s3proxy.config.models import ConfigError

MAX_CONFIG_BYTES = 8 * 1024 * 1024
"""A configuration of 10,000 tenants with a key and a bucket map each is about 3 MiB."""
MAX_CONFIG_NODES = 1_000_000
"""YAML nodes after aliases are expanded; that same configuration has about 200,000."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class RefusedYaml(yaml.YAMLError):
    """A document this loader will not construct; ``problem`` and ``problem_mark`` say why."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that counts the expanded document first and refuses duplicate keys."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return self.construct_document(node)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # merged keys (<<) may be overridden, as YAML's merge allows
            key = self.construct_object(key_node)
            if key in seen:
                raise RefusedYaml(f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_size(root: Node) -> None:
    """Refuse a document whose aliases expand past ``MAX_CONFIG_NODES`` or into themselves.

    An alias is the same node object again, so sizes are counted once per node (memoized) and
    a node met again while it is still being counted is a cycle.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    # Iterative post-order walk: a deep document must not hit Python's recursion limit.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if children_done:
            open_nodes.discard(ident)
            sizes[ident] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[ident] > MAX_CONFIG_NODES:
                problem = f"aliases expand the document past {MAX_CONFIG_NODES:,} nodes"
                raise RefusedYaml(problem, node.start_mark)
            continue
        if ident in sizes:
            continue
        if ident in open_nodes:
            raise RefusedYaml("an alias refers to a node that contains it", node.start_mark)
        open_nodes.add(ident)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml_value(text: str) -> Any:
    """One value written as YAML (an ``S3PROXY_A__B`` override), under the same rules."""
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass


def read_config_yaml(path: Path) -> dict[str, Any]:
    """The configuration file's top-level mapping ({} for an empty file); ConfigError otherwise."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        limit = MAX_CONFIG_BYTES // (1024 * 1024)
        raise ConfigError(f"{path}: the configuration file is larger than {limit} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc}") from None
    try:
        data = parse_yaml_value(text)
    except yaml.YAMLError as exc:
        # Never str(exc): PyYAML quotes the offending line, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data
