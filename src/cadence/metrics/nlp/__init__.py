"""Text metrics: :class:`Bleu`, :class:`Rouge` / :class:`RougeN` / :class:`RougeL`, :class:`CharacterErrorRate`
and :class:`Perplexity`.

Example:
    >>> from cadence.metrics.nlp import RougeL
    >>> rouge = RougeL()
    >>> rouge.update(([["a", "b", "c"]], [[["a", "c"]]]))
    >>> rouge.compute()["Rouge-L-R"]
    1.0
"""

from cadence.metrics.nlp.bleu import Bleu
from cadence.metrics.nlp.character_error_rate import CharacterErrorRate
from cadence.metrics.nlp.perplexity import Perplexity
from cadence.metrics.nlp.rouge import Rouge, RougeL, RougeN

__all__ = ["Bleu", "CharacterErrorRate", "Perplexity", "Rouge", "RougeL", "RougeN"]
