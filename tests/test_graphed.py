"""The graph-captured update (stitchkit.algos.graphed) on the CPU: its noise tape, graph keys, paused schedules and
warm-up restore must give exactly the eager update. The CUDA capture itself runs only on a GPU
(benchmarks/gpu_check.py measures it there); here the same wrapper re-runs the update on its static buffers."""

import pytest
import torch

from stitchkit.algos.graphed import GraphedUpdate, make_update
from stitchkit.algos.noise import MemberGenerators, NoiseTape, member_randn, noise_tape
from stitchkit.bench import fake_batch
from stitchkit.train import make_algo

torch.set_num_threads(1)


def batches(algo: str, n: int):
    base = fake_batch(algo, 2, 32, "cpu")
    return [{k: v + 0.05 * i if v.is_floating_point() else v for k, v in base.items()} for i in range(n)]


@pytest.mark.parametrize("algo", ["td3bc", "iql", "cql", "bc", "dt", "gcbc", "gcivl"])
def test_graphed_update_equals_the_eager_update(algo):
    eager, graphed = make_algo(algo, 11, 3, [0, 1], 100), make_algo(algo, 11, 3, [0, 1], 100)
    update = GraphedUpdate(graphed, backend="eager-static")
    for step, b in enumerate(batches(algo, 5)):  # odd and even steps: TD3+BC's two graph keys
        torch.manual_seed(step)  # DT's dropout draws from the global generator
        expected = eager.update(b, step)
        torch.manual_seed(step)
        got = update(b, step)
        for k in expected:
            assert torch.equal(expected[k], got[k]), (algo, step, k)
    for p, q in zip(eager.parameters(), graphed.parameters()):
        assert torch.equal(p, q)
    for oe, og in zip(eager.optimizers(), graphed.optimizers()):  # schedules stepped once per update, outside
        assert [g["lr"] for g in oe.param_groups] == [g["lr"] for g in og.param_groups]
    if algo in ("td3bc", "cql"):  # the generators advanced exactly as eager's (checkpoints save them)
        assert torch.equal(eager.gens.gens[0].get_state(), graphed.gens.gens[0].get_state())


def test_a_capture_that_draws_differently_on_replay_is_an_error():
    gens = MemberGenerators([0, 1])
    tape = NoiseTape()
    with noise_tape(tape, "record"):
        member_randn(gens, (4, 3), "cpu")
    with pytest.raises(RuntimeError, match="captured as"), noise_tape(tape, "replay"):
        member_randn(gens, (5, 3), "cpu")
    with pytest.raises(RuntimeError, match="draws more noise"), noise_tape(tape, "replay"):
        member_randn(gens, (4, 3), "cpu")
        member_randn(gens, (4, 3), "cpu")


def test_the_tape_refills_with_the_eager_draws():
    eager, taped = MemberGenerators([3, 4]), MemberGenerators([3, 4])
    tape = NoiseTape()
    with noise_tape(tape, "record"):
        buf = member_randn(taped, (2, 5), "cpu")
    for _ in range(3):
        tape.fill()
        assert torch.equal(buf, member_randn(eager, (2, 5), "cpu"))


def test_noise_generators_refuse_a_second_device():
    gens = MemberGenerators([0])
    member_randn(gens, (2,), "cpu")
    with pytest.raises(ValueError, match="device mismatch"):
        gens.on("meta")


def test_make_update_settings():
    algo = make_algo("td3bc", 11, 3, [0], 100)
    assert make_update(algo, "off") == algo.update
    assert make_update(algo, "auto") == algo.update  # a CPU: capturing buys nothing
    with pytest.raises(ValueError, match="accepted: auto, on, off"):
        make_update(algo, "fast")
    with pytest.raises(ValueError, match="declares no graph_key"):
        GraphedUpdate(make_algo("por", 11, 3, [0], 100))


@pytest.mark.parametrize("algo", ["td3bc", "iql", "cql", "bc", "dt", "gcbc", "gcivl"])
def test_a_graphable_update_never_reads_a_tensor_on_the_host(algo, monkeypatch):
    """A CUDA graph cannot capture a host read (``.item()``, ``bool(t)``, a distribution's argument check): on a
    GPU the capture fails (IQL's stochastic actor did, on the first H200 run). The CPU cannot capture, so the
    update runs here with every host read an error, except inside the optimizers' steps (on CUDA they run with
    ``capturable=True``, which a CPU refuses)."""
    options = {"deterministic": False} if algo == "iql" else {}  # the stochastic actor is the one that failed
    model = make_algo(algo, 11, 3, [0, 1], 100, **options)
    b = batches(algo, 1)[0]
    names = {"item", "tolist", "__bool__", "__float__", "__int__"}
    originals = {n: getattr(torch.Tensor, n) for n in names} | {"_is_all_true": torch._is_all_true}
    in_optimizer = [False]

    def guarded(name):
        def read(*args, **kwargs):
            if in_optimizer[0]:
                return originals[name](*args, **kwargs)
            raise AssertionError(f"{algo}.update calls {name} on a tensor: a CUDA graph cannot capture a host read")

        return read

    for opt in model.optimizers():

        def step(*args, _step=opt.step, **kwargs):
            in_optimizer[0] = True
            try:
                return _step(*args, **kwargs)
            finally:
                in_optimizer[0] = False

        monkeypatch.setattr(opt, "step", step)
    for name in names:
        monkeypatch.setattr(torch.Tensor, name, guarded(name))
    monkeypatch.setattr(torch, "_is_all_true", guarded("_is_all_true"))
    model.update(b, 0)
    model.update(b, 1)  # TD3+BC's other graph key
