"""Hand-computed checks of the external clustering metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmclust.metrics import (
    accuracy,
    adjusted_rand,
    contingency,
    evaluate,
    nmi,
    pairwise_scores,
    purity,
)

SCORES = ["acc", "nmi", "nmi_geometric", "ari", "purity", "precision", "recall", "fscore"]


# -- contingency ------------------------------------------------------------------


def test_contingency_counts_class_by_cluster():
    # arbitrary ids are mapped to 0.. in sorted order: classes (3, 7), clusters (-1, 5, 9)
    c = contingency([7, 7, 3, 3, 3], [5, 9, 5, -1, -1])
    assert c.tolist() == [[2, 1, 0], [0, 1, 1]]


# -- accuracy (Hungarian) -----------------------------------------------------------


def test_accuracy_same_number_of_clusters_and_classes():
    # classes  0 0 0 1 1 1 2 2 2
    # clusters 2 2 1 1 1 1 0 0 0
    # contingency (rows = class, cols = cluster):
    #   class 0: [0, 1, 2]
    #   class 1: [0, 3, 0]
    #   class 2: [3, 0, 0]
    # best one-to-one map 0->2, 1->1, 2->0 covers 2 + 3 + 3 = 8 of 9 points
    assert accuracy([0, 0, 0, 1, 1, 1, 2, 2, 2], [2, 2, 1, 1, 1, 1, 0, 0, 0]) == pytest.approx(
        8 / 9
    )


def test_accuracy_more_clusters_than_classes():
    # classes  0 0 0 0 1 1 1 1
    # clusters 0 0 1 1 2 2 2 3
    # class 0: [2, 2, 0, 0]; class 1: [0, 0, 3, 1]
    # only two clusters can be matched: class 0 -> cluster 0 (2), class 1 -> cluster 2 (3);
    # the points of the two unmatched clusters count as errors: 5 / 8
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    p = [0, 0, 1, 1, 2, 2, 2, 3]
    assert accuracy(y, p) == pytest.approx(5 / 8)
    # purity, in contrast, lets several clusters map to one class: (2 + 2 + 3 + 1) / 8
    assert purity(y, p) == pytest.approx(1.0)


def test_accuracy_fewer_clusters_than_classes():
    # classes  0 0 1 1 2 2
    # clusters 0 0 0 0 1 1
    # class 0: [2, 0]; class 1: [2, 0]; class 2: [0, 2]
    # one of classes 0/1 is left unmatched: (2 + 2) / 6
    assert accuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1]) == pytest.approx(4 / 6)


def test_accuracy_single_cluster():
    assert accuracy([0, 1, 1, 1], [0, 0, 0, 0]) == pytest.approx(3 / 4)


# -- NMI ---------------------------------------------------------------------------


def test_nmi_arithmetic_and_geometric_by_hand():
    # classes  Y = 0 0 1 1      clusters C = 0 0 0 1
    # joint probabilities: p(0,0) = 1/2, p(1,0) = 1/4, p(1,1) = 1/4
    # marginals: p(Y) = (1/2, 1/2), p(C) = (3/4, 1/4)
    #
    # H(Y) = ln 2                                       = 0.693147
    # H(C) = -(3/4 ln 3/4 + 1/4 ln 1/4) = 2 ln 2 - 3/4 ln 3 = 0.562335
    # I(Y;C) = 1/2 ln((1/2)/(1/2*3/4)) + 1/4 ln((1/4)/(1/2*3/4)) + 1/4 ln((1/4)/(1/2*1/4))
    #        = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2
    #        = 3/2 ln 2 - 3/4 ln 3                    = 0.215762
    # (check: H(C|Y) = 1/2 * 0 + 1/2 * ln 2, and H(C) - H(C|Y) = 0.562335 - 0.346574)
    #
    # arithmetic: I / ((H(Y) + H(C)) / 2) = 0.215762 / 0.627741 = 0.343711
    # geometric:  I / sqrt(H(Y) H(C))     = 0.215762 / 0.624325 = 0.345592
    h_y = math.log(2)
    h_c = 2 * math.log(2) - 0.75 * math.log(3)
    mi = 1.5 * math.log(2) - 0.75 * math.log(3)
    assert h_c == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert mi == pytest.approx(h_c - 0.5 * math.log(2))

    y, p = [0, 0, 1, 1], [0, 0, 0, 1]
    arithmetic = nmi(y, p)
    geometric = nmi(y, p, average="geometric")
    assert arithmetic == pytest.approx(mi / ((h_y + h_c) / 2))
    assert geometric == pytest.approx(mi / math.sqrt(h_y * h_c))
    assert arithmetic == pytest.approx(0.343711, abs=1e-6)
    assert geometric == pytest.approx(0.345592, abs=1e-6)
    # the arithmetic mean of two entropies is never below their geometric mean
    assert arithmetic < geometric
    assert nmi(y, p, "arithmetic") == arithmetic


def test_nmi_unknown_average_raises():
    with pytest.raises(ValueError, match="average_method"):
        nmi([0, 1], [0, 1], average="bogus")


# -- ARI ---------------------------------------------------------------------------


def test_adjusted_rand_by_hand():
    # classes  0 0 0 1 1 1      clusters 0 0 1 1 2 2
    # contingency: class 0: [2, 1, 0]; class 1: [0, 1, 2]
    # sum_ij C(n_ij, 2) = 1 + 0 + 0 + 1             = 2
    # sum_i C(a_i, 2)   = C(3,2) + C(3,2)           = 6
    # sum_j C(b_j, 2)   = 3 * C(2,2)                = 3
    # C(n, 2)           = C(6, 2)                   = 15
    # expected = 6 * 3 / 15 = 1.2, max = (6 + 3) / 2 = 4.5
    # ARI = (2 - 1.2) / (4.5 - 1.2) = 0.8 / 3.3 = 8/33
    assert adjusted_rand([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(8 / 33)


def test_adjusted_rand_can_be_negative():
    # every pair that shares a class is split, every same-cluster pair mixes classes
    assert adjusted_rand([0, 0, 1, 1], [0, 1, 0, 1]) < 0


# -- pair counting -------------------------------------------------------------------


def test_pairwise_scores_by_hand():
    # samples a b c | d e f with classes 0 0 0 | 1 1 1 and clusters {a,b} {c,d} {e,f}
    # same-cluster pairs: ab, cd, ef                 -> 3
    # same-class pairs:   ab, ac, bc, de, df, ef     -> 6
    # both (true positives): ab, ef                  -> 2
    # precision = 2/3, recall = 2/6, F = 2 * (2/3)(1/3) / (2/3 + 1/3) = 4/9
    s = pairwise_scores([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["fscore"] == pytest.approx(4 / 9)


def test_pairwise_scores_all_singletons_is_zero_not_nan():
    # no two points share a cluster: precision is defined as 0, and so is F
    s = pairwise_scores([0, 0, 1, 1], [0, 1, 2, 3])
    assert s == {"precision": 0.0, "recall": 0.0, "fscore": 0.0}


def test_pairwise_scores_one_cluster():
    # one cluster of 4: 6 same-cluster pairs, same-class pairs 1 + 1 = 2, both 2
    s = pairwise_scores([0, 0, 1, 1], [5, 5, 5, 5])
    assert s["precision"] == pytest.approx(2 / 6)
    assert s["recall"] == pytest.approx(1.0)
    assert s["fscore"] == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))


# -- purity ------------------------------------------------------------------------


def test_purity_by_hand():
    # clusters {0,0} {0,1} {1,1}: majorities 2 + 1 + 2 = 5 of 6
    assert purity([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(5 / 6)
    # one cluster holding everything: the majority class share
    assert purity([0, 0, 0, 1], [0, 0, 0, 0]) == pytest.approx(3 / 4)


# -- invariances and perfect labelling -----------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_invariant_to_relabelling(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=60)
    p = rng.integers(0, 5, size=60)
    base = evaluate(y, p)

    cluster_perm = rng.permutation(5)
    class_perm = rng.permutation(4)
    # also move the ids away from 0..k-1: arbitrary integer labels
    relabelled_p = cluster_perm[p] * 7 + 100
    relabelled_y = class_perm[y] * -3 + 11

    for yy, pp in [(y, relabelled_p), (relabelled_y, p), (relabelled_y, relabelled_p)]:
        scores = evaluate(yy, pp)
        assert scores.keys() == base.keys()
        for key, value in base.items():
            assert scores[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_labelling_gives_one_everywhere():
    y = np.repeat([0, 1, 2, 3], 5)
    p = np.array([3, 0, 2, 1])[y] + 10  # the same partition under other ids
    scores = evaluate(y, p)
    for key in SCORES:
        assert scores[key] == pytest.approx(1.0), key
    assert scores["n_clusters_found"] == 4.0


def test_evaluate_keys_and_cluster_count():
    scores = evaluate([0, 0, 1, 1], [0, 1, 1, 7])
    assert set(scores) == {*SCORES, "n_clusters_found"}
    assert scores["n_clusters_found"] == 3.0
    assert all(isinstance(v, float) for v in scores.values())


# -- input checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn", [accuracy, nmi, adjusted_rand, pairwise_scores, purity, contingency, evaluate]
)
def test_mismatched_lengths_raise(fn):
    with pytest.raises(ValueError, match=r"y_true has 3 entries but y_pred has 2"):
        fn([0, 1, 1], [0, 1])


@pytest.mark.parametrize("fn", [accuracy, nmi, adjusted_rand, pairwise_scores, purity])
def test_empty_labelling_raises(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


def test_mixed_modal_scores_by_hand():
    from mmclust.metrics import mixed_modal_scores

    y = [0, 0, 1, 1, 0, 0, 1, 1]
    first = [True] * 4 + [False] * 4
    # the same clusters for both modalities: a unified clustering
    s = mixed_modal_scores(y, [0, 0, 1, 1, 0, 0, 1, 1], first)
    assert s["acc_a"] == s["acc_b"] == s["acc_b_via_a"] == 1.0
    assert s["modality_split"] == pytest.approx(0.0, abs=1e-12)
    # b's clusters swapped: each modality is perfect alone, but not across
    s = mixed_modal_scores(y, [0, 0, 1, 1, 1, 1, 0, 0], first)
    assert s["acc_a"] == s["acc_b"] == 1.0 and s["nmi_b"] == pytest.approx(1.0)
    assert s["acc_b_via_a"] == 0.0
    assert s["modality_split"] == pytest.approx(0.0, abs=1e-12)
    # clusters split by modality: b's clusters are unknown to a's matching
    s = mixed_modal_scores(y, [0, 0, 1, 1, 2, 2, 3, 3], first)
    assert s["acc_b_via_a"] == 0.0 and s["acc_b"] == 1.0
    assert s["modality_split"] == pytest.approx(1.0)
    # one b sample of class 1 in a's class-0 cluster: 3 of 4 right
    s = mixed_modal_scores(y, [0, 0, 1, 1, 0, 0, 1, 0], first)
    assert s["acc_b_via_a"] == pytest.approx(0.75)


def test_mixed_modal_scores_needs_both_modalities():
    from mmclust.metrics import mixed_modal_scores

    with pytest.raises(ValueError, match="both modalities"):
        mixed_modal_scores([0, 1], [0, 1], [True, True])
    with pytest.raises(ValueError, match="shape"):
        mixed_modal_scores([0, 1], [0, 1], [True])
