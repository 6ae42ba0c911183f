"""finbench data check: a file without a final newline is cut short only when its last record is not whole (two of
MMLU's published test CSVs end without one)."""

import pytest

from finbench.data.check import last_record_whole
from helpers import cli, real_data_dir

ROWS = 'q1,a,b,c,d,A\r\n"two\nlines",a,b,c,d,D\r\nq3,"x, y",b,c,d,B'


@pytest.mark.parametrize(
    "name, text, whole",
    [
        ("mmlu.csv", ROWS, True),  # as published: CRLF rows, a quoted newline, no final newline
        ("mmlu.csv", ROWS[:-1], False),  # cut after the last comma: the answer is gone
        ("mmlu.csv", ROWS[: ROWS.index("x, y") + 2], False),  # cut inside a quoted field
        ("mmlu.csv", ROWS[: ROWS.rindex(",c,")], False),  # cut mid-row: too few fields
        ("t.tsv", "a\tb\nc\td", True),
        ("t.tsv", "a\tb\nc", False),
        ("t.jsonl", '{"a": 1}\n{"a": 2}', True),
        ("t.jsonl", '{"a": 1}\n{"a": ', False),
        ("t.txt", "a sentence@neutral", False),  # plain text: no record structure to check
    ],
)
def test_last_record_whole(tmp_path, name, text, whole):
    path = tmp_path / name
    path.write_bytes(text.encode())
    assert last_record_whole(path) is whole


def test_data_check_passes_the_published_mmlu_files_without_a_final_newline():
    real = real_data_dir()
    if real is None or not (real / "knowledge" / "mmlu_finance" / "test").is_dir():
        pytest.skip("needs the real data (FINBENCH_DATA_DIR)")
    proc = cli("data", "check", "--data-dir", real)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("mmlu_finance "))
    assert line.split()[1:5] == ["found", "20", "112", "1024"], line
    assert "looks truncated" not in proc.stdout
