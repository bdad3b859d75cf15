"""Install Backend: pinned, from the first reachable index of the right build, built aside and moved
into place only when it works; and "worker exited" errors that say why. No network, no pip: a fake
base Python stands in for venv + pip (the real install is measured by hand, see the add-on README)."""
from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from styleface_blender import backend, installer

FAKE_PYTHON = r"""#!/bin/sh
# fake interpreter: "-m venv DIR" makes DIR/bin/python (this script); "-m pip" succeeds unless
# FAKE_PIP_FAIL is set; "-c CODE" succeeds unless FAKE_IMPORT_FAIL is set.
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && echo made > "$3/new-env"; exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "Collecting torch==2.13.0"
  if [ -n "$FAKE_PIP_FAIL" ]; then echo "ERROR: No matching distribution found for torch==2.13.0"; exit 1; fi
  exit 0
fi
if [ -n "$FAKE_IMPORT_FAIL" ]; then echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1; fi
exit 0
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake interpreter is a shell script")


@pytest.fixture
def fake_python(tmp_path) -> str:
    p = tmp_path / "fakepython"
    p.write_text(FAKE_PYTHON)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(p)


@pytest.fixture
def old_env(tmp_path) -> Path:
    env = tmp_path / "backend_env"
    (env / "bin").mkdir(parents=True)
    (env / "old-env").write_text("previous install")
    return env


def _install(env: Path, python: str, **kw) -> installer.Installer:
    return installer.Installer(str(env), "CPU", base_python=python, check_reachable=False, **kw).run()


def test_success_replaces_the_environment_atomically(old_env, fake_python):
    inst = _install(old_env, fake_python)
    assert inst.error is None and inst.returncode == 0
    assert (old_env / "new-env").is_file() and not (old_env / "old-env").exists()
    assert not Path(str(old_env) + ".installing").exists() and not Path(str(old_env) + ".old").exists()
    log = Path(inst.log_path).read_text()
    assert log.count(f"-c {installer.CONSTRAINTS}") == 2 and "download.pytorch.org/whl/cpu" in log


@pytest.mark.parametrize("var", ["FAKE_PIP_FAIL", "FAKE_IMPORT_FAIL"])
def test_failure_leaves_the_previous_environment(old_env, fake_python, monkeypatch, var):
    monkeypatch.setenv(var, "1")
    inst = _install(old_env, fake_python)
    assert inst.returncode == 1 and "previous environment is unchanged" in inst.error
    assert ("No matching distribution found" if var == "FAKE_PIP_FAIL" else "No module named 'torch'") in inst.error
    assert (old_env / "old-env").read_text() == "previous install" and not (old_env / "new-env").exists()
    assert not Path(str(old_env) + ".installing").exists()


def test_unreachable_indexes_fail_before_touching_anything(old_env, fake_python):
    inst = installer.Installer(str(old_env), "CPU", base_python=fake_python, choice="CUSTOM",
                               custom_url="http://127.0.0.1:9/simple", fallback=False).run()
    assert "no package index for torch can be reached: custom index" in inst.error
    assert (old_env / "old-env").is_file() and not Path(str(old_env) + ".installing").exists()


def test_index_order_and_fallbacks_keep_the_build():
    def urls(*a, **k):
        return [i.url for i in installer.index_candidates(*a, **k)]
    cpu, pypi = installer.TORCH_INDEX["CPU"], installer.PYPI
    assert urls("CPU", platform="linux") == [cpu]                 # PyPI's Linux torch is CUDA: no fallback
    assert urls("CPU", platform="win32") == [cpu, pypi]
    assert urls("CUDA", platform="linux") == [installer.TORCH_INDEX["CUDA"], pypi]
    assert urls("CPU", choice="CUSTOM", custom_url="https://mirror/simple/", platform="linux") == \
        ["https://mirror/simple", cpu]
    assert urls("CPU", choice="PYPI", fallback=False, platform="linux") == [pypi]
    assert urls("DEFAULT", platform="darwin") == [pypi]
    assert installer.size_text("CPU").startswith("about ")


def test_worker_exit_error_shows_its_last_stderr_lines(fake_python, monkeypatch):
    monkeypatch.setenv("FAKE_IMPORT_FAIL", "1")
    be = backend.Backend()
    with pytest.raises(backend.BackendError) as e:
        be.client(backend.BackendConfig(python=fake_python))
    text = str(e.value)
    assert "exited with status 1" in text.splitlines()[0] and "No module named 'torch'" in text
    assert not be.running


def test_backend_actions_report_in_the_preferences(fake_python, monkeypatch, bpy_clean):
    """Refused install, failed test, release: each result shows in the preferences and replaces the
    previous one; the sidebar panel's message is left alone."""
    import styleface_blender
    from styleface_blender.state import STATE
    bpy = bpy_clean
    styleface_blender.register()
    try:
        STATE.set_panel(message="3 faces built")
        assert not bpy.app.online_access  # as in a Blender whose user has not allowed online access
        with pytest.raises(RuntimeError, match="Online access is disabled"):  # the operator's report
            bpy.ops.styleface.install_backend("EXEC_DEFAULT")
        assert STATE.prefs_error.startswith("Online access is disabled") and STATE.installer is None
        monkeypatch.setenv("STYLEFACE_BACKEND_PYTHON", fake_python)
        monkeypatch.setenv("FAKE_IMPORT_FAIL", "1")
        with pytest.raises(RuntimeError):  # the operator reports an error
            bpy.ops.styleface.test_backend()
        assert STATE.prefs_error.startswith("Test failed:") and "No module named 'torch'" in STATE.prefs_error
        assert bpy.ops.styleface.release_backend() == {"FINISHED"}
        assert STATE.prefs_error == "" and STATE.prefs_message == "Backend was not running"
        assert STATE.message == "3 faces built"
    finally:
        STATE.set_prefs()
        STATE.set_panel()
        styleface_blender.unregister()
