"""Bleu, ROUGE, CharacterErrorRate and Perplexity against nltk, direct formulas and hypothesis rules."""

from __future__ import annotations

import itertools
import math
import random
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cadence.metrics import NotComputableError
from cadence.metrics.nlp import Bleu, CharacterErrorRate, Perplexity, Rouge, RougeL, RougeN
from cadence.metrics.nlp.character_error_rate import edit_distance
from cadence.metrics.nlp.utils import lcs, modified_precision, ngrams

VOCABULARY = ["a", "b", "c", "d", "e", "f"]


def corpus(seed: int, n: int = 23) -> tuple[list[list[str]], list[list[list[str]]]]:
    rng = random.Random(seed)
    # At least 4 tokens: for shorter candidates nltk counts one n-gram where there is none (Ignite does not).
    candidates = [[rng.choice(VOCABULARY) for _ in range(rng.randint(4, 12))] for _ in range(n)]
    references = [
        [[rng.choice(VOCABULARY) for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 3))]
        for _ in range(n)
    ]
    return candidates, references


def feed(metric, candidates, references, cuts=(1, 4, 4, 10)):  # type: ignore[no-untyped-def]
    bounds = [0, *cuts, len(candidates)]
    for start, stop in itertools.pairwise(bounds):
        metric.update((candidates[start:stop], references[start:stop]))
    return metric.compute()


@pytest.mark.parametrize("order", [1, 2, 4])
@pytest.mark.parametrize(("smooth", "method"), [("no_smooth", 0), ("smooth1", 1), ("nltk_smooth2", 2)])
def test_bleu_macro_is_the_mean_of_nltk_sentence_bleu(order: int, smooth: str, method: int) -> None:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    candidates, references = corpus(order)
    function = [None, SmoothingFunction().method1, SmoothingFunction().method2][method]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [
            sentence_bleu(refs, cand, weights=[1 / order] * order, smoothing_function=function)
            for cand, refs in zip(candidates, references, strict=False)
        ]
    value = feed(Bleu(ngram=order, smooth=smooth), candidates, references)
    assert value.item() == pytest.approx(sum(expected) / len(expected), rel=1e-9)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_bleu_micro_is_nltk_corpus_bleu(order: int) -> None:
    from nltk.translate.bleu_score import corpus_bleu

    candidates, references = corpus(10 + order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = corpus_bleu(references, candidates, weights=[1 / order] * order)
    assert feed(Bleu(ngram=order, average="micro"), candidates, references) == pytest.approx(expected, rel=1e-9)


def test_bleu_state_dict_resumes_exactly() -> None:
    candidates, references = corpus(3)
    whole = feed(Bleu(average="micro", smooth="smooth2"), candidates, references)
    first = Bleu(average="micro", smooth="smooth2")
    first.update((candidates[:9], references[:9]))
    second = Bleu(average="micro", smooth="smooth2")
    second.load_state_dict(first.state_dict())
    second.update((candidates[9:], references[9:]))
    assert second.compute() == pytest.approx(whole, rel=1e-12)


def test_bleu_errors() -> None:
    with pytest.raises(ValueError, match="ngram order must be greater than zero"):
        Bleu(ngram=0)
    with pytest.raises(ValueError, match="Smooth is not valid"):
        Bleu(smooth="fake")
    with pytest.raises(ValueError, match='Average must be either "macro" or "micro"'):
        Bleu(average="macros")
    with pytest.raises(ValueError, match="nb of candidates should be equal"):
        Bleu().update(([["a"]], [[["a"]], [["b"]]]))
    with pytest.raises(ValueError, match="non-empty list of reference"):
        Bleu().update(([["a"]], [[]]))
    for average in ("macro", "micro"):
        with pytest.raises(NotComputableError):
            Bleu(average=average).compute()


def python_rouge_n(candidate, references, n, alpha, best):  # type: ignore[no-untyped-def]
    """Direct formula: clipped n-gram matches, pooled over references or the best-recall reference."""

    def grams(tokens):  # type: ignore[no-untyped-def]
        return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]

    scores = []
    for reference in references:
        pool = list(grams(reference))
        matches = 0
        for gram in grams(candidate):
            if gram in pool:
                pool.remove(gram)
                matches += 1
        scores.append((matches, len(grams(candidate)), len(grams(reference))))
    if best:
        chosen = max(scores, key=lambda s: s[0] / s[2] if s[2] else 0.0)
    else:
        chosen = tuple(sum(column) for column in zip(*scores, strict=False))
    precision = chosen[0] / chosen[1] if chosen[1] else 0.0
    recall = chosen[0] / chosen[2] if chosen[2] else 0.0
    f = precision * recall / ((1 - alpha) * precision + alpha * recall) if precision * recall > 0 else 0.0
    return precision, recall, f


