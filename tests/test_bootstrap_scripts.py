"""scripts/_venv.sh, the bootstrap that scripts/run, scripts/test, scripts/check and .ci/run share.

Each test runs the real scripts from a copy of scripts/ in a temporary checkout, with a PATH of stand-ins that make
the machine what the test needs: a python3 without the venv module (as Debian's is until python3-venv is installed),
an apt-get that records what it was asked, root or not, sudo or not. Nothing is installed on the real machine.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("_venv.sh", "run", "test", "check")
# The interpreter behind this test's virtualenv: a venv made from it is an ordinary one.
REAL_PYTHON = getattr(sys, "_base_executable", sys.executable)
TOOLS = ("bash", "sh", "dirname", "cat", "env", "rm", "mkdir", "touch", "ln", "readlink", "sed", "uname")
TIMEOUT_SECONDS = 120


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class Machine:
    """A temporary checkout plus a PATH holding only the tools the scripts use and the stand-ins below."""

    def __init__(self, tmp_path: Path, *, uid: int, sudo: bool, apt_works: bool) -> None:
        self.repo = tmp_path / "checkout"
        (self.repo / "scripts").mkdir(parents=True)
        for name in SCRIPTS:
            shutil.copy2(ROOT / "scripts" / name, self.repo / "scripts" / name)
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.apt_log = tmp_path / "apt.log"
        self.venv_installed = tmp_path / "python3-venv-installed"
        for tool in TOOLS:
            found = shutil.which(tool)
            if found:
                (self.bin / tool).symlink_to(found)
        # python3 lacks `venv`/`ensurepip` until the (stand-in) python3-venv package has been installed.
        _write(
            self.bin / "python3",
            f"""#!/bin/bash
case "$*" in *"import ensurepip, venv"*) [ -f {self.venv_installed} ] || exit 1;; esac
exec {REAL_PYTHON} "$@"
""",
        )
        _write(self.bin / "id", f'#!/bin/bash\n[ "$1" = -u ] && echo {uid}\n')
        touch_on_install = f'[ "$1" = install ] && touch {self.venv_installed}' if apt_works else "exit 100"
        _write(
            self.bin / "apt-get",
            f"""#!/bin/bash
echo "${{SUDO_RAN:-direct}} apt-get $*" >> {self.apt_log}
{touch_on_install}
exit 0
""",
        )
        if sudo:
            _write(self.bin / "sudo", '#!/bin/bash\nSUDO_RAN=sudo exec "$@"\n')

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": str(self.bin), "HOME": str(self.repo), "LANG": os.environ.get("LANG", "C.UTF-8")}
        return subprocess.run(
            [str(self.bin / "bash"), "-c", command],
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )

    def apt_calls(self) -> list[str]:
        return self.apt_log.read_text().splitlines() if self.apt_log.exists() else []


def _venv_has_pip(venv: Path) -> bool:
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import pip"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.parametrize("script", ["scripts/run", "scripts/test", "scripts/check"])
def test_each_script_says_in_one_line_how_to_get_venv_when_it_cannot_install_it(tmp_path: Path, script: str) -> None:
    machine = Machine(tmp_path, uid=1000, sudo=False, apt_works=True)

    result = machine.run(script)

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "sudo apt-get install python3-venv" in last, result.stderr
    assert machine.apt_calls() == []  # not root and no sudo: nothing was attempted
    assert not (machine.repo / ".venv").exists()


def test_a_failing_apt_get_ends_with_the_same_advice(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=0, sudo=False, apt_works=False)

    result = machine.run("scripts/run")

    assert result.returncode == 1
    assert "sudo apt-get install python3-venv" in result.stderr.strip().splitlines()[-1]
    assert machine.apt_calls() == ["direct apt-get update -qq"]


@pytest.mark.parametrize(("uid", "sudo", "how"), [(0, False, "direct"), (1000, True, "sudo")])
def test_the_bootstrap_installs_python3_venv_then_creates_the_venv(
    tmp_path: Path, uid: int, sudo: bool, how: str
) -> None:
    machine = Machine(tmp_path, uid=uid, sudo=sudo, apt_works=True)

    result = machine.run(". scripts/_venv.sh && ensure_venv")

    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == [f"{how} apt-get update -qq", f"{how} apt-get install -y -qq python3-venv"]
    assert _venv_has_pip(machine.repo / ".venv")


def test_a_venv_left_without_pip_is_created_again(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=1000, sudo=False, apt_works=False)
    machine.venv_installed.touch()  # this python3 has venv; the earlier attempt still left a venv without pip
    subprocess.run([REAL_PYTHON, "-m", "venv", "--without-pip", str(machine.repo / ".venv")], check=True)
    assert not _venv_has_pip(machine.repo / ".venv")

    result = machine.run(". scripts/_venv.sh && ensure_venv")

    assert result.returncode == 0, result.stderr
    assert _venv_has_pip(machine.repo / ".venv")
    assert machine.apt_calls() == []
