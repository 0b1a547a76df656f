"""The pySigma processing pipeline that fills a rule's list placeholders
(:mod:`detection.sigma.lists`), in a module of its own: pySigma's pipelines import Jinja2 and
much else, which only a site that sets lists needs."""

from __future__ import annotations

from dataclasses import dataclass

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.types import Placeholder, SigmaString, SigmaType

from detection.sigma.lists import Lists, typed_value


@dataclass
class TypedListTransformation(ValueListPlaceholderTransformation):
    """pySigma's value-list placeholder replacement, with addresses as CIDR tests and whole
    numbers as numbers when the placeholder is the whole value."""

    def apply_value(self, field: str | None, val: SigmaType) -> object:
        if isinstance(val, SigmaString) and len(val.s) == 1 \
                and isinstance(val.s[0], Placeholder) and self._pipeline is not None:
            values = self._pipeline.vars.get(val.s[0].name)
            if values is not None:
                return [typed_value(value) for value in values]
        return super().apply_value(field, val)


def lists_pipeline(lists: Lists) -> ProcessingPipeline:
    """The pySigma pipeline that fills the placeholders of a rule (also usable by backends)."""
    return ProcessingPipeline(
        name="liaowang lists", priority=10,
        items=[ProcessingItem(TypedListTransformation(), identifier="liaowang_lists")],
        vars={name: list(values) for name, values in lists.items()})
