"""bert-99 / bert-99.9: BERT-Large question answering on SQuAD v1.1 (squad: features, model: inference,
evaluate: answers and EM/F1 from the accuracy log, demo: random-weight assets)."""

CONF_MODEL = "bert"  # the model's name in LoadGen's mlperf.conf (both bert-99 and bert-99.9; the reference's run.py)
