"""The app as carried onto an isolated machine: the bundle and the wheelhouse are built,
checked with Strongroom's own manifests and with sha256sum, refused when changed, and
pass their self-test with no network (a new network namespace).

These build real artefacts (about a minute) and are run by `make package-check`, after
the main suite, not by `make test`.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import DEMO_MODEL, REPO

pytestmark = pytest.mark.packaging
BUNDLE = REPO / "dist" / "strongroom"
WHEELHOUSE = REPO / "dist" / "wheelhouse"


def run(*command, env=None, cwd=REPO, timeout=900):
    return subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def offline(*command, home, **kwargs):
    """Run ``command`` in a new network namespace: no network device but loopback."""
    env = {"STRONGROOM_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return run("unshare", "--net", "--", *command, env=env, **kwargs)


@pytest.fixture(scope="module")
def officer(tmp_path_factory):
    """The officer key the builds sign with: (private, public, passphrase file)."""
    from tests.helpers.officer import PASSPHRASE, officer_key

    folder = tmp_path_factory.mktemp("officer")
    private, public, _ = officer_key(folder)
    passphrase = folder / "passphrase.txt"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    return private, public, passphrase


def signing_env(officer) -> dict:
    private, _, passphrase = officer
    return {"STRONGROOM_SIGNING_KEY": str(private),
            "STRONGROOM_SIGNING_PASSPHRASE_FILE": str(passphrase)}


@pytest.fixture(scope="module")
def bundle(officer):
    result = run("packaging/build_bundle.sh", env=signing_env(officer))
    assert result.returncode == 0, result.stderr[-4000:]
    return BUNDLE


@pytest.fixture(scope="module")
def wheelhouse(officer):
    result = run("packaging/build_wheelhouse.sh", env=signing_env(officer))
    assert result.returncode == 0, result.stderr[-4000:]
    return WHEELHOUSE


def trusting_home(home, officer):
    """A STRONGROOM_HOME whose trust list holds the officer's key."""
    added = run(sys.executable, "-m", "strongroom", "trust", "add", str(officer[1]),
                "--name", "Build Officer", env={"STRONGROOM_HOME": str(home)})
    assert added.returncode == 0, added.stderr
    return home


