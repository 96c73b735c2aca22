"""
The README's "From Python" example, run as the test it is (from the repository root,
where its artifact path points).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPOSITORY

# The README whose "From Python" section holds the example.
README = Path(os.environ.get("DCOS_E2E_README", REPOSITORY / "README.md"))


def from_python_examples(text: str) -> str:
    """The ```python blocks under the "From Python" heading, as one test module."""
    section = re.search(r"^#+ From Python\s*$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert section, "no 'From Python' section in {}".format(README)
    blocks = re.findall(r"^```python\n(.*?)^```", section.group(1), re.M | re.S)
    assert blocks, "no python code block in the 'From Python' section"
    return "\n\n".join(blocks)


def test_the_readme_examples_pass(tmp_path: Path) -> None:
    example = tmp_path / "test_readme_example.py"
    example.write_text(from_python_examples(README.read_text()))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(example)],
        cwd=str(REPOSITORY),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert result.returncode == 0, result.stdout
    assert "2 passed" in result.stdout
