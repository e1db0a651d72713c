"""The encoder's pre-training recipe: the paper's augmentation by default, and a cache keyed by the whole recipe."""

from omegaconf import OmegaConf

from birsweep.schema import PretrainConfig
from birsweep.train.pretrain import cached_weights_path, recipe_key


def _recipe(**changes):
    return OmegaConf.merge(OmegaConf.structured(PretrainConfig), changes)


def test_the_default_recipe_augments_as_the_paper_did():
    assert PretrainConfig().augment is True
    cfg = OmegaConf.load("conf/model/bir_conv.yaml")
    assert cfg.encoder.pretrain.augment is True


def test_weights_made_without_augmentation_are_not_reused_for_the_default(tmp_path):
    plain, augmented = _recipe(augment=False), _recipe()
    assert recipe_key(plain) != recipe_key(augmented)
    old = cached_weights_path(str(tmp_path), plain)
    assert old != cached_weights_path(str(tmp_path), augmented)
    # the key changes with every field of the recipe, not only augmentation
    keys = {recipe_key(_recipe(**{k: v})) for k, v in [("epochs", 3), ("lr", 1e-3), ("seed", 1), ("batch_size", 64)]}
    assert len(keys | {recipe_key(augmented)}) == 5
