"""aiohttp is the `emulate` extra: polyteam works without it, and `polyteam emulate` says what to install."""

from __future__ import annotations

import subprocess
import sys

from _support import BASE_ENV

#: run with aiohttp made unimportable (None in sys.modules: ModuleNotFoundError, name "aiohttp")
BLOCKED = "import sys; sys.modules['aiohttp'] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **BASE_ENV}
    return subprocess.run(
        [sys.executable, "-c", BLOCKED + code], capture_output=True, text=True, env=env, timeout=60
    )


def test_every_module_outside_the_emulator_imports_without_aiohttp() -> None:
    code = (
        "import pkgutil, importlib, polyteam\n"
        "names = [m.name for m in pkgutil.walk_packages(polyteam.__path__, 'polyteam.')\n"
        "         if not m.name.startswith('polyteam.emulator') and m.name != 'polyteam.commands.emulate']\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 40


def test_emulate_without_aiohttp_is_one_line_naming_the_extra_exit_2() -> None:
    code = "sys.argv = ['polyteam', 'emulate', '--port', '0']\nfrom polyteam.cli import main\nmain()\n"
    done = _python(code)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "polyteam emulate: needs aiohttp, which is not installed; pip install 'polyteam[emulate]'"
    )
    assert done.stdout == ""
