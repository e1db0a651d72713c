"""The image-level CIFAR path (docs/method.md, Image-level models): the classifier methods train the pre-trained conv
layers on images, GR's generator replays images through a transposed-conv decoder; bad combinations stop at start."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from birsweep.config_check import check_config
from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.errors import ConfigError
from birsweep.models.deconv import DeconvDecoder
from birsweep.models.encoder import ConvEncoder
from birsweep.tracking import record
from birsweep.train.loop.callbacks import RunCallback, TaskEnd
from birsweep.train.loop.run import Run, train
from tests.fakedata import write_cifar100
from tests.helpers import cli, make_cfg

# 3x32x32 synthetic images through the conv model, sizes small enough for seconds on one core
CONV = [
    "debug=cifar_shapes",
    "data.n_tasks=2",
    "data.synthetic.n_classes=4",
    "data.synthetic.train_per_class=40",
    "data.synthetic.test_per_class=5",
    "trainer.iters=4",
    "trainer.log_every=2",
    "trainer.batch_size=16",
    "model.fc_units=32",
    "model.h_dim=32",
    "model.z_dim=8",
]


@pytest.fixture()
def weights(tmp_path):
    """A conv encoder's weights file: the pre-trained layers every model starts from."""
    torch.manual_seed(123)
    enc = ConvEncoder()
    with torch.no_grad():  # running statistics away from their defaults, so a load is visible in them too
        for m in enc.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.9, 1.1)
    path = tmp_path / "enc.pt"
    torch.save({"state": enc.state_dict()}, path)
    return path, enc.state_dict()


def _setup(tmp_path, *overrides):
    run = Run(make_cfg([*CONV, *overrides]), str(tmp_path / "run"))
    run.setup()
    return run


@pytest.mark.parametrize("method", ["si", "ewc"])
def test_train_conv_trains_the_pre_trained_conv_layers_and_regularises_them(method, weights, tmp_path):
    path, state = weights
    run = _setup(tmp_path, f"method={method}", f"model.encoder.weights={path}", "method.fisher_n=8")
    assert isinstance(run.inputs, ImageInputs)
    conv = run.model.convE
    assert conv is not None and run.model.separate_passes
    start = {k: v.clone() for k, v in conv.state_dict().items()}
    assert all(torch.equal(start[k], state[k]) for k in state)  # the encoder cache's weights, running stats too
    conv_params = set(map(id, conv.parameters()))
    assert conv_params <= set(map(id, run.si.params)), "SI covers the conv layers, as upstream's"
    if method == "ewc":
        ewc = run.hooks.ewc
        assert ewc is not None and {n for n in ewc.names if n.startswith("convE.")} == {
            f"convE.{n}" for n, _ in conv.named_parameters()
        }
    assert run.inputs.train[torch.arange(3, device=run.device)].shape == (3, 3, 32, 32)
    run.fit()
    after = conv.state_dict()
    moved = [k for k in start if k.endswith("conv.weight") and not torch.equal(start[k], after[k])]
    assert len(moved) == 5, moved  # every conv layer learnt
    assert run.record.data["status"] != "failed" and len(run.record.data["acc_matrix"]) == 2
    if method == "ewc":
        assert run.hooks.ewc is not None and len(run.hooks.ewc.fishers) == 2


def test_train_conv_false_keeps_features_of_the_frozen_encoder(weights, tmp_path):
    path, _ = weights
    run = _setup(tmp_path, "method=si", "method.train_conv=false", f"model.encoder.weights={path}")
    assert isinstance(run.inputs, Inputs) and run.model.convE is None and not run.model.separate_passes
    assert run.inputs.dim == 1024


def test_bir_keeps_the_conv_layers_frozen(weights, tmp_path):
    path, _ = weights
    run = _setup(tmp_path, "method=bir_si", f"model.encoder.weights={path}")
    assert isinstance(run.inputs, Inputs)  # cached features of the frozen encoder: nothing conv in the model
    assert not any("conv" in name for name in run.model.state_dict())


