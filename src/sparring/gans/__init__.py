"""The text-GAN line: MLE, SeqGAN, LeakGAN, MaliGAN, RankGAN and RelGAN on small recurrent generators.

``config`` (settings and presets), ``registry`` (algorithm name -> training loop and networks),
one module per algorithm with its explicit loop, ``engine`` (what several loops share),
``session`` (numbered steps, checkpoints, exact resume), ``api`` (train, load a run),
``evaluate`` (temperature sweeps), ``report`` (final metrics and verdicts), ``plots``.
"""
