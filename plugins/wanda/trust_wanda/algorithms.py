"""The three pruning rules on one weight matrix, in plain torch.

Weights are ``(out_features, in_features)`` as in :class:`torch.nn.Linear`; "a row" is one output
neuron and "a group" is ``m`` consecutive input weights of a row. Every function returns or applies
a boolean *prune mask* (True = set to zero) and never touches anything but the given tensor.

* :func:`magnitude_scores` - ``|W|`` (Han et al. 2015; the baseline of both papers).
* :func:`wanda_scores` - ``|W_ij| · ‖X_j‖₂`` (Sun et al. 2023, "A Simple and Effective Pruning
  Approach for Large Language Models").
* :func:`sparsegpt_prune` - OBS-style pruning with weight reconstruction (Frantar & Alistarh 2023,
  "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def magnitude_scores(weight: torch.Tensor) -> torch.Tensor:
    """The magnitude score ``|W|`` (float32)."""
    return weight.detach().float().abs()


def wanda_scores(weight: torch.Tensor, input_norms: torch.Tensor) -> torch.Tensor:
    """The Wanda score ``|W_ij| · ‖X_j‖₂``; ``input_norms`` holds ``‖X_j‖₂`` per input feature."""
    if input_norms.shape != (weight.shape[1],):
        raise ValueError(f"input_norms has shape {tuple(input_norms.shape)}, expected ({weight.shape[1]},)")
    return weight.detach().float().abs() * input_norms.float().reshape(1, -1)


def _bottom_k_mask(scores: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """True at the ``k`` smallest scores along ``dim`` (ties broken by position, so exactly ``k``)."""
    import torch

    mask = torch.zeros_like(scores, dtype=torch.bool)
    if k > 0:
        index = torch.topk(scores, k, dim=dim, largest=False, sorted=False).indices
        mask.scatter_(dim, index, True)
    return mask


def unstructured_mask(scores: torch.Tensor, sparsity: float, comparison: str = "row") -> torch.Tensor:
    """Prune mask holding the lowest ``sparsity`` share of ``scores``.

    ``comparison="row"`` zeroes ``round(sparsity · in_features)`` weights in each output row (Wanda's
    per-output comparison group); ``"layer"`` zeroes ``round(sparsity · numel)`` over the whole matrix.
    """
    if comparison == "row":
        return _bottom_k_mask(scores, round(sparsity * scores.shape[1]), dim=1)
    if comparison == "layer":
        flat = _bottom_k_mask(scores.reshape(1, -1), round(sparsity * scores.numel()), dim=1)
        return flat.reshape(scores.shape)
    raise ValueError(f"unknown comparison {comparison!r}")


def nm_mask(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Prune mask for N:M sparsity: in every group of ``m`` consecutive inputs of a row, the ``m - n``
    lowest scores are pruned, leaving at most ``n`` non-zeros."""
    rows, cols = scores.shape
    if cols % m:
        raise ValueError(f"in_features {cols} is not a multiple of M={m}")
    grouped = scores.reshape(rows, cols // m, m)
    return _bottom_k_mask(grouped, m - n, dim=2).reshape(rows, cols)


def score_mask(scores: torch.Tensor, sparsity: float, pattern: tuple[int, int] | None, comparison: str) -> torch.Tensor:
    """The prune mask for ``scores``: N:M when ``pattern`` is given, unstructured otherwise."""
    if pattern is not None:
        return nm_mask(scores, *pattern)
    return unstructured_mask(scores, sparsity, comparison)


def sparsegpt_prune(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    sparsity: float,
    pattern: tuple[int, int] | None = None,
    blocksize: int = 128,
    percdamp: float = 0.01,
) -> torch.Tensor:
    """Prune ``weight`` with SparseGPT and return the new (reconstructed, sparse) weight, float32.

    ``hessian`` is the layer Hessian ``H = X Xᵀ`` summed (or averaged) over calibration tokens,
    ``(in_features, in_features)``. The algorithm (Frantar & Alistarh 2023, Algorithm 1):

    1. Dead inputs (``H_jj = 0``) get ``H_jj = 1`` and their weights set to zero.
    2. Damping: ``H += λI`` with ``λ = percdamp · mean(diag H)``.
    3. ``U`` = the upper Cholesky factor of ``H⁻¹``; its rows hold the OBS updates column by column.
    4. Columns are processed in blocks of ``blocksize``. Unstructured: the mask of a block is chosen
       adaptively from the OBS saliency ``w² / U_jj²`` (over the whole block, all rows; the count is
       such that the running total is exactly ``round(sparsity · numel)``). N:M: the mask of each
       group of ``m`` columns is chosen per row when the group's first column is reached. Each
       pruned weight's error ``(w - 0) / U_jj`` is propagated to the later columns of the block
       (``W[:, j:] -= err · U[j, j:]``), then the block's errors to all later columns at once.
    """
    import torch

    w_all = weight.detach().clone().float()
    hess = hessian.detach().clone().float()
    rows, cols = w_all.shape
    if hess.shape != (cols, cols):
        raise ValueError(f"hessian has shape {tuple(hess.shape)}, expected ({cols}, {cols})")
    if pattern is not None and cols % pattern[1]:
        raise ValueError(f"in_features {cols} is not a multiple of M={pattern[1]}")
    dead = torch.diag(hess) == 0
    hess[dead, dead] = 1.0
    w_all[:, dead] = 0.0
    damp = percdamp * torch.mean(torch.diag(hess))
    hess += damp * torch.eye(cols, dtype=hess.dtype)
    u_chol = _inverse_cholesky_upper(hess)

    target_total = round(sparsity * rows * cols)
    pruned_so_far = 0
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        block = w_all[:, i1:i2].clone()
        pruned = torch.zeros_like(block)
        errs = torch.zeros_like(block)
        u_block = u_chol[i1:i2, i1:i2]
        d1 = torch.diag(u_block)
        if pattern is None:
            saliency = block**2 / d1.reshape(1, -1) ** 2
            k = round(sparsity * rows * i2) - pruned_so_far if i2 < cols else target_total - pruned_so_far
            flat = _bottom_k_mask(saliency.reshape(1, -1), max(0, min(k, saliency.numel())), dim=1)
            mask1 = flat.reshape(block.shape)
            pruned_so_far += int(mask1.sum())
        else:
            mask1 = torch.zeros_like(block, dtype=torch.bool)
        for i in range(count):
            w = block[:, i]
            d = u_block[i, i]
            if pattern is not None and i % pattern[1] == 0:
                n, m = pattern
                group = block[:, i : i + m] ** 2 / d1[i : i + m].reshape(1, -1) ** 2
                mask1[:, i : i + m] = _bottom_k_mask(group, m - n, dim=1)
            q = w.clone()
            q[mask1[:, i]] = 0.0
            pruned[:, i] = q
            err = (w - q) / d
            block[:, i:] -= err.unsqueeze(1).matmul(u_block[i, i:].unsqueeze(0))
            errs[:, i] = err
        w_all[:, i1:i2] = pruned
        w_all[:, i2:] -= errs.matmul(u_chol[i1:i2, i2:])
    return w_all


def _inverse_cholesky_upper(hess: torch.Tensor) -> torch.Tensor:
    """Upper Cholesky factor of ``hess⁻¹``, retrying with more damping if ``hess`` is not positive definite."""
    import torch

    extra = 0.0
    base = torch.mean(torch.diag(hess))
    for _ in range(6):
        try:
            damped = hess + extra * base * torch.eye(hess.shape[0], dtype=hess.dtype) if extra else hess
            lower = torch.linalg.cholesky(damped)
            inverse = torch.cholesky_inverse(lower)
            return torch.linalg.cholesky(inverse, upper=True)
        except RuntimeError:  # torch.linalg.LinAlgError subclasses RuntimeError
            extra = 0.01 if extra == 0 else extra * 10
    raise RuntimeError("SparseGPT: the layer Hessian is not positive definite even after extra damping")


def reconstruction_error(weight: torch.Tensor, pruned: torch.Tensor, inputs: torch.Tensor) -> float:
    """``‖W Xᵀ - Ŵ Xᵀ‖_F`` for inputs ``X`` of shape ``(tokens, in_features)``: the layer-output error."""
    difference = (weight.float() - pruned.float()) @ inputs.float().T
    return float(difference.norm())
