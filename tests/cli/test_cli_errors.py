"""Bad input to the CLI: one clear line on stderr, a non-zero exit, nothing half written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from interview_pipeline.audio import AudioInputError, load_pcm16
from interview_pipeline.simulate import ScriptError, load_script

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "tests" / "fixtures" / "answers"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interview_pipeline.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(body)
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("interview-pipeline: error:")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("- wav: missing.wav\n", ["[0].wav", "file not found"]),
        ("- wav: bad.wav\n", ["[0].wav", "not a readable audio file"]),
        ("- wav: empty.wav\n", ["[0].wav", "empty"]),
        ("- {wav: ok.wav, think_s: -1}\n", ["[0].think_s"]),
        ("- {wav: ok.wav, colour: red}\n", ["[0].colour"]),
        ("wav: [unclosed\n", ["unreadable YAML"]),
        ("[]\n", ["non-empty list"]),
    ],
)
def test_bad_answers_script(tmp_path: Path, body: str, needles: list[str]) -> None:
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not really a wav")
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, dtype=np.int16), 16000)
    sf.write(str(tmp_path / "ok.wav"), np.ones(1600, dtype=np.int16) * 1000, 16000)
    out = tmp_path / "out"
    result = cli(
        "simulate", "--persona", "alex", "--answers", str(script(tmp_path, body)), "--out", str(out)
    )
    assert_one_line_error(result, *needles)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.*"))


def test_unknown_persona(tmp_path: Path) -> None:
    answers = script(tmp_path, f"- wav: {ANSWERS / 'short_ok.wav'}\n")
    result = cli(
        "simulate", "--persona", "nobody", "--answers", str(answers), "--out", str(tmp_path / "o")
    )
    assert_one_line_error(result, "unknown persona 'nobody'", "alex", "maya")
    assert not (tmp_path / "o").exists()


def test_missing_script_file(tmp_path: Path) -> None:
    result = cli(
        "simulate",
        "--persona",
        "alex",
        "--answers",
        str(tmp_path / "nope.yaml"),
        "--out",
        str(tmp_path / "o"),
    )
    assert_one_line_error(result, "nope.yaml", "file not found")


def test_chosen_cloud_provider_without_key(tmp_path: Path) -> None:
    answers = script(tmp_path, f"- wav: {ANSWERS / 'short_ok.wav'}\n")
    env_cmd = [
        sys.executable,
        "-m",
        "interview_pipeline.cli",
        "simulate",
        "--persona",
        "alex",
        "--answers",
        str(answers),
        "--out",
        str(tmp_path / "o"),
    ]
    import os

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["INTERVIEW_STT_PROVIDER"] = "deepgram"
    result = subprocess.run(env_cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert_one_line_error(result, "DEEPGRAM_API_KEY")


def test_stereo_48k_is_resampled_not_rejected(tmp_path: Path) -> None:
    mono = load_pcm16(ANSWERS / "short_ok.wav")
    audio = np.stack([mono, mono], axis=1).astype(np.float32) / 32768
    from soxr import resample

    stereo48 = resample(audio, 16000, 48000)
    sf.write(str(tmp_path / "s.wav"), stereo48, 48000, subtype="PCM_16")
    pcm = load_pcm16(tmp_path / "s.wav")
    assert pcm.dtype == np.int16 and abs(len(pcm) - len(mono)) < 200
    answers = load_script(script(tmp_path, "- {wav: s.wav, think_s: 0.5, text: yes}\n"))
    assert answers[0].think_s == 0.5 and len(answers[0].pcm) == len(pcm)


def test_silent_audio_is_an_error(tmp_path: Path) -> None:
    sf.write(str(tmp_path / "quiet.wav"), np.zeros(16000, dtype=np.int16), 16000)
    with pytest.raises(AudioInputError, match="silent"):
        load_pcm16(tmp_path / "quiet.wav")
    with pytest.raises(ScriptError, match=r"\[0\]\.wav"):
        load_script(script(tmp_path, "- wav: quiet.wav\n"))


def test_personas_validate_cli(tmp_path: Path) -> None:
    ok = cli("personas", "validate")
    assert ok.returncode == 0, ok.stderr
    assert "persona file(s) valid" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "personas" / "maya.yaml").read_text().replace("follow_ups: 1", "follow_ups: -2")
    )
    result = cli("personas", "validate", str(bad))
    assert result.returncode != 0
    assert "bad.yaml:27 questions[0].follow_ups: must be >= 0" in result.stderr
    renamed = tmp_path / "other.yaml"
    renamed.write_text((ROOT / "personas" / "maya.yaml").read_text())
    result = cli("personas", "validate", str(renamed))
    assert result.returncode != 0 and "id: must match the file name" in result.stderr


def _hostile_folder(tmp_path: Path) -> Path:
    """The shipped personas plus one file for each defect reported in issue 11."""
    folder = tmp_path / "personas"
    folder.mkdir()
    maya = (ROOT / "personas" / "maya.yaml").read_text()
    (folder / "maya.yaml").write_text(maya)
    laughs = ["id: lol", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    (folder / "lol.yaml").write_text("\n".join(laughs) + "\n")
    (folder / "deep.yaml").write_text("id: deep\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "ctrl.yaml").write_text(
        maya.replace("id: maya", "id: ctrl").replace("great", "gr\x07eat")
    )
    (folder / "wide.yaml").write_text(
        maya.replace("id: maya", "id: wide").replace(
            "{candidate_name}", "{candidate_name:>99999999}"
        )
    )
    return folder


HOSTILE_PROBLEMS = [
    "personas/ctrl.yaml:15 closing: forbidden character U+0007 at column 42; delete it",
    "personas/deep.yaml:2 x[0][0][0][0][0][0][0][0][0]: nested more than 10 levels deep",
    "personas/lol.yaml:2 a0: anchors (&name) are not allowed; write the value out",
    "personas/wide.yaml:11 opening: format specs (:...) are not allowed in placeholders: "
    "{candidate_name:>99999999}; write {candidate_name}",
    "personas/wide.yaml:14 closing: format specs (:...) are not allowed in placeholders: "
    "{candidate_name:>99999999}; write {candidate_name}",
    "personas/wide.yaml:68 end_screen: format specs (:...) are not allowed in placeholders: "
    "{candidate_name:>99999999}; write {candidate_name}",
]


def test_personas_validate_dir_reports_every_file(tmp_path: Path) -> None:
    _hostile_folder(tmp_path)
    result = cli("personas", "validate", "personas", cwd=tmp_path)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[:-1] == HOSTILE_PROBLEMS
    assert lines[-1] == "interview-pipeline: error: 6 problem(s); 1 of 5 persona file(s) valid"


def test_personas_validate_reads_the_folder_from_the_environment(tmp_path: Path) -> None:
    import os

    _hostile_folder(tmp_path)
    env = {**os.environ, "INTERVIEW_PERSONAS_DIR": str(tmp_path / "personas")}
    result = subprocess.run(
        [sys.executable, "-m", "interview_pipeline.cli", "personas", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[:-1] == HOSTILE_PROBLEMS
