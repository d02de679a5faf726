"""bert-99 / bert-99.9: BERT-Large question answering on SQuAD v1.1 (squad: features, model: inference,
evaluate: answers and EM/F1 from the accuracy log, demo: random-weight assets)."""
