"""Tiny random-weight Hugging Face models, built in a folder with ``save_pretrained``.

No weights for standard Hub models exist offline on a test machine, so the tests of
the transformers and diffusers runtimes build each architecture at toy size (hidden
sizes of 8-32, one or two layers) with real tokenizers and processors, save it the
way the Hub stores it, and load it back through the experts' real loading code. The
answers are noise; their shape (boxes, masks, WAV samples, text) is what is tested.

Each ``build_*`` function takes a folder, writes the model there and returns it.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.experts.hf.load import prepare

prepare()  # transformers must import even where torchvision is broken (see engine.devices)

WORDS = ("the cat dog sat on mat paris is in france who where what john lives london "
         "berlin good bad movie great terrible house red blue small big total invoice date").split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,?!")
SENTENCES = [
    "the cat sat on the mat", "john lives in paris", "paris is in france",
    "what a great movie", "a terrible bad movie", "who lives in london",
    "the big red house", "a small blue dog", "total of the invoice", "the date is here",
]


def _seed() -> None:
    import torch

    torch.manual_seed(0)


# -- tokenizers ---------------------------------------------------------------------
def bert_vocab(folder: Path) -> Path:
    vocab = list(dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *LETTERS]))
    vocab += [f"##{c}" for c in LETTERS]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return path


def bert_tokenizer(folder: Path):
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab_file=str(bert_vocab(folder)), model_max_length=64)


def bpe_tokenizer(vocab_size: int = 300):
    """A byte-level BPE tokenizer trained on a few sentences (GPT-2 style)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES * 3, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", mask_token="<mask>",
                                   model_max_length=64)


# -- text ---------------------------------------------------------------------------
def _bert_config(vocab_size: int, **kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=2, intermediate_size=37, max_position_embeddings=64, **kw)


def _labels(names):
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def build_bert(folder: Path, head: str, labels=()) -> Path:
    """``head``: token-classification, text-classification, question-answering, fill-mask, feature-extraction."""
    import transformers as tf

    classes = {"token-classification": tf.BertForTokenClassification,
               "text-classification": tf.BertForSequenceClassification,
               "question-answering": tf.BertForQuestionAnswering,
               "fill-mask": tf.BertForMaskedLM, "feature-extraction": tf.BertModel}
    tok = bert_tokenizer(folder)
    _seed()
    model = classes[head](_bert_config(len(tok), **(_labels(labels) if labels else {})))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_gpt2(folder: Path, chat: bool = False) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = bpe_tokenizer()
    if chat:
        tok.chat_template = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
                             "{% if add_generation_prompt %}<s>assistant:{% endif %}")
    _seed()
    config = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_bart(folder: Path) -> Path:
    """A tiny encoder-decoder (summarization, translation, text2text-generation)."""
    from transformers import BartConfig, BartForConditionalGeneration

    tok = bpe_tokenizer()
    _seed()
    config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        decoder_start_token_id=tok.eos_token_id, forced_bos_token_id=None)
    BartForConditionalGeneration(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# -- vision -------------------------------------------------------------------------
def _vit_processor(size: int = 32):
    from transformers import ViTImageProcessor

    return ViTImageProcessor(size={"height": size, "width": size})


def _vit_config(**kw):
    from transformers import ViTConfig

    return ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=37, **kw)


def build_vit(folder: Path, labels=("cat", "dog", "car")) -> Path:
    from transformers import ViTForImageClassification

    _seed()
    ViTForImageClassification(_vit_config(**_labels(labels))).save_pretrained(folder)
    _vit_processor().save_pretrained(folder)
    return folder


def build_detr(folder: Path, labels=("cat", "dog", "remote")) -> Path:
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    backbone = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                            layer_type="basic", out_features=["stage2"])
    config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone,
                        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                        num_queries=5, **_labels(labels))
    _seed()
    DetrForObjectDetection(config).save_pretrained(folder)
    DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(folder)
    return folder


def build_segformer(folder: Path, labels=("sky", "cat", "floor")) -> Path:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             num_attention_heads=[1, 2], decoder_hidden_size=16, patch_sizes=[7, 3],
                             strides=[4, 2], mlp_ratios=[2, 2], **_labels(labels))
    _seed()
    SegformerForSemanticSegmentation(config).save_pretrained(folder)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def build_dpt(folder: Path) -> Path:
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    config = DPTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=4,
                       num_attention_heads=2, intermediate_size=37, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 8, 8, 8], fusion_hidden_size=8, reassemble_factors=[4, 2, 1, 0.5],
                       head_in_index=-1, add_projection=False)
    _seed()
    DPTForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(folder)
    return folder


def build_captioner(folder: Path) -> Path:
    """ViT encoder + GPT-2 decoder, as nlpconnect/vit-gpt2-image-captioning."""
    from transformers import (GPT2Config, VisionEncoderDecoderConfig, VisionEncoderDecoderModel)

    tok = bpe_tokenizer()
    decoder = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                         add_cross_attention=True, is_decoder=True, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(_vit_config(), decoder)
    config.decoder_start_token_id = tok.bos_token_id
    config.pad_token_id = tok.pad_token_id
    config.eos_token_id = tok.eos_token_id
    _seed()
    model = VisionEncoderDecoderModel(config)
    model.generation_config.decoder_start_token_id = tok.bos_token_id
    model.generation_config.max_new_tokens = 8
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    _vit_processor().save_pretrained(folder)
    return folder


