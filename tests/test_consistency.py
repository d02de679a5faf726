"""The project's facts agree with each other: the matrix (what is built), the harness's workload registry
(what runs) and the rulebook (what the rounds require). Each test names the file to fix."""

import dataclasses
from pathlib import Path

import pytest

import mlperf_rules
from mlperf_harness import workloads
from mlperfctl.options import RunOptions
from mlperfctl.run import container, plan

ROOT = Path(__file__).resolve().parent.parent


def implemented(lm) -> set[str]:
    return {name for name, m in lm.matrix.models.items() if m.implemented}


def builtin_cells(lm, model: str):
    impl = plan.builtin(lm)
    return lm.select({"model": [model], "implementation": [impl]})


def test_implemented_models_are_the_workload_registry(loaded):
    only_matrix = implemented(loaded) - set(workloads.names())
    only_registry = set(workloads.names()) - implemented(loaded)
    assert not only_matrix, f"matrix.yaml marks {sorted(only_matrix)} implemented: no workload declares them"
    assert not only_registry, f"mlperf_harness/workloads serves {sorted(only_registry)}: not implemented in matrix.yaml"


def test_every_implemented_model_has_rules_in_a_round(loaded):
    missing = [m for m in sorted(implemented(loaded)) if mlperf_rules.rules_round(m) is None]
    assert not missing, f"no round in mlperf_rules has rules for {missing}"


def test_gptj_gets_the_v5_0_rules():
    assert mlperf_rules.rules_round("gptj-99").version == "v5.0"
    assert mlperf_rules.rules_round("gptj-99.9").version == "v5.0"


def test_every_backend_and_precision_the_matrix_offers_is_declared(loaded):
    problems = []
    for model in sorted(implemented(loaded)):
        w = workloads.get(model)
        offered = loaded.matrix.models[model].precisions
        for cell in builtin_cells(loaded, model):
            if cell.backend not in w.backends(cell.device):
                problems.append(f"{cell.id}: the {w.family} workload has no {cell.backend} on {cell.device}")
                continue
            extra = [p for p in offered if not w.supports(cell.device, cell.backend, p)]
            if extra:
                problems.append(f"{cell.id}: matrix.yaml offers {extra}, the workload runs "
                                f"{list(w.precisions(cell.device, cell.backend))}")
    assert not problems, "\n".join(problems)


def test_every_declared_backend_has_a_cell(loaded):
    """The registry declares nothing the matrix cannot build (a backend with no image is dead code)."""
    problems = []
    for model in sorted(implemented(loaded)):
        w = workloads.get(model)
        cells = {(c.device, c.backend) for c in builtin_cells(loaded, model)}
        problems += [f"{model}: {backend}/{device} declared, no cell" for device in w.devices()
                     for backend in w.backends(device) if (device, backend) not in cells]
    assert not problems, "\n".join(problems)


def _all_options(**extra) -> RunOptions:
    fields = {f.name for f in dataclasses.fields(RunOptions)}
    values = dict(model="resnet50", scenario="all", device="cpu", threads=2, batch_size=4, count=8,
                  performance_sample_count=8, test_query_count=4)
    values.update(extra)
    return RunOptions(**{k: v for k, v in values.items() if k in fields})


@pytest.mark.parametrize("model", sorted(workloads.names()))
def test_every_option_run_passes_is_one_the_harness_takes(loaded, model):
    """The argv `mlperfctl run` builds for every scenario, mode and option parses in the harness's own parser."""
    from mlperf_harness import cli

    if model not in implemented(loaded):
        pytest.skip(f"{model} not implemented in matrix.yaml")
    w = workloads.get(model)
    rnd = mlperf_rules.rules_round(model)
    category = next((c for c in ("edge", "datacenter") if rnd.required_scenarios(model, c)), None)
    # a model whose round lists it only for datacenter,edge systems (retinanet in v6.0): each scenario it runs
    runs = [("all", category)] if category else [(s, "edge") for s in w.scenarios]
    plans = []
    for scenario_opt, cat in runs:
        base = dict(model=model, category=cat, version=rnd.version, scenario=scenario_opt)
        scenarios = plan.plan(loaded, _all_options(**base)).scenarios
        targets = {}
        if set(scenarios) & set(plan.QPS_SCENARIOS):
            targets["target_qps"] = 10.0
        if set(scenarios) & set(plan.LATENCY_SCENARIOS):
            targets["target_latency"] = 5.0
        opts = _all_options(**base, **targets)
        plans.append((opts, plan.plan(loaded, opts)))
    parser = cli._parser()
    for opts, p in plans:
        for scenario in p.scenarios:
            for mode in p.modes:
                argv = container.harness_args(p, opts, scenario, mode, f"/model/{w.model_file(p.cell.backend)}")
                a = parser.parse_args(argv)
                assert (a.model, a.scenario, a.mode) == (model, scenario, mode)
                assert a.test_query_count == 4 and a.performance_sample_count == 8


def test_unsupported_precision_is_refused_in_plan_with_the_choices(loaded):
    from mlperfctl.errors import UserError

    with pytest.raises(UserError, match=r"int8.*fp32"):
        plan.plan(loaded, _all_options(scenario="Offline", precision="int8"))


def test_tensorrt_fp16_is_declared_but_only_fp32_is_offered(loaded):
    """The matrix offers per model, the workload declares per backend: the matrix may offer less."""
    w = workloads.get("resnet50")
    assert w.supports("cuda", "tensorrt", "fp16") and loaded.matrix.models["resnet50"].precisions == ["fp32"]


@pytest.mark.parametrize("model", ["mobilenet", "efficientnet"])
def test_quantised_tflite_is_declared_but_only_fp32_is_offered(loaded, model):
    """uint8-quantised TFLite files run on the tflite backend only (onnxruntime and tf run float32): not offered."""
    from mlperfctl.errors import UserError

    w = workloads.get(model)
    assert w.supports("cpu", "tflite", "int8") and not w.supports("cpu", "onnxruntime", "int8")
    assert loaded.matrix.models[model].precisions == ["fp32"]
    with pytest.raises(UserError, match=r"int8.*fp32"):
        plan.plan(loaded, _all_options(model=model, backend="tflite", scenario="Offline", division="open",
                                       precision="int8"))


def test_make_setup_installs_every_extra():
    """CI's host (`make setup`) has every optional dependency the tests import: each extra of pyproject.toml."""
    import re
    import tomllib

    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    installed = re.search(r"pip install -q -e '\.\[([^\]]+)\]'", (ROOT / "Makefile").read_text())
    assert installed, "Makefile: setup installs no '.[extras]'"
    assert set(installed.group(1).split(",")) == extras, f"Makefile's setup installs {installed.group(1)}"
