"""Lines of a rule file: where a key, or a token an error message quotes, sits in the YAML.

pySigma's errors name the file but not the line; the YAML node tree of the file does.

>>> source = RuleSource.parse("x.yml", "title: t\\ndetection:\\n  sel:\\n    a|foo: 1\\n")
>>> source.line_of("detection", "sel"), source.line_of_token("foo", "detection")
(3, 4)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from sigma import exceptions as sx


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """Something wrong with a rule file; ``str()`` is ``path:line: severity: reason``."""

    path: str
    line: int | None
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RuleSource:
    """A rule file and its YAML node tree."""

    path: Path
    root: yaml.Node | None

    @classmethod
    def parse(cls, path: str | Path, text: str) -> RuleSource:
        """Raises ``yaml.YAMLError`` for a file that is not YAML."""
        return cls(Path(path), yaml.compose(text, Loader=yaml.CSafeLoader))

    def line_of(self, *keys: str) -> int | None:
        """1-based line of the deepest key found on the path ``keys``."""
        node, line = self.root, self.root.start_mark.line + 1 if self.root else None
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                break
            found = [(k, v) for k, v in node.value if k.value == key]
            if not found:
                break
            line, node = found[0][0].start_mark.line + 1, found[0][1]
        return line

    def line_of_token(self, token: str, *under: str) -> int | None:
        """Line of the first key or scalar below ``under`` that contains ``token``."""
        node = self._node_at(under)
        found = _find(node, token) if node is not None else None
        return found if found is not None else self.line_of(*under)

    def _node_at(self, keys: tuple[str, ...]) -> yaml.Node | None:
        node = self.root
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                return None
            node = next((v for k, v in node.value if k.value == key), None)
        return node

    def problem(self, reason: str, line: int | None, severity: str = "error") -> RuleProblem:
        return RuleProblem(str(self.path), line, reason, severity)


def _find(node: yaml.Node, token: str) -> int | None:
    if isinstance(node, yaml.ScalarNode):
        return node.start_mark.line + 1 if token in str(node.value) else None
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if token in str(key.value):
                return key.start_mark.line + 1
            children.append(value)
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        line = _find(child, token)
        if line is not None:
            return line
    return None


# Where in a rule each kind of pySigma error points.
_ERROR_KEYS: tuple[tuple[type[sx.SigmaError], tuple[str, ...]], ...] = (
    (sx.SigmaTimespanError, ("correlation", "timespan")),
    (sx.SigmaCorrelationConditionError, ("correlation", "condition")),
    (sx.SigmaCorrelationTypeError, ("correlation", "type")),
    (sx.SigmaRuleNotFoundError, ("correlation", "rules")),
    (sx.SigmaCorrelationRuleError, ("correlation",)),
    (sx.SigmaConditionError, ("detection", "condition")),
    (sx.SigmaModifierError, ("detection",)),
    (sx.SigmaDetectionError, ("detection",)),
    (sx.SigmaRegularExpressionError, ("detection",)),
    (sx.SigmaValueError, ("detection",)),
    (sx.SigmaIdentifierError, ("id",)),
    (sx.SigmaLevelError, ("level",)),
    (sx.SigmaStatusError, ("status",)),
    (sx.SigmaTitleError, ("title",)),
    (sx.SigmaDateError, ("date",)),
    (sx.SigmaModifiedError, ("modified",)),
    (sx.SigmaLogsourceError, ("logsource",)),
    (sx.SigmaTagError, ("tags",)),
    (sx.SigmaRelatedError, ("related",)),
    (sx.SigmaReferencesError, ("references",)),
    (sx.SigmaFalsePositivesError, ("falsepositives",)),
    (sx.SigmaAuthorError, ("author",)),
    (sx.SigmaDescriptionError, ("description",)),
    (sx.SigmaFieldsError, ("fields",)),
    (sx.SigmaNameError, ("name",)),
)
_QUOTED = re.compile(r"'([^']+)'")


def error_line(source: RuleSource, error: Exception) -> int | None:
    """The line of ``source`` a pySigma error is about."""
    keys = next((keys for kind, keys in _ERROR_KEYS if isinstance(error, kind)), ())
    message = str(error.args[0]) if error.args else str(error)
    for token in _QUOTED.findall(message):
        line = source.line_of_token(token, *keys)
        if line != source.line_of(*keys):
            return line
    return source.line_of(*keys)


def error_reason(error: Exception) -> str:
    """The message of a pySigma error, without the file it appends."""
    return str(error.args[0]) if error.args else type(error).__name__
