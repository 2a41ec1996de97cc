"""Where the app finds its files and keeps its data, in a checkout (the installed package: tests/packaging)."""

from __future__ import annotations

from pathlib import Path

from app.config import PROJECT_ROOT, Settings, bundled, default_bpmn_dir, default_forms_dir, vendor_dir


def test_a_checkout_reads_its_own_folders_and_keeps_its_data_in_its_instance_folder():
    assert bundled() is None  # only a built package has app/bundled/
    settings = Settings.from_env({})
    assert settings.bpmn_dir == default_bpmn_dir() == PROJECT_ROOT / "bpmn"
    assert settings.forms_dir == default_forms_dir() == PROJECT_ROOT / "forms"
    assert vendor_dir("bpmn-js") == PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist"
    assert vendor_dir("swagger-ui") == PROJECT_ROOT / "node_modules" / "swagger-ui-dist"
    assert settings.instance_dir == PROJECT_ROOT / "instance"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'rf.sqlite3'}"


def test_the_environment_moves_the_instance_folder_the_models_and_the_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"RF_INSTANCE_DIR": "data", "RF_BPMN_DIR": "/srv/models", "RF_FORMS_DIR": "forms"})
    assert settings.instance_dir == tmp_path / "data"  # relative: to the working directory, made absolute at once
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'rf.sqlite3'}"
    assert (settings.bpmn_dir, settings.forms_dir) == (Path("/srv/models"), Path("forms"))
    # RF_DATABASE_URL wins over the instance folder's SQLite file
    assert Settings.from_env({"RF_INSTANCE_DIR": "data", "RF_DATABASE_URL": "sqlite://"}).database_url == "sqlite://"
    # empty means unset
    assert Settings.from_env({"RF_INSTANCE_DIR": "", "RF_BPMN_DIR": ""}).bpmn_dir == PROJECT_ROOT / "bpmn"
