"""The MLPerf LLM benchmarks (llama2-70b-99/-99.9, gptj-99/-99.9) on PyTorch with Hugging Face transformers."""
