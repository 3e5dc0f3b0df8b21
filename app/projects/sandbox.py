"""Jinja's sandbox with limits on what one rendering may produce and do.

Jinja's SandboxedEnvironment stops templates from reaching Python internals, but not
from working hard: `{{ 'x' * 20000000 }}` renders 20 MB, `{{ 9 ** 9 ** 9 }}` computes
for minutes, nested loops run for ever. A `BoundedSandbox` is made for one rendering
(`render`) and refuses, with RenderLimit and a message saying which limit:

- more than `max_chars` characters of output (every `{{ }}` counts, captured blocks too);
- any one value (a string or list made by `*`, `+`, `%`, a filter or a method) larger
  than `max_chars`, checked before it is built where the size is known in advance;
- numbers past MAX_NUMBER given to filters and methods that use them as sizes
  (`center`, `indent`, `ljust`, format widths), powers with results past 10,000 bits;
- more than MAX_OPERATIONS steps: each loop iteration, attribute or item lookup, call
  and operator costs one (every `{% for %}` iterates through a counting wrapper).
"""
from __future__ import annotations

import re
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, safe_range
from jinja2.utils import Namespace

MAX_OPERATIONS = 100_000
MAX_NUMBER = 100_000
MAX_POWER_BITS = 10_000
_WIDTH = re.compile(r"\d{6,}")  # a width or precision of 100,000 or more in a format string
_ITERATE = "cairn_iterate"
_CHECKED = "cairn_checked"


class RenderLimit(ValueError):
    """A template asked for more than a rendering may produce or do."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set)) else 0


class BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def __init__(self, *, max_chars: int, **options: Any) -> None:
        super().__init__(finalize=self._count_output, **options)
        self.max_chars = max_chars
        self.operations = 0
        self.output_chars = 0
        self.globals["range"] = self._range
        self.globals["namespace"] = _bounded_namespace(self)
        self.globals[_ITERATE] = self._iterate
        self.globals[_CHECKED] = self._checked
        self.filters = {name: _guarded_filter(self, name, f) for name, f in self.filters.items()}

    # ---- budget
    def spend(self, amount: int = 1) -> None:
        self.operations += amount
        if self.operations > MAX_OPERATIONS:
            raise RenderLimit(f"the template does too much work (more than {MAX_OPERATIONS:,} steps)")

    def check_size(self, size: int, what: str = "a value") -> None:
        if size > self.max_chars:
            raise RenderLimit(f"{what} would be {size:,} characters long; the limit is {self.max_chars:,}")

    def check_number(self, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise RenderLimit(f"the number {value:,} is too large here (at most {MAX_NUMBER:,})")
        if isinstance(value, str) and ("%" in value or "{" in value) and _WIDTH.search(value):
            raise RenderLimit("a format width or precision is too large")

    def _count_output(self, value: Any) -> Any:
        self.output_chars += len(value) if isinstance(value, str) else len(str(value))
        if self.output_chars > self.max_chars:
            raise RenderLimit(f"the output is longer than {self.max_chars:,} characters")
        return value

    def _range(self, *args: int):
        numbers = safe_range(*args)
        self.spend(len(numbers))
        return numbers

    def _checked(self, value: Any) -> Any:
        self.check_size(_size(value))
        return value

    def _iterate(self, iterable: Any):
        for item in iterable:
            self.spend()
            yield item

    # ---- every {% for %} loops through _iterate; every `~` result is size-checked
    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = _wrap(_ITERATE, loop.iter)
        for parent in list(tree.find_all(nodes.Node)):
            for field_name, child in parent.iter_fields():
                if isinstance(child, nodes.Concat):
                    setattr(parent, field_name, _wrap(_CHECKED, child))
                elif isinstance(child, list):
                    child[:] = [_wrap(_CHECKED, c) if isinstance(c, nodes.Concat) else c for c in child]
        return tree

    # ---- intercepted operations
    def getattr(self, obj, attribute):
        self.spend()
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            self.check_number(obj)  # the sandbox wraps str.format: its widths are checked here
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        self.spend()
        return super().getitem(obj, argument)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805  (Jinja's signature)
        __self.spend()
        if __obj in (__self._checked, __self._iterate):  # our own wrappers: nothing to check in their argument
            return __obj(*args)
        for value in (*args, *kwargs.values()):
            __self.check_number(value)
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, str):  # a str method: "{:>999999999}".format(x), s.replace("", s)
            __self.check_number(receiver)
            if getattr(__obj, "__name__", "") == "replace":
                _check_replace(__self, receiver, *args[:2])
        result = super().call(__context, __obj, *args, **kwargs)
        __self.check_size(_size(result))
        return result

    def call_binop(self, context, operator, left, right):
        self.spend()
        if operator == "*":
            sized, count = (left, right) if _size(left) else (right, left)
            if _size(sized) and isinstance(count, int):
                self.check_size(_size(sized) * max(count, 0))
        elif operator == "+" and _size(left) and _size(right):
            self.check_size(_size(left) + _size(right))
        elif operator == "**" and isinstance(left, int) and isinstance(right, (int, float)):
            if right > 0 and abs(left) > 1 and right * max(abs(left), 2).bit_length() > MAX_POWER_BITS:
                raise RenderLimit(f"{left} ** {right} is too large to compute")
        elif operator == "%" and isinstance(left, str):
            self.check_number(left)
        result = super().call_binop(context, operator, left, right)
        self.check_size(_size(result))
        return result


def _wrap(function: str, node: nodes.Expr) -> nodes.Call:
    return nodes.Call(nodes.Name(function, "load", lineno=node.lineno), [node], [], None, None, lineno=node.lineno)


def _check_replace(env: BoundedSandbox, text: str, old: Any = None, new: Any = None) -> None:
    if isinstance(old, str) and isinstance(new, str):
        count = len(text) + 1 if old == "" else text.count(old)
        env.check_size(len(text) + count * max(len(new) - len(old), 0))


def _guarded_filter(env: BoundedSandbox, name: str, function):
    def guarded(*args, **kwargs):
        env.spend()
        for value in (*args, *kwargs.values()):
            env.check_number(value)
        if name == "replace":
            strings = [a for a in args if isinstance(a, str)]
            if len(strings) >= 3:
                _check_replace(env, *strings[-3:])
        result = function(*args, **kwargs)
        env.check_size(_size(result), f"the result of the {name} filter")
        return result

    if hasattr(function, "jinja_pass_arg"):
        guarded.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


def _bounded_namespace(env: BoundedSandbox):
    class BoundedNamespace(Namespace):
        """`{% set ns.x = ns.x ~ ns.x %}` doubling in a loop: each value stored is size-checked."""

        def __setitem__(self, name, value):
            env.check_size(_size(value))
            super().__setitem__(name, value)

    return BoundedNamespace


def render(source: str, context: dict, *, max_chars: int, **options: Any) -> str:
    """`source` rendered in a fresh BoundedSandbox (RenderLimit past a limit; TemplateError as Jinja raises)."""
    env = BoundedSandbox(max_chars=max_chars, **options)
    return render_in(env, source, context)


def render_in(env: BoundedSandbox, source: str, context: dict) -> str:
    """Render with `env` (its work budget carries over; its output count starts again)."""
    env.output_chars = 0
    try:
        return env.from_string(source).render(**context)
    except RecursionError:
        raise RenderLimit("the template calls itself too deeply") from None
