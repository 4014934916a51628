"""Training: the loss goes down, a resumed run ends where an uninterrupted one does, two
DDP processes (gloo) compute exactly the gradient of one process on the same global batch, and
the README's ``torchrun`` command trains on two ranks and exits cleanly."""

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

import elasticast_lite as el
from conftest import micro_config, random_specs
from elasticast_lite.datasets import build_voices
from elasticast_lite.train import (
    Recipe,
    end_distributed,
    epoch_steps,
    make_dataset,
    split_paths,
    step_loss,
    train,
)


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    out = tmp_path_factory.mktemp("voices")
    build_voices(out, clips=30, seed=2)
    return out


def losses(out):
    return [json.loads(line)["train_loss"] for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["elastic", "ast"])
def test_a_few_epochs_lower_the_loss_and_save_a_loadable_checkpoint(voices, tmp_path, model):
    recipe = Recipe(data=str(voices), out=str(tmp_path / model), model=model, epochs=4,
                    lr=1e-3, warmup=0.0, tokens_per_step=2048, batch_size=8, target_frames=200,
                    resolution="mixed" if model == "elastic" else "1.0", token_dropout=0.1)
    out = train(recipe)
    curve = losses(out)
    assert len(curve) == 4 and curve[-1] < curve[0] - 0.1
    loaded = el.load_model(out)
    config = json.loads((out / "config.json").read_text())
    assert config["classes"] == sorted(el.datasets.VOICES)
    assert config["recipe"]["model"] == model and config["features"]["sample_rate"] == 16000
    assert isinstance(loaded, el.ElasticAST if model == "elastic" else el.StandardAST)


def test_resume_after_a_kill_ends_with_the_same_weights(voices, tmp_path):
    def recipe(name):
        return Recipe(data=str(voices), out=str(tmp_path / name), epochs=3, lr=1e-3,
                      tokens_per_step=1024, resolution="mixed", spec_augment=True,
                      token_dropout=0.1)

    whole = train(recipe("whole"))
    per_epoch = json.loads((whole / "log.jsonl").read_text().split("\n")[0])["step"]
    assert per_epoch >= 2
    train(recipe("killed"), stop_after_steps=per_epoch + 1)  # dies inside epoch 2
    assert len(losses(tmp_path / "killed")) == 1
    assert (tmp_path / "killed/train_state.safetensors").exists()
    resumed = train(recipe("killed"), resume=True)
    log = (resumed / "log.jsonl").read_text().splitlines()
    epochs = [json.loads(line)["epoch"] for line in log]
    assert epochs == [1, 2, 3]  # it went on from epoch 2; it did not start again
    a = load_file(str(whole / "model.safetensors"))
    b = load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _ddp_worker(rank, world, store, specs, targets, result):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = el.ElasticAST(micro_config())
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    mine = slice(rank * 3, (rank + 1) * 3) if rank == 0 else slice(3, len(specs))  # 3 | 2 clips
    loss = step_loss(ddp, specs[mine], targets[mine], count_all=len(specs), world=world)
    loss.backward()
    if rank == 0:
        torch.save({k: p.grad for k, p in model.named_parameters()}, result)
    end_distributed()


def test_two_gloo_ranks_give_the_gradient_of_one_process(tmp_path):
    specs = random_specs([3, 9, 1, 5, 12], seed=4)
    targets = torch.tensor([0, 3, 1, 4, 2])
    torch.manual_seed(0)
    model = el.ElasticAST(micro_config())
    step_loss(model, specs, targets, count_all=len(specs), world=1).backward()
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    mp.spawn(_ddp_worker, args=(2, tmp_path / "store", specs, targets, tmp_path / "g.pt"),
             nprocs=2, join=True)
    grads = torch.load(tmp_path / "g.pt")
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, atol=1e-6, rtol=1e-5)


def test_torchrun_trains_on_two_ranks_and_every_rank_exits_cleanly(voices, tmp_path):
    out = tmp_path / "ddp"
    args = ["--data", str(voices), "--out", str(out), "--epochs", "2", "--lr", "1e-3",
            "--tokens-per-step", "1024", "--resolution", "mixed"]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "-m", "elasticast_lite.train", *args],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in log] == [1, 2]  # rank 0 alone writes the log
    recipe = Recipe(data=str(voices), tokens_per_step=1024, resolution="mixed")
    ds = make_dataset(recipe, split_paths(recipe.data)[0], train=True)
    one_rank = len(epoch_steps(recipe, ds, 0, rank=0, world=1))
    two_ranks = len(epoch_steps(recipe, ds, 0, rank=0, world=2))
    assert two_ranks < one_rank and log[0]["step"] == two_ranks  # the epoch was shared
    assert isinstance(el.load_model(out), el.ElasticAST) and 0 <= log[-1]["val_accuracy"] <= 1
