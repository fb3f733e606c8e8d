"""The text-GAN line as the root composes it (``sparring.lines``): its commands and kinds, by name."""

from sparring.lines import Line

LINE = Line(
    name="gan",
    title="text GANs (sparring train)",
    commands={
        "train": "train a generator into a run directory",
        "sample": "print samples from a run's generator",
        "report": "compare the final metrics of runs",
    },
    cli="sparring.gans.cli",
    kinds="sparring.gans.registry:KINDS",
    readers="sparring sample / report / evaluate",
)
