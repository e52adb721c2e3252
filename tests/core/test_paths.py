from pathlib import Path

from strongroom.core.paths import app_paths


def test_strongroom_home_holds_everything(tmp_path):
    paths = app_paths({"STRONGROOM_HOME": str(tmp_path)})
    for where in paths.describe().values():
        assert Path(where).is_relative_to(tmp_path)


def test_platform_folders_without_strongroom_home(tmp_path):
    paths = app_paths({})
    assert "strongroom" in str(paths.data_dir).lower()
    assert paths.store_dir.parent == paths.data_dir
