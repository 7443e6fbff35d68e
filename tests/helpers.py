"""Small synthetic digit sets for fast tests (no real MNIST needed)."""

from __future__ import annotations

import torch

from vaediag.datasets.data import MNISTData


def synthetic_digits(n_train: int = 256, n_test: int = 64, seed: int = 0) -> MNISTData:
    """Ten blob 'digits': class c lights up a c-dependent 6x6 square, plus noise. uint8 images, int64 labels."""
    gen = torch.Generator().manual_seed(seed)

    def make(n):
        labels = torch.arange(n) % 10
        imgs = torch.randint(0, 40, (n, 28, 28), generator=gen, dtype=torch.uint8)
        for c in range(10):
            r, k = 2 + (c // 5) * 12, 2 + (c % 5) * 5
            imgs[labels == c, r : r + 6, k : k + 6] = 230
        return imgs, labels

    tr, trl = make(n_train)
    te, tel = make(n_test)
    return MNISTData(tr, trl, te, tel)


def assert_one_line_error(result, fragment: str) -> None:
    """A click result that failed with exit code 2 and exactly one ``Error: ...`` line (no traceback)."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert fragment and fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.output


def same_noise_terms(model, x: torch.Tensor, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``vaediag.models.likelihood.iwae_nll(model, x, k, seed)`` draws, recomputed independently (Gaussian
    densities from ``torch.distributions``): per (draw, digit) [k, n] the reconstruction NLL and
    log q(z|x) - log p(z), float64. ``-(recon + kl_sampled)`` are the log importance weights."""
    from torch.distributions import Normal

    from vaediag.models.likelihood import IWAE_DECODES
    from vaediag.models.nets import reconstruction_nll

    assert k * len(x) <= IWAE_DECODES  # one batch, so the noise is one randn((k, n, d)) call
    gen = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        mu, logvar = model.encode(x)
        eps = torch.randn((k, *mu.shape), generator=gen)
        std = torch.exp(0.5 * logvar)
        z = mu + eps * std
        logits = model.decode_logits(z.reshape(k * len(x), -1))
        recon = reconstruction_nll(logits, x.repeat(k, 1, 1, 1)).view(k, len(x)).double()
        log_q = Normal(mu.double(), std.double()).log_prob(z.double()).sum(-1)
        log_p = Normal(0.0, 1.0).log_prob(z.double()).sum(-1)
    return recon, log_q - log_p
