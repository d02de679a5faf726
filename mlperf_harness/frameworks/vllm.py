"""vLLM: the engine, the sampling settings and the two LoadGen SUTs, as the MLCommons reference SUTs drive it
(language/llama3.1-8b/SUT_VLLM.py).

- Offline: `LLM.generate` on the issued prompts' token ids (vLLM batches them continuously), each sample's
  first token and whole response handed to LoadGen when the batch is done;
- Server, SingleStream (and Interactive, a LoadGen Server run): the streaming engine (`AsyncLLMEngine`), one
  request per query, the first token sent with `lg.FirstTokenComplete` as soon as it exists and the whole
  response with `lg.QuerySamplesComplete` at the end, so TTFT and TPOT come from LoadGen itself.

Both SUTs offer what the run skeleton's worker pool offers (`lg`, `issue`, `flush`, `stop`, `errors`). vLLM is
imported through its package only (never `vllm._C`: on CPUs without AVX-512 vLLM picks its AVX2 kernels
itself). vLLM starts its workers with spawn, so the harness's entry point has the `__main__` guard.
"""

import asyncio
import os
import sys
import threading
from pathlib import Path

from mlperf_harness.errors import UsageError

# --precision -> vLLM's dtype
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
ARCHITECTURES_HINT = "a Hugging Face causal-LM checkpoint (config.json with `architectures`, weights, tokenizer)"


def check_checkpoint(model_dir: Path) -> None:
    """A folder vLLM can load: config.json naming an architecture vLLM has (checked without importing vLLM, so
    the host may call it too). One-line UsageError naming the file and the fix."""
    import json

    config = model_dir / "config.json"
    if not model_dir.is_dir():
        raise UsageError(f"model directory {model_dir} does not exist", f"pass --model-path to {ARCHITECTURES_HINT}")
    if not config.is_file():
        raise UsageError(f"{model_dir} has no config.json: not a vLLM-loadable checkpoint",
                         f"pass --model-path to {ARCHITECTURES_HINT}")
    try:
        arch = json.loads(config.read_text()).get("architectures") or []
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise UsageError(f"{config} is not a JSON object ({e})", f"pass --model-path to {ARCHITECTURES_HINT}") from None
    if not arch or not all(isinstance(a, str) and a.endswith("ForCausalLM") for a in arch):
        raise UsageError(f"{config}: architectures {arch!r} is not a causal language model vLLM serves here",
                         "pass the benchmark's checkpoint (e.g. LlamaForCausalLM)")