def test_deconv_decoder_shapes_range_and_a_layer_by_hand():
    torch.manual_seed(0)
    dec = DeconvDecoder((3, 32, 32))
    assert dec.in_units == 1024
    chans = [getattr(dec, f"deconvLayer{i}").deconv.out_channels for i in range(1, 6)]
    assert chans == [128, 64, 32, 16, 3]
    h = torch.randn(4, 1024)
    out = dec.eval()(h)
    assert out.shape == (4, 3, 32, 32) and (out < 0).any()  # linear last layer: standardised images
    sig = DeconvDecoder((3, 32, 32), sigmoid=True).eval()(h)
    assert sig.shape == (4, 3, 32, 32) and ((sig > 0) & (sig < 1)).all()
    # the first layer by hand: transposed conv = zero-stuffed input, padded k-1-p, convolved with the flipped kernel
    layer = dec.deconvLayer1
    x = h.reshape(4, 256, 2, 2)
    stuffed = torch.zeros(4, 256, 3, 3)
    stuffed[:, :, ::2, ::2] = x
    padded = F.pad(stuffed, (2, 2, 2, 2))  # k - 1 - p = 2 each side: 7x7, a 4x4 kernel gives 4x4
    kernel = layer.deconv.weight.flip(-1, -2).transpose(0, 1)
    by_hand = F.conv2d(padded, kernel, layer.deconv.bias)
    bn = layer.bn
    with torch.no_grad():  # batch-norm with statistics and affine parameters away from their defaults
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(1, -1, 1, 1)
    by_hand = (by_hand - bn.running_mean.view(1, -1, 1, 1)) * scale + bn.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x), torch.relu(by_hand), atol=1e-5, rtol=1e-5)


def test_gr_replays_images_to_a_complete_record(weights, tmp_path):
    path, _ = weights
    run = _setup(tmp_path, "method=gr", f"model.encoder.weights={path}")
    gen = run.hooks.trainer
    assert gen is not None and gen.generator.convE is not None and gen.generator.convD is not None
    assert gen.generator.convE is not run.model.convE  # conv layers of its own
    seen = []
    replay_of = run.hooks.replay

    def spy(*args, **kwargs):
        source = replay_of(*args, **kwargs)
        if source is not None:
            sample = source.sample

            def sample_and_keep(current):
                x, scores = sample(current)
                seen.append(x.shape)
                return x, scores

            source.sample = sample_and_keep
        return source

    run.hooks.replay = spy
    gen_conv0 = gen.generator.convE.convLayer1.conv.weight.clone()
    run.fit()
    assert seen and all(s == (16, 3, 32, 32) for s in seen)
    assert not torch.equal(gen_conv0, gen.generator.convE.convLayer1.conv.weight)  # trained in the same loop
    last = run.record.data["losses"][-1]
    assert last["gen_recon_r"] > 0 and last["pred_r"] > 0


def test_bir_without_internal_replay_replays_images_through_the_frozen_conv_layers(weights, tmp_path):
    path, state = weights
    run = _setup(tmp_path, "method=bir_si", "method.internal=false", f"model.encoder.weights={path}")
    assert isinstance(run.inputs, ImageInputs) and run.model.separate_passes
    conv = run.model.convE
    assert conv is not None and not any(p.requires_grad for p in conv.parameters())
    assert all(torch.equal(conv.state_dict()[k], state[k]) for k in state)
    replayed, through_conv = [], []
    conv.register_forward_hook(lambda module, args, out: through_conv.append(args[0]))
    replay_of = run.hooks.replay

    def spy(*args, **kwargs):
        source = replay_of(*args, **kwargs)
        if source is not None:
            sample = source.sample

            def sample_and_keep():
                x, scores = sample()
                replayed.append(x)
                return x, scores

            source.sample = sample_and_keep
        return source

    run.hooks.replay = spy
    run.fit()
    assert replayed and all(x.shape == (16, 3, 32, 32) for x in replayed)
    assert all(any(seen is x for seen in through_conv) for x in replayed)  # into the network through the conv layers
    assert all(torch.equal(conv.state_dict()[k], state[k]) for k in state), "the conv layers stay put"
    rec = run.record.data
    assert len(rec["acc_matrix"]) == 2 and rec["losses"][-1]["recon_r"] > 0


def _conv_weights(conv) -> torch.Tensor:
    return torch.cat([m.weight.detach().flatten() for m in conv.modules() if isinstance(m, torch.nn.Conv2d)])


