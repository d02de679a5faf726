"""ROUGE as the references compute it, without downloads.

The references call Hugging Face `evaluate.load("rouge")` (a metric script fetched from the Hub) over
`rouge_score`, after joining each text's sentences with newlines by `nltk.sent_tokenize` (whose English Punkt
model is another download). Here `rouge_score.RougeScorer` is called directly as that metric script does
(stemming on, one F-measure per sample, mean x 100 rounded to 4 places), and sentences are split by NLTK's Punkt
algorithm with default, untrained parameters: no data files needed. Sentence splitting only changes rougeLsum
(which scores per newline-separated sentence); rouge1, rouge2 and rougeL, the metrics the submission checker
reads, tokenize the text the same way whatever the newlines, so they equal the reference's exactly.
"""

from functools import cache

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@cache
def _splitter():
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer()  # default parameters: no abbreviation list, nothing to download


@cache
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def sentences_per_line(text: str) -> str:
    """The text stripped, one sentence per line (the references' postprocess_text)."""
    return "\n".join(_splitter().tokenize(text.strip()))


def scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean F-measure x 100 (4 decimals) per ROUGE type over prediction/reference pairs."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        return {k: 0.0 for k in ROUGE_TYPES}
    per_sample = {k: [] for k in ROUGE_TYPES}
    scorer = _scorer()
    for pred, ref in zip(predictions, references, strict=True):
        result = scorer.score(sentences_per_line(ref), sentences_per_line(pred))
        for k in ROUGE_TYPES:
            per_sample[k].append(result[k].fmeasure)
    return {k: round(float(np.mean(v)) * 100, 4) for k, v in per_sample.items()}
