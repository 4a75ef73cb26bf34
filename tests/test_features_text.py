"""Text feature extractors (Doc2Vec, bag of words, sentence embeddings) and per-view PCA.

Real text: gensim's Lee background corpus (300 news articles) and hand-made captions.
"""

from __future__ import annotations

import numpy as np
import pytest
from gensim.test.utils import datapath
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from mmclust.data.dataset import DatasetError
from mmclust.features.reduce import pca_reduce
from mmclust.features.text import bow_features, doc2vec_features, sentence_features, tokenize

CAPTIONS = np.array(
    [
        "a red stop sign on a street corner",
        "a giraffe standing next to a tall tree",
        "",  # missing caption
        "two giraffes eating leaves from a tree",
        "a stop sign in front of a red brick building",
        "a large pizza with cheese and tomatoes",
        "",  # missing caption
        "a pizza on a plate next to a glass of beer",
        "an airplane flying over the clouds",
        "a jet airplane parked at the airport gate",
    ]
)
MASK = CAPTIONS != ""


@pytest.fixture(scope="module")
def lee() -> tuple[np.ndarray, np.ndarray]:
    """The first 120 Lee articles, every fifth one marked missing (and blanked)."""
    with open(datapath("lee_background.cor"), encoding="utf8") as fh:
        docs = np.array([line.strip() for line in fh][:120])
    mask = np.ones(len(docs), dtype=bool)
    mask[::5] = False
    docs[~mask] = ""
    return docs, mask


@pytest.mark.parametrize("dm", [0, 1])
def test_doc2vec_shape_zero_rows_and_determinism(lee, dm):
    docs, mask = lee
    kw = {"vector_size": 16, "min_count": 2, "epochs": 5, "dm": dm, "seed": 3, "workers": 1}
    a = doc2vec_features(docs, mask, **kw)
    b = doc2vec_features(docs, mask, **kw)
    assert a.shape == (120, 16) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)  # same seed, one worker: bit-identical
    assert not a[~mask].any()  # missing captions: zero rows
    assert np.isfinite(a).all() and (np.abs(a[mask]).sum(1) > 0).all()
    assert np.unique(a[mask], axis=0).shape[0] == mask.sum()  # one vector per document
    c = doc2vec_features(docs, mask, **{**kw, "seed": 4})
    assert not np.array_equal(a, c)  # the seed matters


def test_doc2vec_learns_something_from_the_captions():
    # each caption four times: its nearest neighbour (cosine, centred vectors) is a copy of it
    texts = np.array(list(CAPTIONS[MASK]) * 4)
    mask = np.ones(len(texts), dtype=bool)
    v = doc2vec_features(texts, mask, vector_size=12, min_count=1, epochs=200, dm=0, seed=0)
    v = v - v.mean(0)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    n = MASK.sum()
    same = sim.argmax(1) % n == np.arange(len(texts)) % n
    assert same.mean() >= 0.9


def test_doc2vec_errors():
    with pytest.raises(DatasetError, match="min_count"):
        doc2vec_features(CAPTIONS, MASK, min_count=50, epochs=1)
    with pytest.raises(DatasetError, match="no present caption"):
        doc2vec_features(CAPTIONS, np.zeros(len(CAPTIONS), bool))
    with pytest.raises(DatasetError, match="mask must have shape"):
        doc2vec_features(CAPTIONS, MASK[:3])


# the extractors' tokeniser: numerals and one-letter words are kept
PROJECT_TOKENS = {"tokenizer": tokenize, "token_pattern": None, "lowercase": False}


def test_tokenizer_keeps_numerals_and_short_words():
    assert tokenize("The digit 7, a Café!") == ["the", "digit", "7", "a", "cafe"]


@pytest.mark.parametrize(("binary", "tfidf"), [(False, False), (True, False), (False, True)])
def test_bow_is_fitted_on_the_fitting_rows_only(binary, tfidf):
    fit = np.zeros(len(CAPTIONS), dtype=bool)
    fit[:6] = True  # the "training split": no airplane captions among them
    X = bow_features(CAPTIONS, MASK, vocab_size=8, binary=binary, tfidf=tfidf, fit_mask=fit)
    cls = TfidfVectorizer if tfidf else CountVectorizer
    ref = cls(max_features=8, binary=binary, **PROJECT_TOKENS).fit(CAPTIONS[fit & MASK])
    assert "airplane" not in ref.vocabulary_
    assert X.shape == (10, len(ref.vocabulary_)) and X.dtype == np.float32
    np.testing.assert_allclose(X[MASK], ref.transform(CAPTIONS[MASK]).toarray(), rtol=1e-6)
    assert not X[~MASK].any()
    assert not X[8].any()  # "an airplane flying over the clouds": no training word
    # with fit_mask=None the test rows shape the vocabulary too
    full = bow_features(CAPTIONS, MASK, vocab_size=100, binary=binary, tfidf=tfidf)
    assert full.shape[1] > X.shape[1] and full[8].any()
    if binary:
        assert set(np.unique(X)) <= {0.0, 1.0}


