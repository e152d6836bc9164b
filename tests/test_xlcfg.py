"""The xl.cfg parser: every lexical and grammar rule of xen-facts §6.1, and properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ioreqlab.toolstack import (
    PYTHON_HINT,
    Atom,
    ListValue,
    XlCfgError,
    XlConfig,
    format_xl_cfg,
    parse_xl_cfg,
)
from ioreqlab.toolstack.cnum import LONG_MAX, strtol
from ioreqlab.toolstack.xlcfg import Setting


def ok(text: str) -> XlConfig:
    return parse_xl_cfg(text, "t.cfg")


def errors(text: str) -> list[str]:
    with pytest.raises(XlCfgError) as info:
        parse_xl_cfg(text, "t.cfg")
    assert info.value.errno == 22
    return info.value.messages


# -- lexical rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("a.b_c = 1\n", "a.b_c", "1"),  # . and _ allowed after the first letter
        ("x = 0x1f\n", "x", "0x1f"),
        ("x = '1'\n", "x", "1"),  # quoted and unquoted atoms are stored alike
        ('x = "a b"\n', "x", "a b"),
        ("x = 'it''s'\n", "x", None),  # two adjacent strings are a syntax error
        ('x = "q\\"q"\n', "x", 'q"q'),
        ("x = '\\a\\b\\f\\n\\r\\t\\v\\\\'\n", "x", "\a\b\f\n\r\t\v\\"),
        ('x = "\\101"\n', "x", ""),  # the octal escape is consumed and inserts nothing
        ("x = 1", "x", "1"),  # the last assignment needs no terminator
        ("x = 1; y = 2\n", "y", "2"),
        ("x = 1\nx = 2\n", "x", "2"),  # the last one wins
        ("x = 'a'\nx += 'b'\n", "x", "ab"),
    ],
)
def test_atoms(text: str, key: str, value: str | None) -> None:
    if value is None:
        errors(text)
        return
    assert ok(text).get_string(key) == value


@pytest.mark.parametrize(
    ("text", "near", "msg"),
    [
        ("x = 0x1F\n", "F", "lexical error"),
        ("x = -1\n", "-1", "lexical error"),
        ("Memory = 1\n", "Memory", "lexical error"),
        ('x = "open\n', '"open', "lexical error"),
        ("x = 1\n# no newline", "#", "lexical error"),
        ("x = 1\r\n", "\r", "lexical error"),
        (
            'x = "\\x41"\n',
            '"\\x41"',
            "invalid digit after backslash hexnumerical character escape in quoted string",
        ),
        (
            'x = "\\7"\n',
            '"\\7"',
            "invalid digit after backslash octalnumerical character escape in quoted string",
        ),
        ('x = "\\q"\n', '"\\q"', "invalid character after backlash in quoted string"),
        ("x 1\n", "1", "syntax error, unexpected NUMBER, expecting += or '='"),
        ("x = ]\n", "]", "syntax error, unexpected ']', expecting STRING or NUMBER or '['"),
        # After a complete assignment bison has reduced by default: only $end is left.
        ("x = 1 2\n", "2", "syntax error, unexpected NUMBER, expecting $end"),
        ("= 1\n", "=", "syntax error, unexpected '=', expecting $end or IDENT or NEWLINE or ';'"),
        ("x = [1,,2]\n", ",", "syntax error, unexpected ',', expecting ']'"),
        ("x = [1 2]\n", "2", "syntax error, unexpected NUMBER, expecting ']'"),
        # Reported where the scanner is: at the token after the value.
        ("x = 'a'\nx += [1]\n", "]", 'can\'t add [list] to "string" or vice versa'),
    ],
)
def test_errors_are_located_and_worded_like_libxlu(text: str, near: str, msg: str) -> None:
    first = errors(text)[0]
    assert first.endswith(f"near `{near}': {msg}"), first
    assert first.startswith("t.cfg:")


def test_unexpected_newline_is_shown_as_newline() -> None:
    # A token ending in a newline is located a line early, twice over (the NEWLINE's
    # own line is yylineno - 1, and xlu__cfg_yyerror takes one more): line 0 here.
    assert errors("x =\n")[0] == (
        "t.cfg:0: config parsing error near <newline>: "
        "syntax error, unexpected NEWLINE, expecting STRING or NUMBER or '['"
    )


def test_every_error_is_reported_and_recovery_is_per_line() -> None:
    msgs = errors("a = 1\nb 2\nc = 3\nd = ]\ne = 5\n")
    assert [m.split(":")[1] for m in msgs] == ["2", "4"]


def test_lexical_error_silences_the_rest_of_its_line() -> None:
    assert len(errors("x = -1 2 3\n")) == 1 + len(PYTHON_HINT)


@pytest.mark.parametrize("char", list("+-.():"))
def test_python_characters_add_the_hint(char: str) -> None:
    assert errors(f"x = 1{char}\n")[-3:] == list(PYTHON_HINT)


def test_other_bad_characters_do_not_add_the_hint() -> None:
    assert not any("Python" in m for m in errors("x = 1 * 2\n"))


def test_lists_nest_span_lines_and_take_a_trailing_comma() -> None:
    cfg = ok("l = [\n  1,\n  [ 'a', [] ],\n  # comment\n  'z',\n]\nm = []\n")
    assert cfg.to_python() == {"l": ["1", ["a", []], "z"], "m": []}
    assert cfg.get_list("m") == ()


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert "memory exhausted" in errors("x = " + "[" * 5000 + "\n")[0]


def test_plus_equals_appends_lists() -> None:
    cfg = ok("v = ['a']\nv += ['b', 'c']\nn += 'x'\n")
    assert cfg.get_string_list("v") == ["a", "b", "c"]
    assert cfg.get_string("n") == "x"


# -- getters: warnings, key then absent ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "warning"),
    [
        ("m = 512\n", 512, None),
        ("m = '512'\n", 512, None),
        ("m = 0x200\n", 512, None),
        ("m = 010\n", 8, None),
        ("m = 08\n", None, "parameter `m' is not a valid number"),
        ("m = 1e3\n", None, "parameter `m' is not a valid number"),
        ("m = '-1'\n", -1, None),
        ("m = ''\n", None, "parameter `m' is not a valid number"),
        (
            "m = '99999999999999999999'\n",
            None,
            "could not be parsed as a number: Numerical result out of range",
        ),
        ("m = [1]\n", None, "parameter `m' is a list but should be a single value"),
        ("m = 1\nm += 2\n", None, "can't use += with numbers for parameter `m'"),
    ],
)
def test_get_long(text: str, value: int | None, warning: str | None) -> None:
    cfg = ok(text)
    assert cfg.get_long("m") == value
    if warning is None:
        assert cfg.warnings == []
    else:
        assert len(cfg.warnings) == 1
        assert warning in cfg.warnings[0]
        assert cfg.warnings[0].startswith("t.cfg:")


def test_warning_cites_the_winning_line() -> None:
    cfg = ok("m = 1\n\nm = 'x'\n")
    cfg.get_long("m")
    assert cfg.warnings[0].startswith("t.cfg:3:")


def test_get_list_of_a_single_value_warns() -> None:
    cfg = ok("v = 'a'\n")
    assert cfg.get_list("v") is None
    assert "is a single value but should be a list" in cfg.warnings[0]


def test_bounded_and_bool_getters() -> None:
    cfg = ok("a = 5\nb = 0\n")
    assert cfg.get_long("a", hi=4) is None
    assert "greater than maximum bound" in cfg.warnings[-1]
    assert cfg.get_bool("a") is True
    assert cfg.get_bool("b") is False
    assert cfg.get_bool("absent") is None


def test_strtol_matches_c() -> None:
    assert strtol("  +12xyz").value == 12
    assert strtol("  +12xyz").end == 5
    assert strtol("0x").value == 0  # "0" then the x is junk
    assert strtol("0x").end == 1
    assert strtol("-9223372036854775809").value == -LONG_MAX - 1
    assert strtol("").end == 0


# -- properties ------------------------------------------------------------------------


@given(st.text(max_size=200))
def test_parse_raises_only_its_own_error(text: str) -> None:
    try:
        cfg = parse_xl_cfg(text, "fuzz")
    except XlCfgError as err:
        messages = err.messages
    else:
        messages = []
        for name in list(cfg.settings):
            cfg.get_long(name)
            cfg.get_list(name)
    assert all(m.startswith(("fuzz:", "warning:")) for m in messages)


LEXICON = st.sampled_from(
    [
        "a",
        "b.c",
        "=",
        "+=",
        ";",
        "\n",
        "[",
        "]",
        ",",
        "1",
        "0x1f",
        "'s'",
        '"t"',
        "#c\n",
        " ",
        "-",
        "(",
        "Z",
        "\\",
    ]
)


@given(st.lists(LEXICON, max_size=40).map("".join))
def test_token_soup_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(XlCfgError):
        parse_xl_cfg(text, "soup")


names = st.from_regex(r"[a-z][._0-9a-z]{0,8}", fullmatch=True)
atoms = st.one_of(
    st.from_regex(r"[0-9][0-9a-fx]{0,6}", fullmatch=True),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\x00", blacklist_categories=["Cs"]),
        max_size=12,
    ),
).map(Atom)
values = st.recursive(
    atoms,
    lambda inner: st.lists(inner, max_size=4).map(lambda xs: ListValue(tuple(xs))),
    max_leaves=10,
)


@given(st.dictionaries(names, values, max_size=8))
def test_format_then_parse_round_trips(settings: dict[str, Atom | ListValue]) -> None:
    text = "".join(f"{k} = {format_xl_cfg_value(v)}\n" for k, v in settings.items())
    cfg = parse_xl_cfg(text, "gen")
    assert {k: s.value for k, s in cfg.settings.items()} == settings
    again = parse_xl_cfg(format_xl_cfg(cfg), "again")
    assert again == cfg


def format_xl_cfg_value(v: Atom | ListValue) -> str:
    one = XlConfig("x")
    one.settings["k"] = Setting("k", v, "=", 1)
    return format_xl_cfg(one).split(" = ", 1)[1].rstrip("\n")


def test_a_number_of_thousands_of_digits_is_erange_not_a_traceback() -> None:
    # strtol saturates with ERANGE however long the number; the model once raised
    # Python's ValueError past 4,300 digits (int()'s string limit).
    cfg = parse_xl_cfg('name="a"\nmemory=' + "9" * 5000 + "\nvcpus=" + "0" * 5000 + "2\n", "t")
    assert cfg.get_long("memory") is None
    assert "Numerical result out of range" in cfg.warnings[-1]
    assert cfg.get_long("vcpus") == 2  # leading zeros are not significant (octal 2)


def test_long_runs_of_plus_equals_join_once() -> None:
    # += is joined at the end of the parse (it was joined at each one: quadratic,
    # a minute for 1 MB); the values, and a reset by '=', are as libxlu gives them.
    text = 'a = ["x"]\n' + 'a += ["y"]\n' * 3000 + 'b = "p"\n' + 'b += "q"\n' * 3000
    text += 'c = "1"\nc += "2"\nc = "3"\nc += "4"\n'
    cfg = parse_xl_cfg(text, "t")
    assert cfg.get_string_list("a") == ["x"] + ["y"] * 3000
    assert cfg.get_string("b") == "p" + "q" * 3000
    assert cfg.get_string("c") == "34"
    assert cfg.settings["c"].line == 6006  # the setting is the last +=
    bad = 'd = "s"\nd += ["l"]\n'
    with pytest.raises(XlCfgError):
        parse_xl_cfg(bad, "t")


def test_a_name_assigned_again_stands_where_its_newest_assignment_is() -> None:
    # xlu__cfg_set_store puts the newest setting first and find() stops at it: the
    # earlier one is gone.  The model keeps the winners in the order they were made.
    cfg = ok("a = 1\nb = 2\na = 3\nc += [4]\nb = 5\n")
    assert list(cfg.settings) == ["a", "c", "b"]
    assert format_xl_cfg(cfg) == "a = 3\nc += [4]\nb = 5\n"
    assert cfg.get_long("a") == 3


@pytest.mark.parametrize(
    ("value", "warning"),
    [
        ("a += 1", "can't use += with numbers for parameter `a'"),
        ("a = " + "9" * 30, "parameter `a' could not be parsed as a number: Numerical result "
         "out of range"),
        ('a = "1x"', "parameter `a' is not a valid number"),
        ("a = 4", "value `4' is smaller than minimum bound '5'"),
        ("a = 11", "value `11' is greater than maximum bound '10'"),
    ],
)  # fmt: skip
def test_a_bounded_long_warns_once_unless_quiet(value: str, warning: str) -> None:
    # xlu_cfg_get_bounded_long: each refusal is one warning at the setting's line, and
    # none with dont_warn; the value is not found either way.
    cfg = ok(f"b = 2\n{value}\n")
    assert cfg.get_long("a", 5, 10, quiet=True) is None
    assert cfg.warnings == []
    assert cfg.get_long("a", 5, 10) is None
    assert cfg.warnings == [f"t.cfg:2: warning: {warning}"]


def test_a_bounded_long_takes_both_of_its_bounds() -> None:
    assert ok("a = 5\n").get_long("a", 5, 10) == 5
    assert ok("a = 10\n").get_long("a", 5, 10) == 10


def test_a_text_with_no_source_is_named_config_in_reports() -> None:
    with pytest.raises(XlCfgError) as info:
        parse_xl_cfg("memory = -1\n")
    assert str(info.value).startswith("config:1: config parsing error near `-1'")


def test_get_bool_warns_unless_quiet_as_libxlus_dont_warn() -> None:
    cfg = ok("a = 'x'\n")
    assert cfg.get_bool("a", quiet=True) is None
    assert cfg.warnings == []
    assert cfg.get_bool("a") is None
    assert cfg.warnings == ["t.cfg:1: warning: parameter `a' is not a valid number"]


def test_configs_are_equal_by_their_values_and_operators_only() -> None:
    assert ok("a = 1\nb = [ 'x' ]\n") == ok("b = [ 'x' ]\n\na = 1\n")  # lines differ: equal
    assert ok("a = 1\n") != ok("a = 2\n")
    assert ok("a = 1\n") != ok("a = [ 1 ]\n")
    assert ok("a = [ 1 ]\n") != ok("a = [ 2 ]\n")
    assert ok("a = [ 1 ]\n") != ok("a = 1\n")
    assert Atom("1") != ListValue((Atom("1"),))
    assert ListValue((Atom("1"),)) != Atom("1")


def test_a_parse_error_names_its_source_and_reads_as_its_messages() -> None:
    with pytest.raises(XlCfgError) as info:
        parse_xl_cfg("a = \nb = = 2\n", "bad.cfg")
    err = info.value
    assert err.source == "bad.cfg"
    assert len(err.messages) >= 2
    assert str(err) == "\n".join(err.messages)


def test_a_string_with_a_newline_is_written_back_escaped() -> None:
    cfg = ok('a = "x\\ny\\\\z\\"w"\n')
    assert cfg.get_string("a") == 'x\ny\\z"w'
    text = format_xl_cfg(cfg)
    assert text == 'a = "x\\ny\\\\z\\"w"\n'
    assert ok(text) == cfg


def test_equal_values_hash_equal() -> None:
    assert hash(Atom("1", line=3)) == hash(Atom("1", line=9))
    assert hash(ListValue((Atom("a"),), line=1)) == hash(ListValue((Atom("a", line=5),), line=2))
    assert len({Atom("x"), Atom("x", line=4), Atom("y")}) == 2
