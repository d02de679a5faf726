"""GPT-J and Llama 2 70B: the official sources `mlperfctl get` fetches (see workloads/sources.py).

Llama 2 70B: Meta's checkpoint on Hugging Face (language/llama2-70b/README.md), gated: the licence is accepted on
the model page and the files are fetched with a Hugging Face token read from HF_TOKEN (sent only to the source's
own host, never stored or printed). No checksum is published by the reference (get refuses the files unless
--no-verify, then records the sha256 it computed)."""

from ..sources import Source

_LLAMA = "https://huggingface.co/meta-llama/Llama-2-70b-chat-hf"
_SHARDS = 15


def _llama(file: str, name: str) -> Source:
    return Source(name=name, url=f"{_LLAMA}/resolve/main/{file}", path=f"models/Llama-2-70b-chat-hf/{file}",
                  backends=("pytorch",), licence="Llama 2 Community License", needs="token", token_env="HF_TOKEN",
                  agreement_url=_LLAMA)


_LLAMA_FILES = (
    _llama("config.json", "Llama 2 70B chat config"),
    _llama("generation_config.json", "Llama 2 70B chat generation config"),
    _llama("tokenizer.model", "Llama 2 tokenizer"),
    _llama("tokenizer.json", "Llama 2 tokenizer (fast)"),
    _llama("tokenizer_config.json", "Llama 2 tokenizer config"),
    _llama("special_tokens_map.json", "Llama 2 special tokens"),
    _llama("model.safetensors.index.json", "Llama 2 70B chat shard index"),
    *(_llama(f"model-{i:05d}-of-{_SHARDS:05d}.safetensors", f"Llama 2 70B chat weights {i}/{_SHARDS}")
      for i in range(1, _SHARDS + 1)),
)

# the processed OpenOrca set comes through the MLCommons R2 downloader
# (https://inference.mlcommons-storage.org/metadata/llama-2-70b-open-orca-dataset.uri): not declared yet
SOURCES = {"llama2-70b-99": _LLAMA_FILES, "llama2-70b-99.9": _LLAMA_FILES}

_GPTJ = ("the reference fetches the checkpoint with the MLCommons R2 downloader "
         "(https://inference.mlcommons-storage.org/metadata/gpt-j-model-checkpoint.uri) and builds CNN/DailyMail "
         "with language/gpt-j/download_cnndm.py")
UNDECLARED = {"gptj-99": _GPTJ, "gptj-99.9": _GPTJ}