def sampling_params(generation: dict, streaming: bool):
    """The reference's SamplingParams from a benchmark's generation declaration: greedy (temperature 0,
    top_p 1, top_k 1), max_tokens, min_tokens, extra stop token ids; token ids only (no detokenizing)."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    if generation.get("num_beams", 1) != 1 or generation.get("do_sample"):
        raise UsageError("the vllm backend decodes greedily only", "use the pytorch backend for beam search")
    return SamplingParams(
        temperature=0.0, top_p=1.0, top_k=1, seed=42,
        max_tokens=generation["max_new_tokens"], min_tokens=generation.get("min_new_tokens", 0),
        stop_token_ids=list(generation.get("stop_token_ids", ())), detokenize=False,
        output_kind=RequestOutputKind.CUMULATIVE if streaming else RequestOutputKind.FINAL_ONLY,
    )  # fmt: skip


def engine_args(model_dir: Path, device: str, precision: str, tensor_parallel: int, max_seqs: int | None) -> dict:
    if precision not in DTYPES:
        raise UsageError(f"--precision {precision} is not supported by vLLM", f"use one of {', '.join(DTYPES)}")
    if device == "cpu":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache; the lab's may set more
        if tensor_parallel != 1:
            raise UsageError(f"--tensor-parallel {tensor_parallel}: vLLM on the CPU runs one worker",
                             "use --tensor-parallel 1 on cpu")
    args = {"model": str(model_dir), "dtype": DTYPES[precision], "tensor_parallel_size": tensor_parallel,
            "seed": 0, "enforce_eager": device == "cpu", "disable_log_stats": True,
            # one worker: in the engine process (no shared-memory broadcast queue to the workers)
            "distributed_executor_backend": "uni" if tensor_parallel == 1 else "mp"}
    if max_seqs:
        args["max_num_seqs"] = max_seqs
    return args


def version() -> str:
    import vllm

    return vllm.__version__


def _load_error(e: BaseException, model_dir: Path) -> UsageError:
    return UsageError(f"vLLM cannot load {model_dir} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                      f"pass --model-path to {ARCHITECTURES_HINT}")


class OfflineSut:
    """Batched generation: each issue() (Offline issues every sample in one query) is one LLM.generate call on a
    worker thread; responses in the accuracy-log dtype."""

    def __init__(self, model_dir: Path, args: dict, generation: dict, prompts: list, dtype: str):
        import mlperf_loadgen as lg
        import numpy as np
        from vllm import LLM

        self.lg, self.prompts, self.dtype = lg, prompts, np.dtype(dtype)
        try:
            self.llm = LLM(**args)
        except (OSError, ValueError) as e:
            raise _load_error(e, model_dir) from None
        self.params = sampling_params(generation, streaming=False)
        self.errors: list[BaseException] = []
        self.generated_tokens = 0
        self.threads: list[threading.Thread] = []

    def generate(self, indices: list[int]) -> list[list[int]]:
        from vllm.inputs import TokensPrompt

        outs = self.llm.generate([TokensPrompt(prompt_token_ids=self.prompts[i]) for i in indices], self.params,
                                 use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outs]

    def issue(self, ids: list[int], indices: list[int]) -> None:
        t = threading.Thread(target=self._answer, args=(ids, indices), daemon=True, name="vllm-offline")
        self.threads.append(t)
        t.start()

    def _answer(self, ids, indices) -> None:
        import numpy as np

        lg, qsr = self.lg, self.lg.QuerySampleResponse
        try:
            outputs = [np.asarray(t, self.dtype) for t in self.generate(indices)]
        except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
            print(f"error: generation failed: {e!r}", file=sys.stderr)
            self.errors.append(e)
            lg.QuerySamplesComplete([qsr(q, 0, 0) for q in ids])
            return
        size = self.dtype.itemsize
        lg.FirstTokenComplete([qsr(q, o.ctypes.data, size) for q, o in zip(ids, outputs, strict=True) if len(o)])
        lg.QuerySamplesComplete([qsr(q, o.ctypes.data, o.nbytes, len(o)) for q, o in zip(ids, outputs, strict=True)])
        self.generated_tokens += sum(map(len, outputs))

    def flush(self) -> None:
        """Nothing is held back."""

    def stop(self) -> None:
        for t in self.threads:
            t.join()


class StreamingSut:
    """The streaming engine on its own event-loop thread: every issued sample is one request whose first token
    goes to LoadGen (FirstTokenComplete) as soon as it exists and whose whole response completes it."""

    def __init__(self, model_dir: Path, args: dict, generation: dict, prompts: list, dtype: str):
        import mlperf_loadgen as lg
        import numpy as np
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        self.lg, self.prompts, self.dtype = lg, prompts, np.dtype(dtype)
        self.params = sampling_params(generation, streaming=True)
        self.errors: list[BaseException] = []
        self.generated_tokens = 0
        self.pending: set = set()
        self.next_id = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="vllm-stream")
        self.thread.start()

        async def start():
            return AsyncLLMEngine.from_engine_args(AsyncEngineArgs(**args))

        try:
            self.engine = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        except (OSError, ValueError) as e:
            self._close_loop()
            raise _load_error(e, model_dir) from None

    async def _one(self, qid: int, index: int, request_id: str) -> list[int]:
        import numpy as np
        from vllm.inputs import TokensPrompt

        lg, qsr, size = self.lg, self.lg.QuerySampleResponse, self.dtype.itemsize
        first, tokens = True, []
        try:
            async for out in self.engine.generate(TokensPrompt(prompt_token_ids=self.prompts[index]), self.params,
                                                  request_id):
                tokens = list(out.outputs[0].token_ids)
                if first and tokens and qid >= 0:
                    head = np.asarray(tokens[:1], self.dtype)
                    lg.FirstTokenComplete([qsr(qid, head.ctypes.data, size)])
                    first = False
        except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answer
            if not self.errors:
                print(f"error: generation failed: {e!r}", file=sys.stderr)
            self.errors.append(e)
            tokens = []
        if qid >= 0:
            data = np.asarray(tokens, self.dtype)
            lg.QuerySamplesComplete([qsr(qid, data.ctypes.data, data.nbytes, len(data))])
            self.generated_tokens += len(tokens)
        return tokens

    def generate(self, index: int) -> list[int]:
        """One prompt outside LoadGen (the warm-up)."""
        self.next_id += 1
        return asyncio.run_coroutine_threadsafe(self._one(-1, index, f"warm-{self.next_id}"), self.loop).result()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        for qid, index in zip(ids, indices, strict=True):
            self.next_id += 1
            fut = asyncio.run_coroutine_threadsafe(self._one(qid, index, str(self.next_id)), self.loop)
            self.pending.add(fut)
            fut.add_done_callback(self.pending.discard)

    def flush(self) -> None:
        """Nothing is held back."""

    def stop(self) -> None:
        for fut in list(self.pending):
            fut.result()

        async def shutdown():  # on the loop that runs the engine's output handler, which it cancels first
            self.engine.shutdown()
            self.engine = None  # its __del__ runs now, not at interpreter exit

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()
        self._close_loop()

    def _close_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
