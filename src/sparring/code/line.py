"""The code line as the root composes it (``sparring.lines``)."""

from sparring.lines import Line

LINE = Line(
    name="code",
    title="sparring eval-code / ra3 / ntp / rlvr",
    commands={
        "eval-code": "score code completions by running them in the sandbox (pass@k)",
        "ra3": "RA3 mid-training for code: EM over latent '# comment' abstractions (temporal ELBO)",
        "ntp": "the NTP baseline of RA3: SFT on the same expert code without latents, at the same token budget",
        "rlvr": "RL with verifiable rewards: GRPO on MBPP training tasks, the sandbox's test pass rate as the reward",
    },
    cli="sparring.code.cli",
    kinds="sparring.code.config:KINDS",
    readers="sparring eval-code --model RUN",
)