def test_the_network_namespace_really_has_no_network(tmp_path):
    result = offline(sys.executable, "-c", "import socket; s = socket.socket(); "
                     "s.settimeout(3); print(s.connect_ex(('192.0.2.1', 80)))", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "101"  # ENETUNREACH: there is no route at all


def test_the_bundle_verifies_and_passes_its_self_test_offline(bundle, officer, tmp_path):
    home = trusting_home(tmp_path / "verifier", officer)
    verified = run(sys.executable, "-m", "strongroom", "verify", str(bundle),
                   env={"STRONGROOM_HOME": str(home)})
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Nothing is missing, changed or extra" in verified.stdout
    assert "SIGNED             model.sig: by Build Officer" in verified.stdout
    assert run("sha256sum", "--check", "--strict", "--quiet", "checksums.sha256", cwd=bundle).returncode == 0
    assert not [p for p in bundle.rglob("*") if p.is_symlink()]
    libraries = {p.name for p in (bundle / "_internal" / "llama_cpp" / "lib").iterdir()}
    assert {"libllama.so", "libggml.so.0", "libggml-base.so.0", "libggml-cpu.so.0"} <= libraries
    assert list((bundle / "_internal").rglob("libgomp*")), "libgomp is not in the bundle"
    platforms = {p.name for p in (bundle / "_internal").rglob("platforms/*.so")}
    assert {"libqxcb.so", "libqoffscreen.so"} <= platforms
    result = offline(str(bundle / "strongroom"), "--self-test", "--model", str(DEMO_MODEL),
                     home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK      model:" in result.stdout and result.stdout.strip().endswith("Self-test passed.")


@pytest.mark.parametrize("damage", ["changed", "missing", "extra"])
def test_a_damaged_bundle_is_refused_naming_the_file(bundle, tmp_path, damage):
    copy = tmp_path / "strongroom"
    shutil.copytree(bundle, copy)
    victim = copy / "_internal" / "resources" / "strongroom.qss"
    if damage == "changed":  # same size, different bytes: found by the checksum, not the size
        victim.write_bytes(victim.read_bytes().replace(b"$role", b"$text", 1))
    elif damage == "missing":
        victim.unlink()
    else:
        (copy / "_internal" / "sitecustomize.py").write_text("print('injected')\n")
    result = run(sys.executable, "-m", "strongroom", "verify", str(copy),
                 env={"STRONGROOM_HOME": str(tmp_path / "verifier")})
    assert result.returncode == 1
    named = "sitecustomize.py" if damage == "extra" else "resources/strongroom.qss"
    expected = {"changed": "CHECKSUM MISMATCH", "missing": "MISSING", "extra": "EXTRA"}[damage]
    assert any(expected in line and named in line for line in result.stdout.splitlines()), result.stdout


def test_the_wheelhouse_installs_offline_and_passes_its_self_test(wheelhouse, officer, tmp_path):
    assert run("sha256sum", "--check", "--strict", "--quiet", "checksums.sha256",
               cwd=wheelhouse).returncode == 0
    target = tmp_path / "app"
    result = offline(str(wheelhouse / "install.sh"), "--trust", str(officer[1]), str(target),
                     home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(f"Installed. Start Strongroom with: {target}/bin/strongroom")
    answered = offline(str(target / "bin" / "strongroom"), "--self-test", "--model", str(DEMO_MODEL),
                       home=tmp_path / "home")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    # The inference server's part comes from the same wheelhouse, pinned by hash, offline.
    server_part = offline(str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--no-index", "--require-hashes", "--find-links", str(wheelhouse),
                          "-r", str(wheelhouse / "server-requirements.txt"), home=tmp_path / "home")
    assert server_part.returncode == 0, server_part.stdout + server_part.stderr
    served = offline(str(target / "bin" / "python"), "-c", "import llama_cpp.server.app, uvicorn",
                     home=tmp_path / "home")
    assert served.returncode == 0, served.stdout + served.stderr


@pytest.mark.parametrize("damage", ["changed", "missing", "extra"])
def test_a_damaged_wheelhouse_installs_nothing(wheelhouse, officer, tmp_path, damage):
    copy = tmp_path / "wheelhouse"
    shutil.copytree(wheelhouse, copy)
    wheel = next(copy.glob("gguf-*.whl"))
    if damage == "changed":
        with open(wheel, "r+b") as handle:
            handle.seek(100)
            handle.write(b"\x00")
    elif damage == "missing":
        wheel.unlink()
    else:
        (copy / "evil-1.0-py3-none-any.whl").write_bytes(b"not a wheel")
    target = tmp_path / "app"
    result = offline(str(copy / "install.sh"), "--trust", str(officer[1]), str(target),
                     home=tmp_path / "home")
    assert result.returncode == 1
    named = "evil-1.0-py3-none-any.whl" if damage == "extra" else wheel.name
    assert named in result.stdout + result.stderr
    assert "Nothing was installed" in result.stderr
    assert not target.exists()


def hostile_copy(wheelhouse, tmp_path):
    """A self-consistent hostile wheelhouse: a wheel changed and checksums.sha256 rewritten to
    match, as an attacker holding the drive would."""
    copy = tmp_path / "wheelhouse"
    shutil.copytree(wheelhouse, copy)
    wheel = next(copy.glob("gguf-*.whl"))
    with open(wheel, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00")
    listed = run("bash", "-c", "find . -type f ! -name checksums.sha256 ! -name airgap_manifest.json "
                 "! -name '*.sig' -printf '%P\\n' | sort | xargs sha256sum", cwd=copy)
    (copy / "checksums.sha256").write_text(listed.stdout)
    assert run("sha256sum", "--check", "--strict", "--quiet", "checksums.sha256", cwd=copy).returncode == 0
    return copy


@pytest.mark.parametrize("attack", ["self-consistent", "unsigned", "other key", "no --trust",
                                    "key from the wheelhouse"])
def test_the_installer_refuses_what_the_officer_did_not_sign(wheelhouse, officer, tmp_path, attack):
    copy = hostile_copy(wheelhouse, tmp_path) if attack == "self-consistent" else tmp_path / "wheelhouse"
    if attack != "self-consistent":
        shutil.copytree(wheelhouse, copy)
    key = officer[1]
    if attack == "unsigned":
        (copy / "checksums.sha256.sig").unlink()
    elif attack == "other key":
        from tests.helpers.officer import officer_key

        key = officer_key(tmp_path / "other")[1]
    elif attack == "key from the wheelhouse":
        key = copy / "officer.pub.pem"
        shutil.copy(officer[1], key)
    arguments = [] if attack == "no --trust" else ["--trust", str(key)]
    target = tmp_path / "app"
    result = offline(str(copy / "install.sh"), *arguments, str(target), home=tmp_path / "home")
    assert result.returncode != 0
    assert "REFUSED" in result.stderr and "Nothing was installed" in result.stderr, result.stderr
    assert not target.exists()
