"""The vllm engine for whisper, as the reference's SUT runs it (speech2text/reference_SUT.py): vLLM's
encoder-decoder Whisper with the audio as multi-modal data (vLLM pads it to 30 s and computes the log-mel features
with the checkpoint's own WhisperFeatureExtractor), the prompt <|startoftranscript|><|en|><|transcribe|>
<|notimestamps|>, greedy decoding (temperature 0, top_p 1), at most MAX_NEW_TOKENS tokens, max_model_len 448 and
64 sequences at a time. The same transcribe() contract as the pytorch engine (model.Transcriber)."""

from pathlib import Path

from ...errors import UsageError
from . import model

MAX_SEQS = 64  # the reference's max_num_seqs
MAX_MODEL_LEN = 448  # Whisper's decoder positions (the reference's max_model_len)
SAMPLE_RATE = 16000


class VllmTranscriber:
    """transcribe(waves) -> [(text, generated token count through the end-of-text token)], one LLM.generate per
    batch (vLLM schedules the batch's requests continuously); called from one worker thread at a time."""

    def __init__(self, model_dir: Path, device: str, precision: str, threads: int):
        from vllm import LLM, SamplingParams, __version__

        from ...frameworks import vllm as fw

        model.check_model_dir(model_dir, "vllm")
        args = fw.engine_args(model_dir, device, precision, 1, MAX_SEQS)
        args.update(max_model_len=MAX_MODEL_LEN, limit_mm_per_prompt={"audio": 1})
        try:
            self.llm = LLM(**args)
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise UsageError(f"vLLM cannot load the Whisper checkpoint in {model_dir}: {first[:300]}",
                             "pass --model-path to the whisper-large-v3 checkpoint folder") from None
        self.params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=model.MAX_NEW_TOKENS)
        self.prompt = "".join(model.PROMPT)
        self.version = __version__

    def transcribe(self, waves: list) -> list[tuple[str, int]]:
        prompts = [{"prompt": self.prompt, "multi_modal_data": {"audio": (w, SAMPLE_RATE)}} for w in waves]
        outs = self.llm.generate(prompts, self.params, use_tqdm=False)
        return [(o.outputs[0].text, len(o.outputs[0].token_ids)) for o in outs]
