"""Correct, written differently: tempfile.NamedTemporaryFile in the target folder + os.replace,
map_location on load, set_to_none, inference_mode, summed validation loss over the dataset."""

import os
import tempfile

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR


def save_checkpoint(path, model, optimizer, scheduler, epoch, history):
    payload = dict(model=model.state_dict(), optimizer=optimizer.state_dict(),
                   scheduler=scheduler.state_dict(), epoch=int(epoch),
                   history=[float(h) for h in history], rng_state=torch.get_rng_state())
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".partial", delete=False) as handle:
        tmp_name = handle.name
        try:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            os.unlink(tmp_name)
            raise
    os.replace(tmp_name, path)


def load_checkpoint(path, model, optimizer, scheduler):
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng_state"])
    return state["epoch"], state["history"]


def fit(model, train_loader, val_loader, epochs, lr, ckpt_path, resume=False,
        max_grad_norm=1.0):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = CosineAnnealingLR(opt, T_max=epochs)
    history = []
    epoch = 0
    if resume:
        saved_epoch, history = load_checkpoint(ckpt_path, model, opt, sched)
        epoch = saved_epoch + 1
    while epoch < epochs:
        model.train()
        for inputs, targets in train_loader:
            opt.zero_grad(set_to_none=True)
            F.mse_loss(model(inputs), targets).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_grad_norm)
            opt.step()
        sched.step()
        model.eval()
        with torch.inference_mode():
            summed = sum(F.mse_loss(model(inputs), targets, reduction="sum").item()
                         for inputs, targets in val_loader)
        n_outputs = val_loader.dataset[0][1].numel()
        history.append(summed / (len(val_loader.dataset) * n_outputs))
        save_checkpoint(ckpt_path, model, opt, sched, epoch, history)
        epoch += 1
    return history
