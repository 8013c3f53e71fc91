"""Persona files: the shipped ones validate; broken ones name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from interview_pipeline.personas import PersonaError, PersonaLibrary, load_persona_file
from interview_pipeline.personas.schema import Persona

ROOT = Path(__file__).resolve().parents[2]
PERSONAS = ROOT / "personas"

GOOD = """\
id: {id}
interviewer:
  name: Test
company:
  name: Acme
  role_title: Engineer
opening: "Hi {{candidate_name}}"
closing: Bye
questions:
  - id: a
    text: First?
  - id: b
    text: Second?
  - id: c
    text: Third?
    follow_ups: 1
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_personas_are_valid() -> None:
    library = PersonaLibrary(PERSONAS)
    assert len(library.ids()) >= 2
    assert library.validate() == []
    for pid in library.ids():
        persona = library.load(pid)
        assert persona.questions and persona.rubric
        assert "{" not in persona.render(persona.opening, "Sam")


def test_good_file_loads(tmp_path: Path) -> None:
    persona = load_persona_file(write(tmp_path, GOOD.format(id="p")))
    assert isinstance(persona, Persona)
    assert [q.id for q in persona.questions] == ["a", "b", "c"]


def test_negative_follow_ups_names_file_line_and_field(tmp_path: Path) -> None:
    text = GOOD.format(id="p").replace("follow_ups: 1", "follow_ups: -1")
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    line = text.splitlines().index("    follow_ups: -1") + 1
    assert f"p.yaml:{line} questions[2].follow_ups: must be >= 0" in str(err.value)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    text = GOOD.format(id="p") + "colour: red\n"
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    assert "colour: unknown field" in str(err.value)
    assert "p.yaml:17" in str(err.value)


def test_unknown_placeholder_is_an_error(tmp_path: Path) -> None:
    text = GOOD.format(id="p").replace("{candidate_name}", "{candidate}")
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    assert "p.yaml:7 opening: unknown placeholder {candidate}" in str(err.value)


def test_unreadable_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, "id: p\nquestions: [a\nfoo: ]\n"))
    assert "p.yaml:" in str(err.value) and "invalid YAML" in str(err.value)


def test_id_must_be_safe_and_match_file(tmp_path: Path) -> None:
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, GOOD.format(id="../etc")))
    assert "id: must be a safe id" in str(err.value)
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, GOOD.format(id="other")))
    assert "must match the file name" in str(err.value)


def test_library_refuses_path_traversal() -> None:
    library = PersonaLibrary(PERSONAS)
    for bad in ("../pyproject", "alex/../maya", "ALEX", ""):
        with pytest.raises(PersonaError) as err:
            library.load(bad)
        assert "known: alex" in str(err.value)


def test_missing_avatar_image_is_reported(tmp_path: Path) -> None:
    text = GOOD.format(id="p") + "avatar:\n  image: nope.png\n"
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    assert "avatar.image: file not found" in str(err.value)


def test_avatar_image_outside_folder_is_refused(tmp_path: Path) -> None:
    text = GOOD.format(id="p") + "avatar:\n  image: ../../etc/passwd\n"
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    assert "avatar.image: must be a path inside the personas folder" in str(err.value)


def test_nothing_but_persona_errors_escape_for_odd_paths(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    for path in (tmp_path / "a.yaml", tmp_path / ("x" * 5000 + ".yaml")):
        with pytest.raises(PersonaError, match="unreadable"):
            load_persona_file(path)


@pytest.mark.parametrize("image", ["loop.png", "x\\0y.png", "x" * 5000 + ".png"])
def test_an_unusable_avatar_path_is_an_issue_not_a_crash(tmp_path: Path, image: str) -> None:
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    text = GOOD.format(id="p") + f'avatar:\n  image: "{image}"\n'
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    message = str(err.value)
    assert "p.yaml:18 avatar.image:" in message and "internal error" not in message


def test_check_loads_the_good_files_and_reports_every_bad_one(tmp_path: Path) -> None:
    write(tmp_path, GOOD.format(id="good"), "good.yaml")
    write(tmp_path, "id: a\nx: *nope\n", "a.yaml")
    write(tmp_path, GOOD.format(id="b").replace("follow_ups: 1", "follow_ups: -1"), "b.yaml")
    write(tmp_path, "id: c\nx: " + "[" * 50 + "]" * 50 + "\n", "c.yaml")
    report = PersonaLibrary(tmp_path).check()
    assert list(report.personas) == ["good"]
    assert [Path(f).name for f in report.valid_files] == ["good.yaml"]
    assert [Path(i.file).name for i in report.issues] == ["a.yaml", "b.yaml", "c.yaml"]
    assert "internal error" not in "\n".join(str(i) for i in report.issues)


def test_check_takes_files_and_folders_and_names_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    good = write(tmp_path, GOOD.format(id="p"))
    library = PersonaLibrary(tmp_path / "nowhere")
    report = library.check([good, tmp_path / "empty", tmp_path / "gone.yaml"])
    assert list(report.personas) == ["p"]
    assert [str(i).split(" ", 1)[1] for i in report.issues] == [
        "no persona files found",
        "file not found",
    ]
    assert [str(i) for i in library.check().issues] == [
        f"{tmp_path / 'nowhere'} personas folder not found"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("avatar", "big", "avatar: must be a mapping of fields"),
        ("rubric", "none", "rubric: must be a list"),
        ("style", "[a, b]", "style: must be text"),
        ("time_budget_s", "soon", "time_budget_s: must be a number"),
        ("silence", "{nudge_after_s: 1.5e400}", "silence.nudge_after_s: must be a finite number"),
    ],
)
def test_wrong_types_are_worded_for_people(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, GOOD.format(id="p") + f"{field}: {value}\n"))
    assert [line.endswith(f"p.yaml:17 {message}") for line in str(err.value).splitlines()] == [True]