@pytest.mark.parametrize("multiref", ["average", "best"])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_rouge_n_matches_the_direct_formula(multiref: str, alpha: float) -> None:
    candidates, references = corpus(5)
    result = feed(Rouge(variants=[1, 2], multiref=multiref, alpha=alpha), candidates, references)
    for n in (1, 2):
        rows = [python_rouge_n(c, r, n, alpha, multiref == "best") for c, r in zip(candidates, references, strict=True)]
        for column, kind in enumerate("PRF"):
            expected = sum(row[column] for row in rows) / len(rows)
            assert result[f"Rouge-{n}-{kind}"] == pytest.approx(expected, rel=1e-12)


def test_rouge_l_and_variant_order() -> None:
    rouge = RougeL()
    rouge.update(([list("abcf")], [[list("abdf"), list("xyz")]]))
    assert rouge.compute() == pytest.approx({"Rouge-L-P": 3 / 8, "Rouge-L-R": 3 / 7, "Rouge-L-F": 3 / 7})
    both = Rouge(variants=["L", 3])
    both.update(([list("abcd")], [[list("abcd")]]))
    assert list(both.compute()) == ["Rouge-L-P", "Rouge-L-R", "Rouge-L-F", "Rouge-3-P", "Rouge-3-R", "Rouge-3-F"]


def test_rouge_errors() -> None:
    with pytest.raises(ValueError, match="ngram order must be greater than zero"):
        RougeN(ngram=0)
    with pytest.raises(ValueError, match=r"alpha must be in interval \[0, 1\]"):
        RougeN(alpha=2)
    with pytest.raises(ValueError, match=r"multiref : valid values are \['best', 'average'\]"):
        RougeL(multiref="")
    with pytest.raises(ValueError, match="variant must be 'L' or integer"):
        Rouge(variants=["error"])
    with pytest.raises(NotComputableError):
        RougeL().compute()
    with pytest.raises(ValueError, match="at least one reference"):
        RougeL().update(([["a"]], [[]]))


@given(st.lists(st.sampled_from("abc"), max_size=8), st.lists(st.sampled_from("abc"), max_size=8))
def test_lcs_and_edit_distance_rules(a: list[str], b: list[str]) -> None:
    common = lcs(a, b)
    assert common == lcs(b, a) <= min(len(a), len(b))
    distance = edit_distance("".join(a), "".join(b))
    assert abs(len(a) - len(b)) <= distance <= max(len(a), len(b))
    assert distance == edit_distance("".join(b), "".join(a))
    assert (distance == 0) == (a == b)


@given(st.lists(st.integers(0, 3), max_size=10), st.integers(1, 4))
def test_ngram_counts_add_up(sequence: list[int], n: int) -> None:
    counts = ngrams(sequence, n)
    assert sum(counts.values()) == max(0, len(sequence) - n + 1)
    matched, total = modified_precision([sequence], sequence, n)
    assert matched == total == sum(counts.values())


def test_character_error_rate() -> None:
    cer = CharacterErrorRate()
    cer.update((["helo", "cat"], ["hello", "bat"]))
    cer.update(("kitten", "sitting"))
    assert cer.compute() == pytest.approx((1 + 1 + 3) / (5 + 3 + 7))
    empty = CharacterErrorRate()
    empty.update(("", ""))
    assert empty.compute() == 0.0
    with pytest.raises(NotComputableError):
        CharacterErrorRate().compute()
    with pytest.raises(TypeError, match="must be str or list"):
        CharacterErrorRate().update((1, "a"))
    with pytest.raises(ValueError, match="same length"):
        CharacterErrorRate().update((["a"], ["a", "b"]))


def test_perplexity_is_exp_of_token_mean_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(9, 7, 5, generator=g), torch.randint(0, 7, (9, 5), generator=g)
    targets[0, :2] = -100
    perplexity = Perplexity()
    for start, stop in ((0, 1), (1, 1), (1, 5), (5, 9)):
        perplexity.update((logits[start:stop], targets[start:stop]))
    expected = math.exp(F.cross_entropy(logits.double(), targets, ignore_index=-100).item())
    assert perplexity.compute() == pytest.approx(expected, rel=1e-12)


def test_perplexity_errors() -> None:
    with pytest.raises(ValueError, match="at least 2-dimensional"):
        Perplexity().update((torch.zeros(3), torch.zeros(3, dtype=torch.long)))
    with pytest.raises(ValueError, match="exactly one more dimension"):
        Perplexity().update((torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.long)))
    with pytest.raises(ValueError, match="incompatible shapes"):
        Perplexity().update((torch.zeros(2, 5, 3), torch.zeros(2, 4, dtype=torch.long)))
    with pytest.raises(TypeError, match="integer token indices"):
        Perplexity().update((torch.zeros(2, 5, 3), torch.zeros(2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Perplexity().update((torch.full((1, 5, 3), float("nan")), torch.zeros(1, 3, dtype=torch.long)))
    with pytest.raises(NotComputableError):
        Perplexity().compute()
