"""The argument checks of ``hv/boundary.py``, as a contract of their own.

``check_prototypes`` wraps each method :data:`PROTOTYPES` names in a generated
function.  These tests wrap an *echo* class, whose methods have the host's own
signatures and return the arguments they were bound to, so the wrapper is
seen apart from what the host then does: every value a C caller could pass
goes through untouched and bound as the method binds it, every other value is
``-EINVAL`` naming the argument, and the method keeps its name, its
documentation and its signature.  (Each test wraps its own class, so it also
runs the wrapper generator itself, not only the one built at import.)
"""

from __future__ import annotations

import errno
import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest

from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.boundary import PROTOTYPES, CType, check_prototypes

#: Stands for an argument the table does not type (a name, a callback, a buffer).
UNTYPED = object()


def _raw(method: str) -> Callable[..., Any]:
    fn: Callable[..., Any] = getattr(Host, method).__wrapped__
    return fn


def _echo_class() -> type:
    """A class with every prototyped method, each returning its bound arguments."""
    namespace: dict[str, object] = {}
    for method in PROTOTYPES:
        sig = inspect.signature(_raw(method))

        def echo(*args: object, _sig: inspect.Signature = sig, **kwargs: object) -> object:
            bound = _sig.bind(*args, **kwargs)
            bound.apply_defaults()
            return dict(list(bound.arguments.items())[1:])  # after self

        echo.__signature__ = sig  # type: ignore[attr-defined]  # what inspect reads
        echo.__name__ = method
        echo.__doc__ = f"The echo of {method}."
        namespace[method] = echo
    cls: type = type("Echo", (), namespace)
    return check_prototypes(cls)


def _value(ctype: CType, end: str) -> object:
    """A value C could pass: the type's lowest or highest (an array of both ends)."""
    cname, lo, hi = ctype
    if cname.endswith("[]"):
        return [lo, hi]
    if cname == "bool":
        return end == "hi"
    return lo if end == "lo" else hi


def _arguments(method: str, end: str) -> dict[str, object]:
    types = PROTOTYPES[method]
    params = list(inspect.signature(_raw(method)).parameters)[1:]
    return {n: _value(types[n], end) if n in types else UNTYPED for n in params}


@pytest.mark.parametrize("method", list(PROTOTYPES))
def test_values_c_could_pass_reach_the_method_bound_as_it_binds_them(method: str) -> None:
    echo = _echo_class()()
    sig = inspect.signature(_raw(method))
    for end in ("lo", "hi"):  # each type's bounds, booleans False and True
        args = _arguments(method, end)
        assert getattr(echo, method)(**args) == args
        # The same, positionally where the method allows it.
        positional = [
            p.name for p in list(sig.parameters.values())[1:] if p.kind == p.POSITIONAL_OR_KEYWORD
        ]
        rest = {n: v for n, v in args.items() if n not in positional}
        assert getattr(echo, method)(*[args[n] for n in positional], **rest) == args


@pytest.mark.parametrize("method", list(PROTOTYPES))
def test_arguments_left_out_take_their_defaults(method: str) -> None:
    # A default that is not an integer (None: "none given") passes the checks as it is.
    echo = _echo_class()()
    sig = inspect.signature(_raw(method))
    required = {
        n: v for n, v in _arguments(method, "lo").items() if sig.parameters[n].default is sig.empty
    }
    want = {n: sig.parameters[n].default for n in list(sig.parameters)[1:]} | required
    assert getattr(echo, method)(**required) == want


@pytest.mark.parametrize(
    ("method", "name"), [(m, n) for m, types in PROTOTYPES.items() for n in types]
)
def test_any_other_value_is_einval_naming_the_argument(method: str, name: str) -> None:
    echo = _echo_class()()
    cname, lo, hi = PROTOTYPES[method][name]
    bad: list[object] = [1.0, "1", None]
    if cname.endswith("[]"):
        bad = [5, "ab", [lo, lo - 1], [1.5], [hi + 1]]
    elif cname != "bool":
        bad += [lo - 1, hi + 1]
    shown = f"{method}: {name}[]=" if cname.endswith("[]") else f"{method}: {name}="
    for value in bad:
        args = {**_arguments(method, "lo"), name: value}
        if value is None and inspect.signature(_raw(method)).parameters[name].default is None:
            continue  # None is this argument's own default ("none given")
        if cname.endswith("[]") and not isinstance(value, list):
            shown_here = f"{method}: {name}="
        else:
            shown_here = shown
        with pytest.raises(XenError, match=re.escape(shown_here)) as info:
            getattr(echo, method)(**args)
        assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("method", list(PROTOTYPES))
def test_the_wrapper_keeps_the_methods_name_documentation_and_signature(method: str) -> None:
    cls = _echo_class()
    wrapped = getattr(cls, method)
    assert wrapped.__name__ == method
    assert wrapped.__doc__ == f"The echo of {method}."
    assert inspect.signature(wrapped) == inspect.signature(_raw(method))
    assert callable(wrapped.__wrapped__)
    # Host's own methods too: what its documentation shows is the method's.
    assert getattr(Host, method).__name__ == method
    assert getattr(Host, method).__doc__ == _raw(method).__doc__


def test_keyword_only_arguments_stay_keyword_only() -> None:
    # guest_access(domid, vcpu, space, addr, size, *, write, ...): ``write`` by name only.
    echo = _echo_class()()
    assert echo.guest_access(1, 0, UNTYPED, 0, 4, write=True)["write"] is True
    with pytest.raises(TypeError):
        echo.guest_access(1, 0, UNTYPED, 0, 4, True)
    with pytest.raises(TypeError):
        Host().guest_access(1, 0, "mmio", 0, 4, True)  # type: ignore[call-arg]  # the point


def test_a_class_without_a_prototyped_method_is_refused() -> None:
    partial = type("Partial", (), {"create_domain": _raw("create_domain")})
    with pytest.raises(TypeError, match="Partial has no method destroy_domain"):
        check_prototypes(partial)
