"""Seed corpora for the fuzz targets, from the same writers the tests use: python3
fuzz/make_seeds.py DIR makes DIR/<target>/ with a few valid inputs each."""
import json
import os
import struct
import sys
import wave

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from converted import named_weights  # noqa: E402
from onnx_bytes import SILERO, model as onnx_model, tensor as onnx_tensor  # noqa: E402
from whisper_files import (ct2_bytes, ct2_names, ggml_bytes, ggml_file_bytes,  # noqa: E402
                           gpt2_byte_chars, hf_config, random_decoder, random_weights,
                           safetensors_bytes)

out = sys.argv[1]
for t in ("fuzz_safetensors", "fuzz_ggml", "fuzz_ct2", "fuzz_config", "fuzz_npy", "fuzz_audio",
          "fuzz_vocabulary", "fuzz_tokenizer", "fuzz_onnx", "fuzz_form"):
    os.makedirs(os.path.join(out, t), exist_ok=True)


def put(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


w = random_weights("micro", seed=1)
for dtype in ("F32", "F16", "BF16"):
    put("fuzz_safetensors", f"micro_{dtype}", safetensors_bytes({"model.encoder." + k: v for k, v in w.items()}, dtype))
put("fuzz_ggml", "micro_f16", ggml_bytes("micro", w, f16=True))
put("fuzz_ggml", "micro_f32", ggml_bytes("micro", w, f16=False))
for q in ("float16", "int8", "int16", "bfloat16"):
    # the target builds int8 encoders from odd-sized inputs: one seed of each parity (an
    # extra scalar attribute, which the loader ignores, changes the size)
    put("fuzz_ct2", f"micro_{q}_a", ct2_bytes(ct2_names(w), 4, q)[0])
    put("fuzz_ct2", f"micro_{q}_b", ct2_bytes(ct2_names(w), 4, q, extra=[("decoder/alibi", np.array(0, np.int8), 1)])[0])


dec = random_decoder()  # beside the micro encoder, as in a whole model's file
put("fuzz_ct2", "whole_float16", ct2_bytes({**ct2_names(w), **{k: v for k, v in dec.items() if "embeddings" not in k}},
                                           4, extra=[("decoder/embeddings/weight", dec["decoder/embeddings/weight"].astype(np.float16), 4),
                                                     ("decoder/num_heads", np.array(1, np.int16), 2)])[0])
put("fuzz_safetensors", "whole_F16", safetensors_bytes({**{"model.encoder." + k: v for k, v in w.items()},
                                                        **named_weights(dec, 0)}, "F16"))
put("fuzz_ggml", "decoder_f16", ggml_file_bytes((8, 4, 16, 1, 1, 4, 16, 1, 1, 8), named_weights(dec, 1), True,
                                                [b"a", b"b"], 8))
# vocabularies in both forms: byte-level tokens (Ġ = space, Ċ = newline, bytes of a split
# character: Ã, ¤), an empty token, specials
tokens = ["!", "a", "\u0120the", "\u010a", "\u00c3", "\u00a4", "\u00e4\u00bd\u0142", "", "<|endoftext|>",
          "<|startoftranscript|>", "<|0.00|>"]
put("fuzz_vocabulary", "vocab.txt", "\n".join(tokens).encode() + b"\n")
put("fuzz_vocabulary", "vocab_crlf.txt", "\r\n".join(tokens).encode() + b"\r\n")
put("fuzz_vocabulary", "vocab.json", json.dumps(tokens, indent=2).encode())
put("fuzz_vocabulary", "tokenizer.json", json.dumps({
    "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(tokens[:8])}},
    "added_tokens": [{"id": 8 + i, "content": t} for i, t in enumerate(tokens[8:])]}).encode())
put("fuzz_config", "micro", json.dumps(hf_config("micro")).encode())
put("fuzz_config", "tiny", json.dumps(hf_config("tiny")).encode())
put("fuzz_config", "ct2_suppress", json.dumps({"suppress_ids": [1, 2, 7, 8, 9, 10, 14, 25],
                                               "suppress_ids_begin": [220, 50257],
                                               "lang_ids": [50259, 50260]}).encode())
for i, (shape, dtype) in enumerate([((8, 8), np.float32), ((2, 8, 8), np.float64), ((3,), np.float32)]):
    import io
    buf = io.BytesIO()
    np.save(buf, np.zeros(shape, dtype))
    put("fuzz_npy", f"arr{i}", buf.getvalue())
# ONNX: small initializers, raw and as float_data, and the VAD's names at shapes too small
put("fuzz_onnx", "small", onnx_model([onnx_tensor("a", (2, 3), [1, 2, 3, 4, 5, 6]),
                                      onnx_tensor("b", (4,), [0.5] * 4, raw=False),
                                      onnx_tensor("decoder.conv1d.bias", (1, 1, 1), [0.1])]))
put("fuzz_onnx", "vad_names", onnx_model([onnx_tensor(n, (1,) * len(shape)) for n, shape in SILERO.items()]))
for rate, channels in ((16000, 1), (22050, 2)):
    buf = __import__("io").BytesIO()
    with wave.open(buf, "wb") as wv:
        wv.setnchannels(channels)
        wv.setsampwidth(2)
        wv.setframerate(rate)
        t = np.arange(rate // 4)
        tone = (np.sin(t * 0.05) * 8000).astype("<i2")
        wv.writeframes(np.repeat(tone, channels).tobytes())
    put("fuzz_audio", f"tone_{rate}_{channels}.wav", buf.getvalue())


# tokenizer.json + NUL + text: GPT-2's byte characters as the vocabulary, a few merges in both
# forms, added tokens (one a prefix of another), then text with words, spaces, digits, an added
# token, a multibyte character
vocab = {c: b for b, c in gpt2_byte_chars().items()}
vocab.update({"\u0120t": 256, "he": 257, "\u0120the": 258, "ab": 259})
tokenizer = {"added_tokens": [{"id": 300, "content": "<|a|>"}, {"id": 301, "content": "<|a|><|b|>"}],
             "normalizer": None,
             "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
             "model": {"type": "BPE", "dropout": None, "vocab": vocab,
                       "merges": ["\u0120 t", ["h", "e"], "\u0120t he", "a b"]}}
for i, text in enumerate(["the abab  cab's 12 <|a|><|b|> \u00e4\u4f60 end.\n", "", "<|a|>"]):
    put("fuzz_tokenizer", f"tok{i}", json.dumps(tokenizer).encode() + b"\0" + text.encode())



# qattn serve's request fields, "name\0value\0..." (fuzz_form.c): what the openai SDK and curl send
for i, fields in enumerate([
        [("model", "whisper-1")],
        [("model", "whisper-1"), ("response_format", "verbose_json"), ("timestamp_granularities[]", "word"),
         ("timestamp_granularities[]", "segment"), ("language", "en"), ("temperature", "0.2")],
        [("stream", "true"), ("response_format", "text"), ("prompt", "Hello, world."), ("beam_size", "3")],
        [("vad_filter", "true"), ("word_timestamps", "1"), ("hotwords", "qattn"), ("best_of", "2"),
         ("condition_on_previous_text", "false"), ("response_format", "srt")]]):
    put("fuzz_form", f"seed{i}", b"".join(n.encode() + b"\0" + v.encode() + b"\0" for n, v in fields))
