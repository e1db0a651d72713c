"""BI-R's ablations (docs/method.md, Ablations): each switch checked on values, every ablation config to a complete
record, s-GR on the BI-R machinery equal to method=gr on pixels, the bad combinations refused with one line."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.methods import bir_ablation as A
from birsweep.methods.si import SynapticIntelligence
from birsweep.models.bir import BIRNet
from birsweep.tracking import record
from birsweep.train.loop.callbacks import RunCallback, TaskEnd
from birsweep.train.loop.run import train
from birsweep.train.step.classifier import ClassifierStep
from birsweep.train.step.eager import TrainStep
from tests.helpers import TINY, cli, make_cfg

ABLATIONS = (
    "bir",
    "no_feedback",
    "no_conditional",
    "no_gating",
    "no_internal",
    "no_distill",
    "sgr",
    "sgr_feedback",
    "sgr_conditional",
    "sgr_gating",
    "sgr_internal",
    "sgr_distill",
)
SHORT = [*TINY, "trainer.iters=12", "trainer.log_every=6"]
QUICK = [*TINY, "trainer.iters=6", "trainer.log_every=3", "trainer.max_tasks=2", "diagnostics.enabled=false"]


def _net(**kw) -> BIRNet:
    torch.manual_seed(0)
    return BIRNet(12, 4, fc_layers=3, fc_units=16, h_dim=16, z_dim=5, dg_prop=0.5, **kw)


def test_without_gates_the_decoder_ignores_the_gate():
    z = torch.randn(6, 5)
    a, b = F.one_hot(torch.zeros(6, dtype=torch.long), 4).float(), F.one_hot(torch.full((6,), 3), 4).float()
    gated, plain = _net(), _net(gates=False)
    assert not torch.allclose(gated.decode(z, a), gated.decode(z, b))  # the control: gates do act
    assert torch.equal(plain.decode(z, a), plain.decode(z, b))
    assert torch.equal(plain.decode(z, a), plain.decode(z, None))
    assert not hasattr(plain.fromZ, "mask") and all(not layer.gated for layer in plain.fcD)


def test_standard_prior_kl_against_a_hand_computation():
    model = _net(conditional=False)
    assert model.prior_mu is None and "prior_mu" not in dict(model.named_parameters())
    mu, logvar, z = torch.randn(8, 5), torch.randn(8, 5) * 0.3, torch.randn(8, 5)
    by_hand = sum(
        0.5 * sum(logvar[b, j].exp() + mu[b, j] ** 2 - 1 - logvar[b, j] for j in range(5)) for b in range(8)
    ) / (8 * 12)
    assert A.variational(model, z, mu, logvar, 12, y=torch.zeros(8, dtype=torch.long)) == pytest.approx(
        float(by_hand), rel=1e-5
    )
    # the step's current-data KL is that of the encoder's own mu and logvar (no z, no label involved)
    step = TrainStep(model, torch.optim.SGD(model.parameters(), lr=0.0), _si(model), 12, 2.0)
    x, y = torch.rand(8, 12), torch.randint(0, 4, (8,))
    _, logs = step.losses(x, y, 1, 4, None, None)
    with torch.no_grad():
        _, mu_x, lv_x = model.encode(x)
    expected = (-0.5 * (1 + lv_x - mu_x**2 - lv_x.exp()).sum(1)).mean() / 12
    assert float(logs["variat"].detach()) == pytest.approx(float(expected), rel=1e-5)
    # replay without the conditional prior: z is standard normal, decoded with the hard gate of the drawn class
    torch.manual_seed(3)
    out = model.generate(torch.tensor([1, 2]))
    torch.manual_seed(3)
    z = torch.randn(2, 5)
    assert torch.allclose(out, model.decode(z, F.one_hot(torch.tensor([1, 2]), 4).float()))


def _si(model) -> SynapticIntelligence:
    return SynapticIntelligence(model.si_parameters(), 0.0, 0.1)


class _FixedReplay:
    def __init__(self, x: torch.Tensor, scores: torch.Tensor):
        self.x, self.scores = x, scores

    def sample(self, current=None):
        return self.x, self.scores


def test_hard_targets_use_the_argmax_for_gate_prior_mode_and_cross_entropy():
    model = _net()
    step = TrainStep(model, torch.optim.SGD(model.parameters(), lr=0.0), _si(model), 12, 2.0, hard_targets=True)
    x, y = torch.rand(4, 12), torch.tensor([2, 3, 2, 3])
    x_r, scores = torch.rand(5, 12), torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.9], [0.1, 0.2], [5.0, -1.0]])
    torch.manual_seed(7)
    _, logs = step.losses(x, y, 2, 4, _FixedReplay(x_r, scores), None)
    assert "distil_r" not in logs and "pred_r" in logs
    hard = torch.tensor([0, 1, 0, 1, 0])
    gate = torch.cat([F.one_hot(y, 4), F.one_hot(hard, 4)]).float()
    torch.manual_seed(7)  # the same noise: the forward pass by hand with the argmax's one-hot gate
    out = model(torch.cat([x, x_r]), gate)
    rep = slice(4, None)
    assert float(logs["pred_r"]) == pytest.approx(float(F.cross_entropy(out.logits[rep, :4], hard)), rel=1e-5)
    recon_r = (0.5 * (x_r - out.recon[rep]) ** 2).mean()
    assert float(logs["recon_r"]) == pytest.approx(float(recon_r), rel=1e-5)
    log_q = -0.5 * (out.logvar[rep] + (out.z[rep] - out.mu[rep]) ** 2 / out.logvar[rep].exp()).sum(1)
    pm, plv = model.prior_mu[hard], model.prior_logvar[hard]
    log_p = -0.5 * (plv + (out.z[rep] - pm) ** 2 / plv.exp()).sum(1)
    assert float(logs["variat_r"]) == pytest.approx(float((log_q - log_p).mean() / 12), rel=1e-5)
    # soft targets (the default) distil instead
    soft = TrainStep(model, torch.optim.SGD(model.parameters(), lr=0.0), _si(model), 12, 2.0)
    _, logs = soft.losses(x, y, 2, 4, _FixedReplay(x_r, scores), None)
    assert "distil_r" in logs and "pred_r" not in logs


def test_a_separate_generator_and_the_classifier_share_no_gradient(tmp_path):
    from birsweep.data.features import build_inputs
    from birsweep.data.sources import load_source
    from birsweep.methods.method_registry import method_of
    from birsweep.train.build.toolkit import RunToolkit

    cfg = make_cfg([*SHORT, "ablation=no_feedback"])
    arrays = load_source(cfg.data)
    inputs = build_inputs(arrays, None, False, False, torch.device("cpu"), str(tmp_path))
    idx = [torch.arange(0, 10)]
    built = method_of(cfg).build(RunToolkit(cfg, inputs, arrays, None, idx, torch.device("cpu")))
    model, step = built.model, built.step
    trainer = built.hooks.trainer
    assert isinstance(trainer, A.BIRGeneratorTrainer) and isinstance(step, ClassifierStep)
    gen = trainer.generator
    assert gen.conditional and gen.gates and not gen.has_classifier and gen.classifier is None
    assert not {id(p) for p in gen.parameters()} & {id(p) for p in model.parameters()}
    x, y = inputs.train_batch(torch.arange(8)), torch.tensor([2, 3] * 4)
    x_r, scores = torch.rand(8, gen.in_dim), torch.randn(8, 2)
    for p in [*gen.parameters(), *model.parameters()]:
        p.grad = None
    trainer(x, y, x_r, scores, 2, 4)  # the generator's losses
    assert all(p.grad is None for p in model.parameters())
    assert all(p.grad is not None for p in gen.fcE.parameters())
    for p in gen.parameters():
        p.grad = None
    step.generator = None  # the classifier's losses alone
    step(x, y, 2, 4, _FixedReplay(x_r, scores))
    assert all(p.grad is None for p in gen.parameters())
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_each_ablation_runs_to_a_complete_record_named_for_it(ablation, tmp_path):
    train(make_cfg([*QUICK, f"ablation={ablation}"]), str(tmp_path))
    rec = record.load(tmp_path)
    assert rec["status"] == "completed" and len(rec["avg_acc"]) == 2
    meth = rec["config"]["method"]
    name = "bir-reference" if ablation == "bir" else f"bir-{ablation}"
    assert meth["ablation"] == ablation and meth["name"] == name
    assert rec["config"]["experiment_name"] == f"synthetic-{name}-baseline"
    last = rec["losses"][-1]
    feedback, soft = meth["feedback"], meth["targets"] == "soft"
    assert ("gen_recon_r" in last) == (not feedback)  # a separate generator trains on replay
    assert ("distil_r" in last) == soft and ("pred_r" in last) == (not soft)
    assert rec["config"]["model"]["si_c"] == 0


def test_ablation_dg_props_are_upstreams_per_protocol():
    expected = {"bir": 0.7, "no_feedback": 0.7, "no_conditional": 0.6, "no_gating": 0.0, "no_internal": 0.9}
    expected.update({"no_distill": 0.8, "sgr": 0.0, "sgr_gating": 0.7})
    for data in ("cifar100", "digits"):
        for ablation, dg_prop in expected.items():
            assert make_cfg([f"data={data}", f"ablation={ablation}"]).model.dg_prop == dg_prop, (data, ablation)
    sgr = make_cfg(["ablation=sgr"]).method
    assert not (sgr.feedback or sgr.conditional or sgr.gates or sgr.internal) and sgr.targets == "hard"
    assert make_cfg([]).method.ablation is None  # the methods themselves: every switch on
    assert all(make_cfg([f"method={m}"]).method[k] for m in ("bir_si", "gr") for k in ("feedback", "gates"))


def test_sgr_on_pixels_is_method_gr_to_the_number(tmp_path):
    train(make_cfg([*SHORT, "method=gr"]), str(tmp_path / "gr"))
    train(make_cfg([*SHORT, "ablation=sgr"]), str(tmp_path / "sgr"))
    a, b = record.load(tmp_path / "gr"), record.load(tmp_path / "sgr")
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]


class _StopAfter(RunCallback):
    def on_task_end(self, end: TaskEnd) -> None:
        if end.task == 2:
            raise KeyboardInterrupt


@pytest.mark.parametrize("ablation", ["no_feedback", "no_conditional"])
def test_an_ablation_resumes_to_the_uninterrupted_numbers(ablation, tmp_path):
    cfg = make_cfg([*SHORT, f"ablation={ablation}"])
    train(cfg, str(tmp_path / "full"))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, str(tmp_path / "cut"), [_StopAfter()])
    train(cfg, str(tmp_path / "cut"))
    a, b = record.load(tmp_path / "full"), record.load(tmp_path / "cut")
    assert b["status"] == "completed" and a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["method=gr", "method.gates=false"], "method.gates=false is a key of method=bir, which method=gr does not"),
        (["method=si", "method.feedback=false"], "method.feedback=false is a key of method=bir"),
        ([*TINY, "ablation=no_feedback", "variant=repulsion"], "which method=bir-no_feedback does not have"),
        ([*TINY, "ablation=sgr", "trainer.compile=forward"], "trainer.compile and trainer.precision=bf16"),
        (["method=bir", "trainer.only_last=true"], "trainer.only_last=true trains the last task alone"),
        (["method=si", "trainer.only_last=true"], "(replay, SI or EWC act across tasks)"),
    ],
)
def test_bad_combinations_are_refused_with_one_line(overrides, fragment):
    with pytest.raises(ConfigError, match=None) as err:
        check_config(make_cfg(overrides))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_a_refused_combination_exits_2_with_one_error_line_and_writes_nothing(tmp_path):
    out = cli(*TINY, "method=lwf", "method.conditional=false", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "method.conditional=false" in errors[0], out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "run" / record.RESULTS).exists()


@pytest.mark.parametrize(
    "ablation, variant",
    [("no_conditional", "variant=repulsion"), ("no_distill", "variant=recon"), ("sgr_feedback", "variant=repulsion")],
)
def test_a_variant_combines_with_an_ablation_that_keeps_replay_through_feedback(ablation, variant, tmp_path):
    extra = ["variant.recon.repulsion=true", "variant.name=recon"] if variant == "variant=recon" else []
    train(make_cfg([*QUICK, f"ablation={ablation}", variant, *extra]), str(tmp_path))
    rec = record.load(tmp_path)
    assert rec["status"] == "completed" and rec["config"]["experiment_name"].startswith(f"synthetic-bir-{ablation}-")
    assert any(k.endswith("_n") for k in rec["losses"][-1])  # the term ran on the replayed batches
