"""The text-GAN family by name: the one registry of the GAN line.

A method is one module (its settings, presets, loop, and its networks and losses where they are
new) that ends with a ``METHOD = GanMethod(...)`` entry; adding it here is the only other change.
The CLI, the config engine, ``--help``, the readers of finished runs and the tests all iterate
``METHODS``. ``METHODS[name].train(session, cfg, corpus, device, pretrained)`` runs (or resumes) it;
``METHODS[name].build(cfg, vocab_size, device)`` makes its networks, named as in checkpoints, so a
finished run can be reloaded for sampling and evaluation.
"""

from __future__ import annotations

from sparring.gans import (
    catgan,
    cot,
    dgsan,
    dpgan,
    gsgan,
    jsdgan,
    leakgan,
    maligan,
    maskgan,
    mle,
    rankgan,
    relgan,
    sentigan,
    seqgan,
    textgan,
)
from sparring.gans.method import GanMethod

METHODS: dict[str, GanMethod] = {
    m.name: m
    for m in (
        mle.METHOD,
        seqgan.METHOD,
        leakgan.METHOD,
        maligan.METHOD,
        rankgan.METHOD,
        relgan.METHOD,
        textgan.METHOD,
        gsgan.METHOD,
        cot.METHOD,
        dpgan.METHOD,
        jsdgan.METHOD,
        dgsan.METHOD,
        maskgan.METHOD,
        sentigan.METHOD,
        catgan.METHOD,
    )
}

KINDS = tuple(method.kind for method in METHODS.values())


def algorithms() -> list[str]:
    return sorted(METHODS)


def presets_for(algo: str) -> list[str]:
    return sorted(METHODS[algo].presets)