def build_vilt(folder: Path, answers=("yes", "no", "two", "cat")) -> Path:
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltImageProcessor, ViltProcessor

    tok = bert_tokenizer(folder)
    config = ViltConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, image_size=64, patch_size=16, max_position_embeddings=40,
                        num_images=1, **_labels(answers))
    _seed()
    ViltForQuestionAnswering(config).save_pretrained(folder)
    ViltProcessor(ViltImageProcessor(size={"shortest_edge": 64}, size_divisor=16), tok).save_pretrained(folder)
    return folder


def build_layoutlm(folder: Path) -> Path:
    from transformers import LayoutLMConfig, LayoutLMForQuestionAnswering, LayoutLMTokenizerFast

    vocab = bert_vocab(folder)
    tok = LayoutLMTokenizerFast(vocab_file=str(vocab), model_max_length=64)
    config = LayoutLMConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=37, max_position_embeddings=64)
    _seed()
    LayoutLMForQuestionAnswering(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_donut(folder: Path) -> Path:
    """A Donut-style document reader: Swin image encoder + mBART decoder, with the DocVQA prompt tokens."""
    from transformers import (DonutImageProcessor, DonutSwinConfig, MBartConfig, VisionEncoderDecoderConfig,
                              VisionEncoderDecoderModel)

    tok = bpe_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<s_docvqa>", "<s_question>", "</s_question>",
                                                          "<s_answer>", "</s_answer>"]})
    encoder = DonutSwinConfig(image_size=[32, 32], patch_size=4, embed_dim=8, depths=[1, 1],
                              num_heads=[1, 1], window_size=2)
    decoder = MBartConfig(vocab_size=len(tok), d_model=16, decoder_layers=1, decoder_attention_heads=2,
                          decoder_ffn_dim=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=16,
                          max_position_embeddings=128, is_decoder=True, add_cross_attention=True,
                          pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                          eos_token_id=tok.eos_token_id)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id = tok.bos_token_id, tok.pad_token_id
    config.eos_token_id = tok.eos_token_id
    _seed()
    model = VisionEncoderDecoderModel(config)
    model.generation_config.decoder_start_token_id = tok.bos_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    DonutImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_swin2sr(folder: Path) -> Path:
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor

    config = Swin2SRConfig(image_size=16, patch_size=1, embed_dim=8, depths=[1], num_heads=[1],
                           window_size=4, upscale=2, upsampler="pixelshuffle", mlp_ratio=1.0)
    _seed()
    Swin2SRForImageSuperResolution(config).save_pretrained(folder)
    Swin2SRImageProcessor(pad_size=4).save_pretrained(folder)
    return folder


# -- audio --------------------------------------------------------------------------
def build_whisper(folder: Path) -> Path:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration
    from transformers import WhisperTokenizerFast

    tok = bpe_tokenizer()
    tok.save_pretrained(folder / "_bpe")
    vocab = json.loads((folder / "_bpe" / "tokenizer.json").read_text())["model"]
    (folder / "vocab.json").write_text(json.dumps(vocab["vocab"]))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(
        m if isinstance(m, str) else " ".join(m) for m in vocab["merges"]) + "\n")
    wtok = WhisperTokenizerFast(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"),
                                unk_token="<unk>", bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                pad_token="<|endoftext|>")
    wtok.add_special_tokens({"additional_special_tokens": ["<|startoftranscript|>", "<|en|>",
                                                           "<|transcribe|>", "<|notimestamps|>"]})
    start = wtok.convert_tokens_to_ids("<|startoftranscript|>")
    config = WhisperConfig(vocab_size=len(wtok), num_mel_bins=80, d_model=32, encoder_layers=1,
                           decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                           encoder_ffn_dim=32, decoder_ffn_dim=32, max_source_positions=1500,
                           max_target_positions=448, decoder_start_token_id=start,
                           eos_token_id=wtok.eos_token_id, pad_token_id=wtok.pad_token_id,
                           bos_token_id=wtok.eos_token_id, begin_suppress_tokens=None, suppress_tokens=None)
    _seed()
    model = WhisperForConditionalGeneration(config)
    model.generation_config.max_new_tokens = 8
    model.save_pretrained(folder)
    wtok.save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def build_wav2vec2_classifier(folder: Path, labels=("speech", "music", "dog")) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                            conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            classifier_proj_size=16, **_labels(labels))
    _seed()
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True).save_pretrained(folder)
    return folder


