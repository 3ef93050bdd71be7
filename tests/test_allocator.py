"""The allocator setting every model worker and notebook kernel of the build inherits."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from lib import allocator, paths

# a few training steps of the nn4i auto-encoder; prints the minor page faults per step
STEPS = """
import resource, torch, torch.nn.functional as F
from lib.nn4i_ex2.models import ConvAutoencoder
torch.set_num_threads(1)
model = ConvAutoencoder(latent_dim=10, num_conv_layers=3, base_channels=16, hidden_units=256)
optimizer = torch.optim.Adam(model.parameters())
images = torch.rand(128, 1, 28, 28)
def step():
    optimizer.zero_grad()
    F.mse_loss(model(images), images).backward()
    optimizer.step()
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_step(env: dict[str, str]) -> float:
    result = subprocess.run([sys.executable, "-c", STEPS], env=env, cwd=paths.ROOT, capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def test_a_user_value_wins_and_the_stock_environment_has_none_of_the_names():
    env = allocator.keep_freed_memory({"MALLOC_TRIM_THRESHOLD_": "0", "PATH": "/bin"})
    assert env["MALLOC_TRIM_THRESHOLD_"] == "0"
    assert env["MALLOC_MMAP_THRESHOLD_"] == allocator.ALLOCATOR_ENV["MALLOC_MMAP_THRESHOLD_"]
    assert allocator.configured(env) and not allocator.configured(allocator.stock_env(env))
    assert allocator.stock_env(env) == {"PATH": "/bin"}


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the names are glibc's")
def test_kept_freed_memory_removes_the_page_faults_of_a_training_step():
    stock = _faults_per_step(allocator.stock_env())
    kept = _faults_per_step(allocator.keep_freed_memory(allocator.stock_env()))
    assert stock > 100  # glibc's default maps the activations afresh every step
    assert kept < stock / 10