def test_bow_pca_is_fitted_on_the_fitting_rows_only(lee):
    docs, mask = lee
    fit = np.arange(len(docs)) < 80
    X = bow_features(docs, mask, vocab_size=300, pca_dim=10, fit_mask=fit)
    tf = TfidfVectorizer(max_features=300, **PROJECT_TOKENS).fit(docs[fit & mask])
    dense = tf.transform(docs[mask]).toarray()
    pca = PCA(n_components=10).fit(dense[fit[mask]])
    ref = pca.transform(dense)
    assert X.shape == (120, 10) and X.dtype == np.float32 and not X[~mask].any()
    # principal axes are defined up to sign
    signs = np.sign((X[mask] * ref).sum(0))
    np.testing.assert_allclose(X[mask], ref * signs, rtol=1e-3, atol=1e-5)
    assert np.abs(X[fit & mask].mean(0)).max() < 1e-6  # centred on the fitting rows
    assert np.abs(X[~fit & mask].mean(0)).max() > 1e-3  # ... not on the others

    svd = bow_features(docs, mask, vocab_size=300, pca_dim=10, fit_mask=fit, reducer="svd")
    assert svd.shape == (120, 10) and np.isfinite(svd).all()
    with pytest.raises(DatasetError, match="lower pca_dim"):
        bow_features(docs, mask, vocab_size=300, pca_dim=500, fit_mask=fit)
    with pytest.raises(DatasetError, match="fitting rows"):
        bow_features(docs, mask, fit_mask=np.zeros(len(docs), bool))


def test_sentence_embeddings_offline():
    texts = np.array(
        [
            "a dog runs across the park",
            "a puppy is running on the grass",
            "",
            "stock markets fell sharply on tuesday",
        ]
    )
    mask = texts != ""
    E = sentence_features(texts, mask, batch_size=2, device="cpu", progress=False)
    assert E.shape == (4, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E[mask], axis=1), 1.0, rtol=1e-5)
    assert not E[2].any()
    assert E[0] @ E[1] > E[0] @ E[3] + 0.3  # the dog sentences are the similar pair
    again = sentence_features(texts, mask, batch_size=1, device="cpu", progress=False)
    np.testing.assert_allclose(again, E, atol=1e-5)


def test_pca_reduce_is_fitted_on_the_training_rows_only():
    rng = np.random.default_rng(0)
    n, d = 60, 12
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    mask = rng.random(n) > 0.2
    split = np.where(np.arange(n) < 40, "train", "test")
    train = split == "train"
    out = pca_reduce(X, mask, 5, fit_rows=train, seed=0)
    ref = PCA(n_components=5, random_state=0).fit(X[train & mask]).transform(X[mask])
    assert out.shape == (n, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out[mask], ref, rtol=1e-5, atol=1e-5)
    assert not out[~mask].any()
    # integer indices select the same rows
    np.testing.assert_array_equal(pca_reduce(X, mask, 5, fit_rows=np.flatnonzero(train)), out)
    # without a split: every present row
    allrows = PCA(n_components=5, random_state=0).fit(X[mask]).transform(X[mask])
    np.testing.assert_allclose(pca_reduce(X, mask, 5)[mask], allrows, rtol=1e-5, atol=1e-5)
    assert not np.allclose(allrows, ref, atol=1e-3)  # and that is a different projection
    with pytest.raises(DatasetError, match="lower the configured dimension"):
        pca_reduce(X, mask, 13, fit_rows=train)
    with pytest.raises(DatasetError, match="no present sample"):
        pca_reduce(X, mask, 2, fit_rows=~mask)


def test_strip_accents_matches_gensims_deaccent():
    """The bag of words tokenises without gensim, exactly as gensim's ``deaccent`` would."""
    from mmclust.features.text import strip_accents

    deaccent = pytest.importorskip("gensim.utils").deaccent
    for text in [
        "Café crème brûlée",
        "Šéf chomutovských komunistů",
        "naïve Zoë façade",
        "ﬁ ligature, Å, ǅ, e\u0301 (combining)",
        "日本語のテキスト",
        "plain ascii 7",
        "",
    ]:
        assert strip_accents(text) == deaccent(text)
    assert strip_accents("Ångström") == "Angstrom"