def build_vits(folder: Path) -> Path:
    """A tiny VITS (as facebook/mms-tts-*): characters in, waveform out, no vocoder."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    chars = ["<pad>", " ", *"abcdefghijklmnopqrstuvwxyz", "'", ".", ","]
    (folder).mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(chars)}))
    tok = VitsTokenizer(vocab_file=str(folder / "vocab.json"), add_blank=True, normalize=True,
                        phonemize=False, is_uroman=False, language="eng")
    config = VitsConfig(vocab_size=len(chars), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        ffn_dim=16, flow_size=8, spectrogram_bins=17, upsample_initial_channel=16,
                        upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
                        resblock_dilation_sizes=[[1, 3]], prior_encoder_num_flows=1,
                        prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
                        duration_predictor_num_flows=1, duration_predictor_filter_channels=16,
                        depth_separable_num_layers=1, sampling_rate=16000, use_stochastic_duration_prediction=False)
    _seed()
    VitsModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_speecht5_vc(folder: Path, vocoder_folder: Path) -> tuple[Path, Path]:
    """A tiny SpeechT5 speech-to-speech model (as microsoft/speecht5_vc) and its HiFi-GAN vocoder."""
    from transformers import (SpeechT5Config, SpeechT5FeatureExtractor, SpeechT5ForSpeechToSpeech,
                              SpeechT5HifiGan, SpeechT5HifiGanConfig)

    config = SpeechT5Config(vocab_size=10, hidden_size=32, encoder_layers=1, decoder_layers=1,
                            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                            decoder_ffn_dim=32, conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            speech_decoder_prenet_units=16, speech_decoder_postnet_units=16,
                            speech_decoder_postnet_layers=2, num_mel_bins=16, speaker_embedding_dim=16,
                            max_speech_positions=600, max_text_positions=64)
    _seed()
    SpeechT5ForSpeechToSpeech(config).save_pretrained(folder)
    SpeechT5FeatureExtractor(num_mel_bins=16).save_pretrained(folder)
    hifi = SpeechT5HifiGanConfig(model_in_dim=16, upsample_initial_channel=16, upsample_rates=[4, 4],
                                 upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3],
                                 resblock_dilation_sizes=[[1, 3]], sampling_rate=16000)
    SpeechT5HifiGan(hifi).save_pretrained(vocoder_folder)
    return folder, vocoder_folder


# -- a Hugging Face cache laid out as the Hub client writes it ------------------------
def cache_model(cache: Path, repo: str, source: Path, commit: str = "a" * 40,
                card: str | None = None) -> Path:
    """Lay ``source`` out in ``cache`` as the Hub client does: ``models--org--name`` with
    content-addressed ``blobs/``, ``snapshots/<commit>/`` linking to them, ``refs/main``."""
    import hashlib
    import os
    import shutil

    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / commit
    blobs = repo_dir / "blobs"
    for d in (snap, blobs, repo_dir / "refs"):
        d.mkdir(parents=True, exist_ok=True)
    files = {p.relative_to(source): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    if card is not None:
        files[Path("README.md")] = card.encode()
    for rel, data in files.items():
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snap / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(os.path.relpath(blob, link.parent), link)
        except OSError:  # no symlinks (Windows without developer mode): the Hub client copies
            shutil.copyfile(blob, link)
    (repo_dir / "refs" / "main").write_text(commit)
    return snap


# -- diffusers ----------------------------------------------------------------------------
def clip_tokenizer(folder: Path):
    """A CLIP tokenizer over single characters (no merges): enough to encode any prompt."""
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {t: i for i, t in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=16)


def _sd_parts(folder: Path):
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    tok = clip_tokenizer(folder / "_tok")
    _seed()
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=37,
                                        num_attention_heads=2, num_hidden_layers=1, max_position_embeddings=16,
                                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                        pad_token_id=tok.pad_token_id))
    vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=4, sample_size=32)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return {"tokenizer": tok, "text_encoder": text, "vae": vae, "scheduler": scheduler}


def build_stable_diffusion(folder: Path) -> Path:
    """A tiny Stable Diffusion 1.x pipeline (UNet, VAE, CLIP text encoder, DDIM), 16x16 latents."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    parts = _sd_parts(folder)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=4, norm_num_groups=4)
    StableDiffusionPipeline(unet=unet, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False, **parts).save_pretrained(folder)
    return _drop_scratch(folder)


def _drop_scratch(folder: Path) -> Path:
    import shutil

    shutil.rmtree(folder / "_tok", ignore_errors=True)
    return folder


def build_controlnet(folder: Path) -> Path:
    from diffusers import ControlNetModel

    _seed()
    ControlNetModel(block_out_channels=(8, 16), layers_per_block=1, in_channels=4, cross_attention_dim=32,
                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), attention_head_dim=4,
                    conditioning_embedding_out_channels=(8, 16), norm_num_groups=4).save_pretrained(folder)
    return folder


def build_text_to_video(folder: Path) -> Path:
    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    parts = _sd_parts(folder)
    unet = UNet3DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), cross_attention_dim=32,
                                attention_head_dim=4, norm_num_groups=4)
    TextToVideoSDPipeline(unet=unet, **parts).save_pretrained(folder)
    return _drop_scratch(folder)
