"""User regexes run in linear time (RE2); template rendering is limited in output and work."""
from __future__ import annotations

import time

import pytest

from app.platform.patterns import MAX_SUBJECT_LENGTH, check_pattern, fullmatch
from app.projects.sandbox import MAX_OPERATIONS, RenderLimit, render

EVIL = "(a+)+$"


def test_catastrophic_pattern_is_linear():
    started = time.perf_counter()
    for length in (25, 30, 5000):
        assert not fullmatch(EVIL, "a" * length + "!")
    assert time.perf_counter() - started < 0.5  # Python's re: seconds at 25 characters, doubling with each


def test_backreferences_and_lookaround_are_refused_with_a_reason():
    for pattern in (r"(a)\1", "(?=a)a", "(?<!a)b"):
        assert "Backreferences and lookaround are not supported" in check_pattern(pattern)
    assert check_pattern("[a") and check_pattern("^[a-z][a-z0-9-]*$") is None
    assert not fullmatch("a*", "a" * (MAX_SUBJECT_LENGTH + 1))  # long texts are not matched at all


def test_platform_regex_and_character_set_use_re2(app):
    from app.rules.renderer import Constraints, FieldSpec, render as render_name, violations

    constraints = Constraints(regex=EVIL)
    started = time.perf_counter()
    assert violations("a" * 40 + "!", constraints) == ["does not match (a+)+$"]
    # A character set that closes its bracket early is a whole regex: it runs on RE2 too.
    assert violations("b" + "a" * 40 + "!", Constraints(allowed_chars="a](a+)+$[a")) is not None
    result = render_name(FieldSpec(pattern="{x}"), {"x": "a" * 40 + "!"}, codes={}, seq=0, constraints=constraints)
    assert result.value is None
    assert time.perf_counter() - started < 0.5


def test_platform_form_refuses_lookaround_and_says_why(app, make_user, org):
    from tests.helpers import page_text, signed_in

    agent = make_user(org, "agent", "agent@acme.example.com")
    _client, auth = signed_in(app, agent)
    response = auth.post("/rules/platforms", {"name": "Lookahead", "regex": "(?=x)x"}, page="/rules/platforms")
    assert response.status_code == 422
    assert "lookaround are not supported" in page_text(response)


def test_template_question_patterns_use_re2_and_answers_are_length_checked():
    from app.projects.templating import Question, TemplateRefused

    question = Question.from_dict({"name": "code", "pattern": EVIL})
    started = time.perf_counter()
    assert question.clean("a" * 40 + "!")[1] is not None
    assert "limited to 500" in question.clean("a" * 501)[1]
    assert time.perf_counter() - started < 0.5
    with pytest.raises(TemplateRefused, match="lookaround"):
        Question.from_dict({"name": "code", "pattern": "(?!x)y"})


@pytest.mark.parametrize("source", [
    "{{ 'x' * 20000000 }}",
    "{{ [1] * 10000000 }}",
    "{{ 2 ** 100000000 }}",
    "{{ 'x'|center(2000000000) }}",
    "{{ 'x'.ljust(2000000000) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ ('x' * 10000)|replace('', 'y' * 10000) }}",
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% for c in 'x' * 1000 %}{% for d in 'x' * 1000 %}{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set a = 'x' * 100000 %}{% set b = a ~ a ~ a ~ a %}{% set c = b ~ b ~ b ~ b %}{% set d = c ~ c ~ c ~ c %}",
    "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}",
])
def test_template_bombs_are_refused_quickly(source):
    started = time.perf_counter()
    with pytest.raises(RenderLimit):
        render(source, {}, max_chars=5 * 1024 * 1024)
    assert time.perf_counter() - started < 3  # generous: the machine running the tests may be busy


def test_ordinary_templates_render():
    context = {"project": {"name": "Thesis"}, "dates": [{"title": f"d{i}"} for i in range(50)]}
    out = render("{{ project.name }}: {% for d in dates %}{{ d.title }} {% endfor %}{{ '%5s' % 'x' }}{{ 'x' * 3 }}",
                 context, max_chars=10_000)
    assert out.startswith("Thesis: d0 d1") and out.endswith("    xxxx")
    assert MAX_OPERATIONS >= 100_000


def test_template_upload_with_a_bomb_default_is_refused_with_a_message():
    import io
    import json
    import zipfile

    from app.projects.templating import TemplateRefused, check_template_zip

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("README.md.jinja", "{{ answers.title }}")
        archive.writestr("cairn-template.json", json.dumps(
            {"questions": [{"name": "title", "default": "{{ 'x' * 20000000 }}"}]}))
    with pytest.raises(TemplateRefused, match="default is refused: a value would be 20,000,000 characters"):
        check_template_zip(data.getvalue())


def test_generated_file_bomb_is_refused_with_a_message():
    from app.projects.templating import TemplateFile, TemplateRefused, render_files

    with pytest.raises(TemplateRefused, match="refused, a value would be 20,000,000 characters"):
        render_files([TemplateFile("big.txt", b"{{ 'x' * 20000000 }}")], {})


@pytest.mark.parametrize("path", [".git/config", "src/.git/hooks/post-checkout", ".GIT/config", ".git./config"])
def test_git_folders_are_refused_in_templates(path):
    from app.projects.archives import UnsafePath, check_member_path

    with pytest.raises(UnsafePath, match=".git folder"):
        check_member_path(path)
    check_member_path(".gitignore")
    check_member_path("docs/.github/workflow.yml")
