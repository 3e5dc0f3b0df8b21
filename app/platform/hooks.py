"""Model hooks: seed 001's twelve hook types, wired to SQLAlchemy session events.

Register with the decorator::

    @model_hook("before_create", Ticket)
    def number_ticket(ticket, session, **context): ...

Order within one flush (for every object, in the order SQLAlchemy reports them):

1. ``before_create`` (new rows) or ``before_update`` (rows with changed columns)
2. ``before_save`` (both); steps 1-2 repeat for rows the hooks themselves add or
   change, until no new row turns up
3. centralized validation (``platform.validation``) - after the before-hooks, so
   hooks may fill in fields (due dates, numbers, slugs) that rules then check
4. ``before_delete`` for rows being hard-deleted
   -- SQL is emitted --
5. ``after_save``, then ``after_create`` or ``after_update``
6. ``after_delete``

If a before-hook or validation raises, nothing is written and no after-hook runs.

``before_soft_delete``/``after_soft_delete`` and ``before_restore``/``after_restore``
run inside ``SoftDeleteMixin.soft_delete()``/``restore()``, around the change of the
soft-delete columns; the ``before_update``/``after_update`` hooks then run again
when that change is flushed.

Hooks run inside the caller's transaction: a hook that raises aborts the flush.
Rows a before-hook adds to the session are flushed with it; rows an after-hook
adds are flushed by the next flush (``Session.commit`` flushes until clean).
Hooks for a base class also run for its subclasses.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

HOOK_TYPES = (
    "before_save",
    "after_save",
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
    "before_restore",
    "after_restore",
    "before_soft_delete",
    "after_soft_delete",
)

HookFunction = Callable[..., Any]


class ModelHookRegistry:
    def __init__(self) -> None:
        self._hooks: dict[str, dict[type, list[HookFunction]]] = {t: defaultdict(list) for t in HOOK_TYPES}

    def register_hook(self, hook_type: str, model_class: type, hook_function: HookFunction) -> None:
        if hook_type not in self._hooks:
            raise ValueError(f"Invalid hook type: {hook_type!r}; expected one of {', '.join(HOOK_TYPES)}")
        functions = self._hooks[hook_type][model_class]
        if hook_function not in functions:
            functions.append(hook_function)

    def unregister_hook(self, hook_type: str, model_class: type, hook_function: HookFunction) -> None:
        functions = self._hooks[hook_type].get(model_class, [])
        if hook_function in functions:
            functions.remove(hook_function)

    def hooks_for(self, hook_type: str, instance: Any) -> list[HookFunction]:
        found: list[HookFunction] = []
        for klass in type(instance).__mro__:
            found.extend(self._hooks[hook_type].get(klass, ()))
        return found

    def execute_hooks(self, hook_type: str, instance: Any, **context: Any) -> None:
        for function in self.hooks_for(hook_type, instance):
            function(instance, **context)


hook_registry = ModelHookRegistry()


def model_hook(hook_type: str, model_class: type) -> Callable[[HookFunction], HookFunction]:
    """Register the decorated function as a hook of `hook_type` for `model_class`."""

    def decorator(function: HookFunction) -> HookFunction:
        hook_registry.register_hook(hook_type, model_class, function)
        return function

    return decorator


def run_hooks(hook_type: str, instance: Any, **context: Any) -> None:
    hook_registry.execute_hooks(hook_type, instance, **context)


def apply_column_defaults(instance: Any) -> None:
    """Fill Python-side column defaults now, so hooks and validation see the values the INSERT will write."""
    mapper = sa.inspect(instance).mapper
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = getattr(column, "default", None)
        if default is None or getattr(instance, prop.key, None) is not None:
            continue
        if default.is_scalar:
            setattr(instance, prop.key, default.arg)
        elif default.is_callable:
            setattr(instance, prop.key, default.arg(None))


def _has_column_changes(session: Session, instance: Any) -> bool:
    return session.is_modified(instance, include_collections=False)


def _before_flush(session: Session, flush_context, instances) -> None:
    from app.platform.validation import validate_before_flush

    creates: list[Any] = []
    updates: list[tuple[Any, dict]] = []
    seen: set[int] = set()
    try:
        # Hooks may add rows or change other rows (a session hook touching its user):
        # those get their own before-hooks too, until nothing new turns up.
        for _round in range(20):
            new = [obj for obj in list(session.new) if id(obj) not in seen]
            dirty = [obj for obj in list(session.dirty) if id(obj) not in seen and _has_column_changes(session, obj)]
            if not new and not dirty:
                break
            for obj in new:
                seen.add(id(obj))
                apply_column_defaults(obj)
                run_hooks("before_create", obj, session=session)
                run_hooks("before_save", obj, session=session)
                creates.append(obj)
            for obj in dirty:
                seen.add(id(obj))
                changes = changed_columns(obj)
                run_hooks("before_update", obj, session=session, changes=changes)
                run_hooks("before_save", obj, session=session, changes=changes)
                updates.append((obj, changes))
        else:  # pragma: no cover - a hook that keeps dirtying rows
            raise RuntimeError("model hooks keep changing rows; giving up after 20 rounds")
        validate_before_flush(session, list(session.new) + [o for o in session.dirty if _has_column_changes(session, o)])
        deleted = list(session.deleted)
        for obj in deleted:
            run_hooks("before_delete", obj, session=session)
    except BaseException:
        # Nothing is written: forget this attempt, so a corrected retry doesn't run after-hooks twice.
        session.info.pop("hooks_pending", None)
        raise
    pending = session.info.setdefault("hooks_pending", {"create": [], "update": [], "delete": []})
    pending["create"].extend(creates)
    pending["update"].extend(updates)
    pending["delete"].extend(deleted)


def _after_flush_postexec(session: Session, flush_context) -> None:
    pending = session.info.pop("hooks_pending", None)
    if not pending:
        return
    for obj in pending["create"]:
        run_hooks("after_save", obj, session=session)
        run_hooks("after_create", obj, session=session)
    for obj, changes in pending["update"]:
        run_hooks("after_save", obj, session=session, changes=changes)
        run_hooks("after_update", obj, session=session, changes=changes)
    for obj in pending["delete"]:
        run_hooks("after_delete", obj, session=session)


def _after_rollback(session: Session) -> None:
    session.info.pop("hooks_pending", None)


def install(session_class: type = Session) -> None:
    """Wire the registry to SQLAlchemy session events (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush_postexec", _after_flush_postexec)
        event.listen(session_class, "after_soft_rollback", lambda s, t: _after_rollback(s))


def changed_columns(instance: Any) -> dict[str, tuple[Any, Any]]:
    """{column: (old, new)} for a dirty instance; for audit hooks."""
    state = sa.inspect(instance)
    changes: dict[str, tuple[Any, Any]] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            changes[attr.key] = (old, new)
    return changes
