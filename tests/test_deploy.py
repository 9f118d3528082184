"""The container image and the systemd units refer to things that exist and say what production needs.

No docker engine or systemd runs in CI, so these read the files: every file the
Dockerfile copies exists, its entry point is `lotsen kor`, its health check is a
real `lotsen` subcommand, and the units carry the settings docs/drift.md promises.
"""

from __future__ import annotations

import configparser
import json
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from bot.cli.main import build_parser

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _subcommands() -> set[str]:
    parser = build_parser()
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _exec_form(text: str) -> list[str]:
    return json.loads(text) if text.startswith("[") else shlex.split(text)


def test_the_dockerfile_copies_only_files_that_exist():
    copies = [rest for word, rest in _instructions() if word == "COPY" and "--from=" not in rest]
    assert copies
    for rest in copies:
        *sources, _ = shlex.split(rest)
        for source in sources:
            assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for needed in ("bot", "knowledge", "contacts.yaml", "pyproject.toml", "setup.py"):
        assert needed not in ignored


def test_the_image_runs_lotsen_run_as_a_non_root_user_with_data_in_a_volume_and_a_health_check():
    instructions = _instructions()
    bases = [rest for word, rest in instructions if word == "FROM"]
    assert bases and all(base.split()[0] == "python:3.11-slim" for base in bases)
    final = instructions[max(i for i, (word, _) in enumerate(instructions) if word == "FROM"):]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(word == "VOLUME" and "/data" in rest for word, rest in final)
    assert any(word == "ENV" and "LOTSEN_DB=/data/" in rest for word, rest in final)
    entry = _exec_form(next(rest for word, rest in final if word == "ENTRYPOINT"))
    command = _exec_form(next(rest for word, rest in final if word == "CMD"))
    assert entry + command == ["lotsen", "kor"]
    health = next(rest for word, rest in final if word == "HEALTHCHECK")
    check = _exec_form(health.split("CMD", 1)[1].strip())
    assert check[0] == "lotsen" and check[1] in _subcommands() and check[1] == "halsa"


def test_the_compose_examples_run_one_lotsen_with_its_data_volume():
    for name, webhook in (("compose.polling.yaml", False), ("compose.webhook.yaml", True)):
        compose = yaml.safe_load((ROOT / "deploy" / name).read_text(encoding="utf-8"))
        lotsen = compose["services"]["lotsen"]
        assert lotsen["command"][0] == "kor" and lotsen["command"][0] in _subcommands()
        assert "lotsen-data:/data" in lotsen["volumes"]
        assert lotsen["healthcheck"]["test"] == ["CMD", "lotsen", "halsa"]
        assert lotsen["restart"] == "always" and lotsen["stop_grace_period"] == "30s"
        assert "replicas" not in json.dumps(lotsen)
        if webhook:
            assert "--webhook" in lotsen["command"] and "ports" not in lotsen  # only the proxy is public
            assert "443:443" in compose["services"]["proxy"]["ports"]
            caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
            assert "reverse_proxy lotsen:8443" in caddyfile
        else:
            assert "--webhook" not in lotsen["command"] and "ports" not in lotsen


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "deploy" / name).read_text(encoding="utf-8"))
    return unit


def test_the_systemd_unit_restarts_stops_gracefully_and_is_locked_down():
    service = _unit("lotsen.service")["Service"]
    program, *args = service["ExecStart"].split()
    assert Path(program).name == "lotsen" and args == ["kor"]
    assert service["Restart"] == "always"
    assert service["TimeoutStopSec"] == "30"
    assert service["StateDirectory"] == "lotsen"
    assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "root")
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert "LOTSEN_DB=/var/lib/lotsen/" in (ROOT / "deploy" / "lotsen.service").read_text(encoding="utf-8")


def test_the_helper_units_call_real_subcommands_as_the_same_user():
    main_user = _unit("lotsen.service")["Service"]["User"]
    for name, command in (("lotsen-health.service", "halsa"), ("lotsen-backup.service", "sakerhetskopiera")):
        service = _unit(name)["Service"]
        words = service["ExecStart"].split()
        assert Path(words[0]).name == "lotsen" and words[1] == command and command in _subcommands()
        assert service["User"] == main_user and service["StateDirectory"] == "lotsen"
        timer = _unit(name.replace(".service", ".timer"))
        assert "Timer" in timer and timer["Install"]["WantedBy"] == "timers.target"


def test_the_operations_guide_covers_every_deploy_file_and_operator_command():
    guide = (ROOT / "docs" / "drift.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "deploy").iterdir()):
        assert f"deploy/{path.name}" in guide, path.name
    for command in ("lotsen initiera", "lotsen halsa", "lotsen sakerhetskopiera", "lotsen kor", "lotsen kontrollera"):
        assert command in guide, command
    for topic in ("Återställa", "Uppgradera", "/healthz", "LOTSEN_LOG_FORMAT"):
        assert topic in guide, topic
    assert "docs/drift.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def _docker_engine() -> bool:
    import shutil
    import subprocess

    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _docker_engine(), reason="no docker engine on this machine")
def test_the_image_builds_and_runs_lotsen():
    """Where a docker engine exists, the image really builds and its lotsen answers."""
    import subprocess

    build = subprocess.run(["docker", "build", "-q", "-t", "lotsen-test", str(ROOT)], capture_output=True,
                           text=True, timeout=900)
    assert build.returncode == 0, build.stderr
    version = subprocess.run(["docker", "run", "--rm", "lotsen-test", "--version"], capture_output=True,
                             text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("lotsen "), version.stderr
    validate = subprocess.run(["docker", "run", "--rm", "lotsen-test", "kontrollera"], capture_output=True,
                              text=True, timeout=120)
    assert validate.returncode == 0, validate.stderr
