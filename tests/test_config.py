"""[tool.twinbench]: thresholds (and their fractions) from pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config, parse_fraction
from harness.errors import BadInput


@pytest.mark.parametrize(("text", "value"), [("10%", 0.1), ("0.1", 0.1), (" 12.5% ", 0.125),
                                             ("0", 0.0), (0.2, 0.2), ("150%", 1.5)])
def test_parse_fraction_accepts(text: str | float, value: float) -> None:
    assert parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "-5%", "nan", "inf", "10", "", "%", True, "2000%"])
def test_parse_fraction_refuses(text: str | float) -> None:
    with pytest.raises(BadInput, match="--max-regression"):
        parse_fraction(text)


def test_thresholds_from_pyproject(tmp_path: Path) -> None:
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.twinbench]\nmax-regression = 0.2\n[tool.twinbench.thresholds]\n'
                    '"wl:s1:aiohttp" = "30%"\n"wl:*" = 0.25\n')
    t = load_config(toml).thresholds
    assert (t.default, t.for_key("wl:s1:aiohttp"), t.for_key("wl:s2:x")) == (0.2, 0.3, 0.25)
    assert t.for_key("other:s:x") == 0.2
    assert load_config(toml, max_regression="5%").thresholds.default == 0.05
    assert load_config(tmp_path / "missing.toml").thresholds.default == 0.10
    toml.write_text("[tool.twinbench\n")
    with pytest.raises(BadInput, match="invalid TOML"):
        load_config(toml)
    toml.write_text('[tool.twinbench.thresholds]\n"wl:*" = "lots"\n')
    with pytest.raises(BadInput, match="thresholds 'wl:\\*'"):
        load_config(toml)


def test_repo_pyproject_thresholds_parse() -> None:
    root = Path(__file__).resolve().parents[1]
    assert load_config(root / "pyproject.toml").thresholds.default == pytest.approx(0.10)


