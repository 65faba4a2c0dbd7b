"""One module per rule: LORA0xx correctness, LORA1xx peft-version compatibility, LORA2xx
practice, LORA3xx security. Importing this package registers them all."""
from . import (  # noqa: F401
    lora000_syntax_error,
    lora001_target_modules_not_found,
    lora002_target_modules_partial,
    lora003_unknown_argument,
    lora004_invalid_value,
    lora005_unknown_config_attribute,
    lora006_layers_out_of_range,
    lora007_head_not_trainable,
    lora012_tied_embedding_target,
    lora013_moe_experts_not_targeted,
    lora014_target_kind_unsupported,
    lora101_argument_too_new,
    lora102_value_too_new,
    lora103_argument_removed,
    lora201_alpha_ratio,
    lora203_task_type_mismatch,
    lora301_trust_remote_code,
)