def test_sgr_on_images_is_method_gr_to_the_number(weights, tmp_path):
    """Upstream's s-GR on CIFAR trains the conv layers of the classifier and of a separate image generator; on the
    BI-R machinery (every switch off, method.train_conv) it runs exactly what method=gr runs."""
    path, _ = weights
    for name, extra in (("gr", ["method=gr"]), ("sgr", ["ablation=sgr"])):
        run = Run(make_cfg([*CONV, *extra, f"model.encoder.weights={path}"]), str(tmp_path / name))
        run.setup()
        gen = run.hooks.trainer
        assert isinstance(run.inputs, ImageInputs) and gen is not None and gen.generator.convD is not None
        assert all(p.requires_grad for p in gen.generator.convE.parameters())
        run.fit()
    a, b = record.load(tmp_path / "gr"), record.load(tmp_path / "sgr")
    assert b["config"]["method"]["ablation"] == "sgr" and b["config"]["method"]["train_conv"] is True
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]
    assert b["losses"][-1]["gen_recon_r"] > 0


@pytest.mark.parametrize("ablation", ["sgr_conditional", pytest.param("sgr_gating", marks=pytest.mark.slow)])
def test_the_sgr_additions_train_both_networks_conv_layers_on_images(ablation, weights, tmp_path):
    path, state = weights
    run = _setup(tmp_path, f"ablation={ablation}", f"model.encoder.weights={path}")
    gen = run.hooks.trainer.generator
    assert gen.convE is not run.model.convE and gen.convD is not None and gen.separate_passes
    before = {"classifier": _conv_weights(run.model.convE), "generator": _conv_weights(gen.convE)}
    torch.testing.assert_close(before["classifier"], before["generator"])  # both start from the pre-trained layers
    passes = []
    gen.convD.register_forward_hook(lambda module, args, out: passes.append(len(out)))
    run.fit()
    assert not torch.equal(before["classifier"], _conv_weights(run.model.convE))
    assert not torch.equal(before["generator"], _conv_weights(gen.convE))
    assert 16 in passes and 32 not in passes  # current and replayed batches: a pass each (the decoder's batch-norm)
    rec = run.record.data
    assert len(rec["acc_matrix"]) == 2 and rec["losses"][-1]["gen_recon_r"] > 0


def test_sgr_feedback_trains_the_conv_layers_of_the_bir_network(weights, tmp_path):
    path, state = weights
    run = _setup(tmp_path, "ablation=sgr_feedback", f"model.encoder.weights={path}")
    conv = run.model.convE
    assert isinstance(run.inputs, ImageInputs) and conv is not None and run.model.convD is not None
    assert all(p.requires_grad for p in conv.parameters()) and conv.training
    trained = {id(p) for group in run.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in conv.parameters()} <= trained
    start = _conv_weights(conv)
    run.fit()
    assert not torch.equal(start, _conv_weights(conv))
    rec = run.record.data
    assert len(rec["acc_matrix"]) == 2 and rec["losses"][-1]["recon_r"] > 0 and rec["losses"][-1]["pred_r"] > 0


def test_no_feedback_without_internal_replay_keeps_both_networks_conv_layers_frozen(weights, tmp_path):
    path, state = weights
    run = _setup(tmp_path, "ablation=no_feedback", "method.internal=false", f"model.encoder.weights={path}")
    gen = run.hooks.trainer.generator
    assert isinstance(run.inputs, ImageInputs) and gen.convD is not None
    for conv in (run.model.convE, gen.convE):
        assert not any(p.requires_grad for p in conv.parameters()) and not conv.training
    run.fit()
    for conv in (run.model.convE, gen.convE):
        assert all(torch.equal(conv.state_dict()[k], state[k]) for k in state)
    assert len(run.record.data["acc_matrix"]) == 2


