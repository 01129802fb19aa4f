"""Item 2: bad articles. Each bad file is reported by name with its reason, by `sanad index`
and in the admin's /reindex report; every good file beside them is indexed and answers.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import cli, replies
from retrieval import articles, engine
from tests.reliability.conftest import fake_engine
from tests.reliability.fakesanad import MODEL_NAME, SlowEmbedder

GOOD = (
    "وزارة الزراعة تعلن موسم حصاد قياسيا\n\n"
    "أعلنت وزارة الزراعة الاثنين أن محصول القمح بلغ سبعة ملايين طن هذا العام، "
    "وهو أعلى محصول منذ عقد بفضل الأمطار الغزيرة.\n"
)
NO_TITLE = (
    "قالت هيئة الأرصاد إن موجة حر شديدة ستضرب البلاد نهاية الأسبوع وإن درجات الحرارة "
    "ستتجاوز خمسا وأربعين درجة في المدن الداخلية.\n"
)
# The file name, then the reason `sanad index` gives for it.
BAD = {
    "empty.txt": "empty file",
    "blank.txt": "empty file (only whitespace)",
    "binary.txt": "binary file (contains NUL bytes)",
    "latin1.txt": "not UTF-8 text (byte 0xe9 at offset",
    "utf16-without-bom.txt": "binary file (contains NUL bytes)",
    "huge.txt": "too large (50 MB > 20 MB limit)",
    "unclosed-front-matter.md": "front matter is not valid YAML: no closing '---' line",
    "broken-front-matter.md": "front matter is not valid YAML",
    "vanishing.txt": "file vanished while indexing",
    "loop.txt": "symlink loop",
    "dangling.txt": "broken symlink (its target does not exist)",
    "nested/up": "symlink loop (points back to a folder above it)",
}
GOOD_FILES = ("good.txt", "no-title.txt", "utf16-with-bom.txt", "nested/good.md")


def write_messy_folder(folder: Path) -> None:
    """Every kind of bad file of the issue, beside good ones."""
    (folder / "nested").mkdir(parents=True)
    (folder / "good.txt").write_text(GOOD, "utf-8")
    (folder / "nested" / "good.md").write_text("# سد جديد على النيل\n\n" + NO_TITLE, "utf-8")
    (folder / "no-title.txt").write_text(NO_TITLE, "utf-8")
    (folder / "utf16-with-bom.txt").write_bytes(codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text(" \n\t\n", "utf-8")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "latin1.txt").write_bytes("Résumé: la réunion a été reportée.\n".encode("latin-1"))
    (folder / "utf16-without-bom.txt").write_bytes(GOOD.encode("utf-16-le"))
    with (folder / "huge.txt").open("wb") as huge:
        huge.truncate(50_000_000)  # sparse: 50 MB on paper, nothing on disk
    (folder / "unclosed-front-matter.md").write_text("---\ntitle: بلا نهاية\n" + GOOD, "utf-8")
    (folder / "broken-front-matter.md").write_text(
        "---\ntitle: [عنوان لم يغلق\ndate: 2024-02-30\n---\n" + GOOD, "utf-8"
    )
    (folder / "vanishing.txt").write_text(GOOD.replace("القمح", "الشعير"), "utf-8")
    (folder / "loop.txt").symlink_to("loop.txt")
    (folder / "dangling.txt").symlink_to("nowhere.txt")
    (folder / "nested" / "up").symlink_to("..")  # a folder loop: nothing indexed twice


@pytest.fixture
def messy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "articles"
    write_messy_folder(folder)
    read_bytes: Callable[[Path, int], bytes] = articles._read_bytes

    def vanish_first(path: Path, max_bytes: int) -> bytes:
        if path.name == "vanishing.txt":
            path.unlink(missing_ok=True)  # listed, then deleted before it is read
        return read_bytes(path, max_bytes)

    monkeypatch.setattr(articles, "_read_bytes", vanish_first)
    return folder


def test_sanad_index_names_every_bad_file_and_indexes_every_good_one(
    messy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SANAD_EMBEDDING_MODEL", MODEL_NAME)
    monkeypatch.setattr(engine, "load_embedder", lambda *a, **k: SlowEmbedder())
    data = tmp_path / "data"

    status = cli.main(["index", "--data-dir", str(data), "--source", str(messy)])

    out = capsys.readouterr().out
    assert status == 0, out
    assert "4 added, 0 changed, 0 unchanged, 0 removed, 12 skipped" in out, out
    for name, reason in BAD.items():
        assert f"  skipped {name}: {reason}" in out, (name, out)
    for name in GOOD_FILES:
        assert f" {name}:" not in out, name
    # Every good file answers.
    asker = fake_engine(data, messy)
    assert {a["file"] for a in asker.articles()} == set(GOOD_FILES)
    answer = asker.ask("كم بلغ محصول القمح هذا العام؟")
    assert not answer.refused
    assert answer.citations[0].file in ("good.txt", "utf16-with-bom.txt")
    assert asker.ask("متى تضرب موجة الحر البلاد؟").citations[0].file in GOOD_FILES


def test_the_admins_reindex_report_names_bad_files_too(messy: Path, tmp_path: Path) -> None:
    report = fake_engine(tmp_path / "data", messy).reindex()

    text = replies.plain_text(replies.reindex_report(report, {}))
    assert "ملفات متخطّاة: 12" in text
    # The report shows ten skipped files at most, each by name with its reason.
    shown = [line for line in text.splitlines() if line.lstrip(replies.RLM).startswith("تُخطّي")]
    assert len(shown) == 10
    for line in shown:
        name = line.split()[1].rstrip(":").strip(replies.FSI + replies.PDI)
        assert BAD[name].split(" (")[0] in line, line
