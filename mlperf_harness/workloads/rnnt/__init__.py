"""rnnt: the MLPerf RNN-T speech recognizer (LibriSpeech dev-clean, last closed in round v4.0).

dataset   the dev-clean-wav.json manifest, transcripts as label ids, wav loading (soundfile)
features  the reference's log-mel filterbank: preemphasis, STFT, Slaney mel filters, log, frame splicing,
          per-feature normalisation
model     the RNN-T (LSTM encoder with time stacking, prediction network, joint) loading the reference
          checkpoint, and its batched greedy decoder
accuracy  word error rate of the accuracy log's token ids, printed as the reference's line
demo      seeded random weights in the reference checkpoint format, synthetic wav files and a manifest
"""
