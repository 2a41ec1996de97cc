"""Issue 14, "installable anywhere": the wheel install from a fresh venv.

The wheel is built from this checkout the way a release would be (`pip wheel`, with build isolation, so setup.py's
build step copies the default models, forms and the served npm files into the package), installed with its
dependencies into a new venv outside the checkout (from the package index pip is configured with), and run from a
working directory outside the checkout with the defaults (of our RF_* settings only the tests' clock start and a
free port for the mail sink): `rf init --demo`, then `rf serve`, checked over HTTP. Nothing of the checkout is on
that app's path, so whatever it serves came out of the wheel. And a build without node_modules/ stops, saying why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import PROJECT_ROOT
from tests.conftest import START, free_port

pytestmark = pytest.mark.wheel
BUILD_TIMEOUT = 300  # seconds for each of: building the wheel, installing it with its dependencies


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without our venv and without any RF_* setting (the installed app's defaults)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("RF_") and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = BUILD_TIMEOUT) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          check=False)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-5000:]}\n" \
                                 f"{done.stderr[-5000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with the wheel built from the checkout installed in it."""
    root = tmp_path_factory.mktemp("wheel")
    env = _clean_env()
    # setup.py's build and egg_info folders under tmp, not the checkout's build/ (setuptools reads this file)
    config = root / "setup.cfg"
    config.write_text(f"[build]\nbuild_base = {root / 'build'}\n[egg_info]\negg_base = {root}\n")
    env["DIST_EXTRA_CONFIG"] = str(config)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(root / "dist"),
          str(PROJECT_ROOT)], cwd=root, env=env)
    wheels = list((root / "dist").glob("request_fulfillment-*.whl"))
    assert len(wheels) == 1, wheels
    assert wheels[0].stat().st_size < 3 * 1024 * 1024, f"the wheel is {wheels[0].stat().st_size} bytes"
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=root, env=env)
    return venv


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")  # the working directory, outside the checkout: ./instance goes here


def _where(venv: Path, work: Path, env: dict[str, str]) -> dict[str, str]:
    script = ("import json, app, app.config as c; print(json.dumps({'package': app.__file__, "
              "'bpmn': str(c.default_bpmn_dir()), 'forms': str(c.default_forms_dir()), "
              "'bpmn_js': str(c.vendor_dir('bpmn-js')), 'swagger_ui': str(c.vendor_dir('swagger-ui')), "
              "'instance': str(c.Settings.from_env().instance_dir), 'database': c.Settings.from_env().database_url}))")
    return json.loads(_run([str(venv / "bin" / "python"), "-c", script], cwd=work, env=env))


