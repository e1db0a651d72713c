"""Encoder features made task by task: the same bits as one pass over the whole set, cached once complete, and a
run starts training after its first task's images are encoded."""

import torch

from birsweep.app import run
from birsweep.data.arrays import ArrayData
from birsweep.data.features import build_inputs
from birsweep.data.lazy_features import CHUNK, EncodedSet
from birsweep.models.encoder import ConvEncoder
from birsweep.tracking import record
from tests.helpers import make_cfg

CPU = torch.device("cpu")


def _encoder() -> ConvEncoder:
    torch.manual_seed(0)
    enc = ConvEncoder().freeze()
    for m in enc.modules():  # batch-norm statistics that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return enc


def _arrays(n_train=1300, n_test=300) -> ArrayData:
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (n_train + n_test, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    return ArrayData("cifar10", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 10, 255.0, (0.5,) * 3, (0.25,) * 3)


@torch.no_grad()
def _one_pass(encode, images):
    return torch.cat([encode(images[s : s + CHUNK]) for s in range(0, len(images), CHUNK)])


def test_task_by_task_gives_the_bits_of_one_pass_and_encodes_only_what_is_asked():
    arrays, enc = _arrays(), _encoder()

    def encode(x):
        return enc(arrays.to_unit(x))

    want = _one_pass(encode, arrays.train_x)
    lazy = EncodedSet(arrays.train_x, encode, CPU, "train")
    order = torch.randperm(len(arrays.train_x), generator=torch.Generator().manual_seed(2))
    tasks = [order[:517], order[517:1111], order[1111:]]  # uneven, shuffled, none a multiple of the chunk
    assert lazy.ensure(tasks[1]) == 594 and int(lazy.done.sum()) == 594 and not lazy.complete
    assert torch.equal(lazy.features[tasks[1]], want[tasks[1]])
    assert not lazy.features[tasks[0]].any()  # rows of tasks not asked for are not encoded
    assert lazy.ensure(tasks[1]) == 0  # asked again: nothing to do
    lazy.ensure(torch.cat([tasks[0], tasks[1][:10]]))
    lazy.ensure(tasks[2])
    assert lazy.complete and torch.equal(lazy.features, want)


def test_features_are_cached_once_every_row_is_there(tmp_path):
    arrays, enc = _arrays(), _encoder()
    inputs = build_inputs(arrays, enc, True, False, CPU, str(tmp_path))
    assert inputs.dim == 1024
    half_train, half_test = torch.arange(600), torch.arange(150)
    assert inputs.ensure(half_train, half_test) == 750
    assert not list(tmp_path.rglob("*.pt")), "no cache before every row is encoded"
    inputs.ensure(torch.arange(1300), torch.arange(300))
    (cache,) = tmp_path.rglob("features/cifar10-*.pt")
    again = build_inputs(arrays, enc, True, False, CPU, str(tmp_path))  # warm: everything there at once
    assert again.train_set.complete and again.ensure(torch.arange(1300), torch.arange(300)) == 0
    assert torch.equal(again.train, inputs.train) and torch.equal(again.test, inputs.test)


def test_a_cold_run_encodes_only_the_tasks_it_trains(tmp_path):
    """debug=cifar_shapes (10 tasks of 10 classes through the conv encoder) with 30 + 5 images a class, in this
    process (app.run: what launch.py runs for a job)."""
    small = ["data.synthetic.train_per_class=30", "data.synthetic.test_per_class=5"]
    small += ["diagnostics.enabled=false", "eval_gen.enabled=false"]  # after training, not the subject
    small += ["model.fc_units=64", "model.h_dim=64", "model.z_dim=16"]  # the encoder is CIFAR's, the rest small
    args = ["debug=cifar_shapes", *small, "trainer.iters=2", "trainer.batch_size=32", "trainer.max_tasks=2"]
    run(make_cfg([*args, f"paths.cache_dir={tmp_path / 'cache'}"]), str(tmp_path / "run"))
    rec = record.load(tmp_path / "run")
    assert rec["status"] == "completed" and rec["tasks_done"] == 2
    timings = rec["timings"]
    assert 0 < timings["first_step_s"] <= timings["total_s"] and timings["features_s"] > 0
    # 2 of 10 tasks trained: the features of the other 8 were never made, so there is no (partial) cache
    assert rec["config"]["paths"]["cache_dir"] == str(tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("features/*.pt"))
