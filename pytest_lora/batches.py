"""A tiny deterministic batch for a transformers model, with labels for its head, and the loss on it."""
from __future__ import annotations

_BATCH, _SEQ, _AUDIO_SAMPLES = 2, 8, 8000  # wav2vec2 masks spans of 10 frames: 8000 samples make 24

# class-name endings whose labels are one class per example
_PER_EXAMPLE = ("ForSequenceClassification", "ForImageClassification", "ForAudioClassification")
# class-name endings whose labels are the input tokens (the model shifts them itself)
_TOKEN_LABELS = ("ForCausalLM", "LMHeadModel", "ForMaskedLM", "ForConditionalGeneration", "ForSeq2SeqLM",
                 "ForSpeechSeq2Seq")


def _config_value(config, name: str, default):
    for candidate in (config, getattr(config, "vision_config", None)):
        value = getattr(candidate, name, None)
        if value is not None:
            return value
    return default


def tiny_batch(model, *, seed: int = 0, labels: bool = True) -> dict:
    """Inputs for ``model``'s main input (token ids, pixels, audio or mel features), plus labels
    (unless ``labels=False``) where its class has a head that takes them. A PeftModel is looked through."""
    import torch

    from pytest_lora.targeting import unwrap

    base, _ = unwrap(model)
    config = base.config
    generator = torch.Generator().manual_seed(seed)
    main = getattr(base, "main_input_name", "input_ids")
    name = type(base).__name__
    batch: dict = {}
    if main == "pixel_values":
        size = _config_value(config, "image_size", 32)
        size = size if isinstance(size, int) else size[0]
        channels = _config_value(config, "num_channels", 3)
        batch["pixel_values"] = torch.randn(_BATCH, channels, size, size, generator=generator)
    elif main == "input_values":
        batch["input_values"] = torch.randn(_BATCH, _AUDIO_SAMPLES, generator=generator)
    elif main == "input_features":
        frames = 2 * getattr(config, "max_source_positions", 1500)
        batch["input_features"] = torch.randn(_BATCH, config.num_mel_bins, frames, generator=generator)
    else:
        vocab = base.get_input_embeddings().weight.shape[0]
        batch["input_ids"] = torch.randint(1, vocab - 1, (_BATCH, _SEQ), generator=generator)
        batch["attention_mask"] = torch.ones(_BATCH, _SEQ, dtype=torch.long)
    eos = getattr(config, "eos_token_id", None)
    if name.endswith("ForSequenceClassification") and isinstance(eos, int) and "input_ids" in batch:
        ids = batch["input_ids"]  # encoder-decoder classifiers read the last eos of each example
        ids[ids == eos] = eos + 1 if eos + 1 < vocab - 1 else 1
        ids[:, -1] = eos
        if getattr(config, "is_encoder_decoder", False):  # the inputs shifted right, as the model would
            batch["decoder_input_ids"] = torch.cat([torch.zeros_like(ids[:, :1]), ids[:, :-1]], dim=1)
    elif getattr(config, "is_encoder_decoder", False):
        head = base.get_output_embeddings()
        vocab = head.weight.shape[0] if head is not None else base.get_input_embeddings().weight.shape[0]
        batch["decoder_input_ids"] = torch.randint(1, vocab - 1, (_BATCH, _SEQ // 2), generator=generator)
    if not labels:
        pass
    elif name.endswith(_PER_EXAMPLE):
        batch["labels"] = torch.arange(_BATCH) % max(getattr(config, "num_labels", 2), 1)
    elif name.endswith("ForQuestionAnswering"):
        batch["start_positions"] = batch["end_positions"] = torch.ones(_BATCH, dtype=torch.long)
    elif name.endswith("ForTokenClassification"):
        batch["labels"] = torch.zeros(_BATCH, _SEQ, dtype=torch.long)
    elif name.endswith(_TOKEN_LABELS):
        head = base.get_output_embeddings()
        vocab = head.weight.shape[0] if head is not None else 2
        if "decoder_input_ids" in batch:
            batch["labels"] = batch["decoder_input_ids"]
        else:  # token ids past a shrunk head would index outside it
            batch["labels"] = batch["input_ids"].clamp(max=vocab - 1)
    device = next(base.parameters()).device
    return {key: value.to(device) for key, value in batch.items()}


def loss_of(output):
    """The model's loss, or the mean square of its first output where it computed none (a sum could
    be flat: the outputs of a final LayerNorm always sum to the same value)."""
    loss = getattr(output, "loss", None)
    if loss is not None:
        return loss
    return first_output(output).float().pow(2).mean()


def first_output(output):
    """The model's main output tensor (logits, or the last hidden state of a model without a head)."""
    logits = getattr(output, "logits", None)
    if logits is not None:
        return logits
    return output[0] if isinstance(output, (tuple, list)) else next(iter(output.values()))
