"""Settings: config.toml, PAITUI_* overrides, and bad values falling back to defaults."""

from __future__ import annotations

from pathlib import Path

from paitui.settings import Settings, load_settings


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "missing.toml", env={"PAITUI_STATE_DIR": str(tmp_path)})
    assert s.bind_address == "127.0.0.1"
    assert s.models_dir == tmp_path / "models"
    assert s.apps_dir == tmp_path / "apps"
    assert s.problems == ()
    assert s.source is None


def test_file_values_and_env_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'models_dir = "/srv/models"\nbind_address = "0.0.0.0"\nprobe_timeout = 2\n'
        'theme = "paitui-light"\n'
    )
    s = load_settings(cfg, env={"PAITUI_BIND_ADDRESS": "::1", "PAITUI_DOWNLOAD_CONCURRENCY": "4"})
    assert s.models_dir == Path("/srv/models")
    assert s.bind_address == "::1"
    assert s.probe_timeout == 2.0
    assert s.download_concurrency == 4
    assert s.theme == "paitui-light"
    assert s.source == str(cfg)


def test_bad_values_are_reported_and_defaults_used(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'bind_address = "not-an-ip"\nprobe_timeout = -1\nwat = 1\ndownload_concurrency = true\n'
    )
    s = load_settings(cfg, env={"PAITUI_PROBE_READY_INTERVAL": "soon"})
    defaults = Settings()
    assert s.bind_address == defaults.bind_address
    assert s.probe_timeout == defaults.probe_timeout
    assert s.download_concurrency == defaults.download_concurrency
    assert s.probe_ready_interval == defaults.probe_ready_interval
    text = "\n".join(s.problems)
    assert "bind_address = 'not-an-ip'" in text
    assert "probe_timeout = -1: expected a number above 0" in text
    assert "unknown setting 'wat'" in text
    assert "PAITUI_PROBE_READY_INTERVAL='soon'" in text
    assert len(s.problems) == 5


def test_unreadable_toml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("models_dir = [unclosed\n")
    s = load_settings(cfg, env={})
    assert len(s.problems) == 1 and "cannot read it" in s.problems[0]


def test_save_setting_replaces_one_line_and_keeps_the_rest(tmp_path: Path) -> None:
    from paitui.settings import save_setting

    cfg = tmp_path / "config.toml"
    cfg.write_text('# my settings\nmodels_dir = "/srv/m"\ntheme = "paitui-dark"\n')
    save_setting("theme", "paitui-light", cfg)
    assert cfg.read_text() == '# my settings\nmodels_dir = "/srv/m"\ntheme = "paitui-light"\n'
    assert load_settings(cfg, env={}).theme == "paitui-light"
    fresh = tmp_path / "new" / "config.toml"
    save_setting("theme", "paitui-contrast", fresh)
    assert load_settings(fresh, env={}).theme == "paitui-contrast"
