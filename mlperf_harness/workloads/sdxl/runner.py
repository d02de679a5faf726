"""`run --model sdxl`: the Stable Diffusion XL hooks of the run skeleton (pytorch, from captions to images).

One worker, because the diffusers pipeline keeps its scheduler's state between calls (the reference serializes
calls with a lock); an Offline query is cut into batches of max_batch, each sample answered with the uint8 HWC
RGB bytes of its image, as the reference logs them."""

from pathlib import Path

from ...frameworks import torch as framework
from ..base import Runner, insert_before
from . import accuracy, dataset, pipeline

# test execution mode: a few queries (Offline: samples) instead of settings.TEST_MIN_QUERIES, sdxl being slow
TEST_MIN_QUERIES = {"Offline": 4, "Server": 4, "SingleStream": 4}


class SdxlRunner(Runner):
    test_min_queries = TEST_MIN_QUERIES
    combine = False
    what = "generation"

    def check(self) -> None:
        pipeline.quiet()

    def prepare(self) -> None:
        a = self.a
        data = Path(a.dataset_dir)
        dtype = framework.dtype(a.precision, "sdxl", pipeline.DTYPES)
        device = framework.device(a.device)
        self.captions = dataset.read_captions(data / dataset.CAPTIONS, a.count)
        self.latents = dataset.load_latents(data / dataset.LATENTS, dtype, device)
        pipeline.locate(Path(a.model_path))

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen.lifecycle import cpu_count

        return self.a.threads or cpu_count(), self.a.max_batchsize or 1, 1

    def load(self, out: Path):
        import torch

        torch.set_num_threads(self.threads)
        self.gen = pipeline.Generator(Path(self.a.model_path), self.a.precision, self.a.device)
        self.gen.check_latents(self.latents)
        self.prompts = dataset.Prompts(self.captions, self.gen.tokenizers)
        self.size = self.gen.image_size(self.latents)
        return self.prompts

    def banner(self) -> str:
        a = self.a
        return (
            f"mlperf_harness: sdxl pytorch/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): {len(self.captions)} "
            f"captions, {self.size}x{self.size} images, {pipeline.STEPS} steps, guidance {pipeline.GUIDANCE}, "
            f"{a.precision}, threads={self.threads}, batch={self.batch}"
        )

    def warm_up(self) -> None:
        self.gen.generate(self.prompts.batch([0]), self.latents)

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, generate, batch, latents = lg.QuerySampleResponse, self.gen.generate, self.prompts.batch, self.latents

        def answer(ids, indices):
            images = generate(batch(indices), latents)
            return [qsr(i, img.ctypes.data, img.nbytes) for i, img in zip(ids, images, strict=True)], images

        return answer

    def facts(self, facts: dict) -> dict:
        extra = {"image_size": self.size, "steps": pipeline.STEPS, "guidance_scale": pipeline.GUIDANCE}
        return insert_before(facts, "duration_s", extra)

    def framework(self) -> dict:
        import torch

        return {"name": "pytorch", "version": torch.__version__}

    def score(self, out: Path, result: dict) -> None:
        """CLIP and FID of the logged images into accuracy.txt (the skeleton judges them by the round's window)."""
        device = framework.device(self.a.device)
        scores = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir), device)
        text = accuracy.lines(scores)
        (out / "accuracy.txt").write_text("\n".join(text) + "\n")
        print("\n".join(text))
        result["metric"] = {"name": "CLIP_SCORE", "value": round(scores["CLIP_SCORE"], 6), "unit": ""}
        result["accuracy"] = {"samples": scores["samples"], **{k: round(scores[k], 8) for k in accuracy.METRICS}}
        if scores["samples"] < 5000:
            result["validity_notes"].append(
                f"accuracy on {scores['samples']} of the 5000 captions: the window applies to the full set"
            )
