"""Configs built by helpers, classes and less common syntax; a local LoraConfig and another library's."""
from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from functools import partial

from peft import LoraConfig, TaskType
from swift import LoraConfig as SwiftLoraConfig

RANKS = (4, 8, 16)


@dataclass
class TrainArgs:
    lora_r: int = 64
    lora_alpha: int = 16
    targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])

    def to_peft(self) -> LoraConfig:
        return LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha, target_modules=self.targets)


class Registry:
    configs: dict[str, LoraConfig] = {}

    @classmethod
    def make(cls, name: str, r: int = 32, alpha: int = 32) -> LoraConfig:
        cls.configs[name] = config = LoraConfig(r=r, lora_alpha=alpha)
        return config


def never_called(r=16, alpha=16):
    return LoraConfig(r=r, lora_alpha=alpha)


def called_with_defaults(r=16, alpha=16):
    return LoraConfig(r=r, lora_alpha=alpha)  # expect: LORA201


default_config = called_with_defaults()
sweep = [LoraConfig(r=r, lora_alpha=2 * r, task_type=TaskType.CAUSAL_LM) for r in RANKS]
make = lambda r=8: LoraConfig(r=r, lora_alpha=r)  # noqa: E731
partial_config = partial(LoraConfig, r=8, lora_alpha=16)
if (rank := 32) >= 16:
    walrus = LoraConfig(r=rank, lora_alpha=rank * 2)


def by_size(size: str) -> LoraConfig:
    match size:
        case "small":
            r = 8
        case "large":
            r = 64
        case _:
            r = 16
    return LoraConfig(r=r, lora_alpha=16)


async def build_async(name: str) -> LoraConfig:
    await asyncio.sleep(0)
    return LoraConfig(r=8, lora_alpha=16, target_modules=[f"{name}.q_proj"], lora_dropout=0.05)


swift = SwiftLoraConfig(rank=8, alpha=32, lora_target="all")


def local_class():
    class LoraConfig:  # a stand-in with its own keywords
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    return LoraConfig(rank=8, dropout=0.1)


tuned = dataclasses.replace(LoraConfig(r=16, lora_alpha=32), lora_alpha=64)
typo = LoraConfig(r=16, lora_alpha=32, lora_dropuot=0.1)  # expect: LORA003
