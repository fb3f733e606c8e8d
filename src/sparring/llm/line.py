"""The adversarial-alignment line as the root composes it (``sparring.lines``)."""

from sparring.lines import Line

LINE = Line(
    name="align",
    title="sparring align",
    commands={
        "align": "adversarial alignment of an instruction-tuned LLM: a discriminator is the reward",
        "generate": "answer a prompt with an align run's model",
    },
    cli="sparring.llm.cli",
    kinds="sparring.llm.config:KINDS",
    readers="sparring generate / evaluate",
)