@pytest.fixture(scope="module")
def served(installed: Path, work: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`rf init --demo` then `rf serve` of the installed package, run from `work`: its base URL and what
    `rf init --demo --json` said."""
    env = _clean_env(RF_CLOCK_START=START.isoformat(), RF_SMTP_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    rf = str(installed / "bin" / "rf")
    init = json.loads(_run([rf, "init", "--demo", "--json"], cwd=work, env=env, timeout=120))
    port = free_port()
    log_path = work.parent / f"{work.name}-rf-serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([rf, "serve", "--port", str(port)], cwd=work, env=env,  # noqa: S603
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"rf serve exited:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"rf serve did not answer /health:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield url, init
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _vendor_links(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/vendor/[^"]+)"', html)


def _signed_in(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    login = client.get("/login")
    assert login.status_code == 200 and "Sign in" in login.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token, login.text
    signed = client.post("/login", data={"csrf_token": token.group(1), "username": username, "password": "demo"})
    assert signed.status_code == 302, signed.text
    return client


def test_the_installed_package_reads_its_own_files_and_keeps_its_data_in_the_working_directory(installed, work):
    where = _where(installed, work, _clean_env())
    site = Path(where["package"]).parent.parent
    assert site.is_relative_to(installed) and not site.is_relative_to(PROJECT_ROOT)
    for key in ("bpmn", "forms", "bpmn_js", "swagger_ui"):
        assert Path(where[key]).is_relative_to(site / "app" / "bundled"), (key, where)
    assert Path(where["instance"]) == work / "instance"
    assert where["database"] == f"sqlite:///{work / 'instance' / 'rf.sqlite3'}"
    bundled = site / "app" / "bundled"
    # the bundled models and forms are the checkout's (one source of truth), and so are the served npm files
    assert {p.name: p.read_bytes() for p in (bundled / "bpmn").iterdir()} == {
        p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}
    assert {p.name: p.read_bytes() for p in (bundled / "forms").iterdir()} == {
        p.name: p.read_bytes() for p in (PROJECT_ROOT / "forms").glob("*.json")}
    assert (bundled / "vendor" / "bpmn-js" / "bpmn-navigated-viewer.production.min.js").read_bytes() == (
        PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-navigated-viewer.production.min.js").read_bytes()
    assert not (bundled / "vendor" / "bpmn-js" / "bpmn-modeler.production.min.js").exists()  # in the modeler bundle
    for package in ("bpmn-auto-layout", "bpmn-moddle", "moddle", "moddle-xml", "min-dash", "saxen"):
        assert (bundled / "vendor" / "esm" / package / "index.js").read_bytes() == (
            PROJECT_ROOT / "node_modules" / package / "dist" / "index.js").read_bytes(), package
    for name in ("modeler.js", "modeler.css"):  # the modeler's bundle, built by `make install`
        built = PROJECT_ROOT / "web" / "dist" / name
        assert (bundled / "vendor" / "modeler" / name).read_bytes() == built.read_bytes(), name
    assert not list((bundled / "vendor").rglob("*.map")), "no source maps in the package"
    # RF_INSTANCE_DIR moves the instance folder (and with it the default SQLite file)
    moved = _where(installed, work, _clean_env(RF_INSTANCE_DIR=str(work / "elsewhere")))
    assert moved["instance"] == str(work / "elsewhere") and moved["database"].endswith("/elsewhere/rf.sqlite3")


def test_the_wheel_installed_in_a_fresh_venv_inits_and_serves_diagrams_the_modeler_and_the_api(installed, work,
                                                                                              served):
    url, init = served
    assert init["process_id"] == "request_fulfillment" and init["version"] == 1 and init["deployed"], init
    assert {"mail", "rf.sqlite3", "secret_key"} <= {p.name for p in (work / "instance").iterdir()}
    site = next(installed.glob("lib/python*/site-packages"))
    assert not (site / "instance").exists(), "nothing is written into site-packages"

    assert httpx.get(f"{url}/health").status_code == 200
    olive = _signed_in(url, "olive")  # the process owner: the process pages, the modeler

    # the process was deployed from the bundled models: its files are the package's
    v1 = olive.get("/api/v1/processes/request_fulfillment/versions/1")
    assert v1.status_code == 200, v1.text
    bundled = site / "app" / "bundled"
    files = sorted(d["file"] for d in v1.json()["diagrams"])
    assert files == sorted(p.name for p in (bundled / "bpmn").iterdir())
    for name in files:
        bpmn = olive.get("/api/v1/processes/request_fulfillment/versions/1/bpmn", params={"file": name})
        assert bpmn.status_code == 200 and bpmn.content == (bundled / "bpmn" / name).read_bytes(), name
    assert set(v1.json()["forms"]) == {p.name for p in (bundled / "forms").iterdir()}

    # a version's diagram page and the modeler load bpmn-js (and its styles and fonts) from the package
    links: list[str] = []
    for page in ("/processes/request_fulfillment/versions/1", "/processes/request_fulfillment/versions/1/edit"):
        answer = olive.get(page)
        assert answer.status_code == 200, (page, answer.text[:2000])
        links += _vendor_links(answer.text)
    scripts = [link for link in links if link.endswith(".js")]
    assert "/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in scripts
    assert "/vendor/modeler/modeler.js" in scripts  # bpmn-js's modeler with the properties panel and bpmnlint
    for link in sorted(set(links)):
        answer = olive.get(link)
        assert answer.status_code == 200, link
        if link.endswith(".js"):
            assert "javascript" in answer.headers["content-type"] and len(answer.content) > 100_000, link
        if link.endswith("bpmn.css"):
            for font in set(re.findall(r"url\('\.\./font/([^'?#]+)", answer.text)):
                assert olive.get(link.rsplit("/css/", 1)[0] + f"/font/{font}").status_code == 200, font

    # the API reference: the OpenAPI document and the swagger-ui files the reference page loads
    spec = httpx.get(f"{url}/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")
    reference = httpx.get(f"{url}/api/v1/docs")
    assert reference.status_code == 200
    assets = _vendor_links(reference.text)
    assert {"/vendor/swagger-ui/swagger-ui-bundle.js", "/vendor/swagger-ui/swagger-ui.css"} <= set(assets), assets
    for link in assets:
        answer = httpx.get(f"{url}{link}")
        assert answer.status_code == 200 and len(answer.content) > 10_000, link
        kind = "javascript" if link.endswith(".js") else "css"
        assert kind in answer.headers["content-type"], (link, answer.headers["content-type"])
    assert httpx.get(f"{url}/vendor/swagger-ui/swagger-ui-bundle.js.map").status_code == 404  # not shipped


def test_building_without_node_modules_fails_saying_to_run_npm_ci(tmp_path):
    """The build step never makes a wheel without the front-end files: it stops and says what to do."""
    source = tmp_path / "checkout"
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        (source / name).write_bytes((PROJECT_ROOT / name).read_bytes())
    for folder in ("bpmn", "forms"):
        (source / folder).mkdir()
        for path in (PROJECT_ROOT / folder).iterdir():
            (source / folder / path.name).write_bytes(path.read_bytes())
    for package in ("app", "handlers"):  # the sources only: enough for setuptools to find the packages
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            target = source / path.relative_to(PROJECT_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"),  # noqa: S603
                           str(source)], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, check=False)
    assert done.returncode != 0 and not list((tmp_path / "dist").glob("*.whl"))
    said = done.stdout + done.stderr
    assert "node_modules/bpmn-js/LICENSE is missing (run `npm ci` first, or `make install`)" in said, said