class _StopAfterFirstTask(RunCallback):
    def on_task_end(self, end: TaskEnd) -> None:
        if end.task == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(["method=gr"], id="gr"),
        pytest.param(["ablation=sgr_feedback"], id="sgr_rtf", marks=pytest.mark.slow),
        pytest.param(["ablation=no_internal"], id="bir", marks=pytest.mark.slow),
    ],
)
def test_an_image_level_run_resumes_to_the_uninterrupted_numbers(overrides, weights, tmp_path):
    """The checkpoint holds what the image level adds: trained conv copies with their batch-norm statistics, the
    transposed-conv decoder, the separate generator and its optimiser."""
    path, _ = weights
    cfg = make_cfg([*CONV, *overrides, f"model.encoder.weights={path}", "eval_gen.samples=4"])
    train(cfg, str(tmp_path / "full"))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, str(tmp_path / "cut"), [_StopAfterFirstTask()])
    assert record.load(tmp_path / "cut")["tasks_done"] == 1
    train(cfg, str(tmp_path / "cut"))
    a, b = record.load(tmp_path / "full"), record.load(tmp_path / "cut")
    assert b["status"] == "completed" and a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]
    gen_a, gen_b = ({k: v for k, v in r["generator_eval"].items() if k != "seconds"} for r in (a, b))
    assert gen_a == gen_b and gen_a["ll"] is not None


def test_internal_false_changes_nothing_on_pixel_models(tmp_path):

    base = ["debug=tiny", "data.n_tasks=2", "data.synthetic.n_classes=4", "trainer.iters=6", "trainer.log_every=3"]
    for name, extra in (("a", []), ("b", ["method.internal=false"])):
        train(make_cfg([*base, *extra]), str(tmp_path / name))
    a, b = record.load(tmp_path / "a"), record.load(tmp_path / "b")
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]


def test_a_variant_without_internal_replay_stops_with_one_line():
    cfg = make_cfg([*CONV, "method.internal=false", "variant=repulsion"])
    with pytest.raises(ConfigError, match="method.internal=false"):
        check_config(cfg)


def launch_tiny_cifar(tmp_path, weights_path, *overrides: str, per_class_test: int = 1):
    """launch.py's command line (in this process) on tiny CIFAR-100 files in the exact on-disk format, 2 tasks of 2
    classes, the run in tmp/run."""
    data = tmp_path / "data"
    write_cifar100(str(data), per_class_train=4, per_class_test=per_class_test)
    return cli(
        "data=cifar100",
        f"paths.data_dir={data}",
        f"model.encoder.weights={weights_path}",
        "data.n_tasks=50",
        "trainer.max_tasks=2",
        "trainer.iters=2",
        "trainer.batch_size=8",
        "model.fc_units=32",
        "model.h_dim=32",
        "model.z_dim=8",
        "logger=none",
        "trainer.progress=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        *overrides,
        cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "method",
    [["method=gr"], ["method=bir_si", "method.internal=false"], ["ablation=sgr_conditional"]],
    ids=["gr", "bir", "sgr_conditional"],
)
def test_image_level_on_tiny_cifar_files_end_to_end(method, weights, tmp_path):
    out = launch_tiny_cifar(tmp_path, weights[0], *method)
    assert out.returncode == 0, out.stderr
    rec = record.load(tmp_path / "run")
    assert rec["status"] == "completed" and rec["tasks_done"] == 2
    if method[0] in ("method=gr", "ablation=sgr_conditional"):
        assert rec["config"]["method"]["train_conv"] is True and rec["losses"][-1]["gen_recon_r"] > 0
        ll = rec["generator_eval"]["ll"]  # the separate generator's test log-likelihood, on images
        assert ll is not None and ll < 0, rec["generator_eval"]
    else:
        assert rec["config"]["method"]["internal"] is False and rec["losses"][-1]["recon_r"] > 0
    assert not (tmp_path / "cache" / "features").exists()  # images, not the encoder's features


@pytest.mark.parametrize(
    "overrides, words",
    [
        (["method=bir_si", "method.train_conv=true"], "method.train_conv=true"),
        (["ablation=sgr", "method.internal=true"], "replays internally, from the frozen conv layers"),
        (["method=si", "method.internal=false"], "method.internal=false"),
    ],
)
def test_bad_combinations_stop_with_one_line(overrides, words, tmp_path):
    out = cli(*overrides, "logger=none", cwd=tmp_path)
    err = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(err) == 1 and err[0].startswith("error:") and words in err[0], out.stderr
    assert not list(tmp_path.rglob("results.json")) and not list(tmp_path.rglob("checkpoint.pt"))
