"""YAML files that users write (recipes, study plans, published reference rows): `yaml.safe_load`, except that a
key given twice in one mapping is an error instead of the last one silently winning."""

from __future__ import annotations

import yaml


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                break
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice (first at line {first.start_mark.line + 1}): keep one",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def load(text: str):
    """The data in `text`, as yaml.safe_load gives it; yaml.YAMLError (with the line) on a duplicate key."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 -- a SafeLoader subclass
