"""The critics a generator spars with over (instruction, response) text, shared by the lines that use them.

``registry.CRITICS`` names the discriminators (``encoder``, ``seed``); ``losses`` holds their losses
(BCE, Bradley-Terry) and the reward each implies; ``reward.DiscriminatorReward`` makes one a TRL
reward that takes its own step of the game on what it scored. ``align`` and ``rlvr`` pick a critic
by name; a new critic is one module and one entry in ``registry.CRITICS``.
"""
