"""The README is executed: its main command runs and every python snippet in it works."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_snippets_and_the_two_commands():
    assert SNIPPETS
    assert "make test" in README and "make demo" in README


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_python_snippet_runs(index, monkeypatch):
    monkeypatch.chdir(ROOT)  # snippets use repo paths such as data_samples/
    exec(compile(SNIPPETS[index], f"README snippet {index}", "exec"), {})


def test_main_command_prints_the_token_usage_the_readme_shows():
    out = subprocess.run([sys.executable, "-m", "elasticast_lite"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    shown = re.search(r"```\n(ElasticAST \(fcfs.*?)```", README, flags=re.S).group(1)
    for line in shown.strip().splitlines():
        assert line in out.splitlines()
    assert "logits (12, 10) in input order" in out
    ffd = subprocess.run([sys.executable, "-m", "elasticast_lite", "--strategy", "ffd"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300).stdout
    rows, pct = re.search(r"into (\d+) rows with (\d+\.\d) % padding", README).groups()
    assert f": {rows} rows x" in ffd and f"({pct} % of computed)" in ffd
