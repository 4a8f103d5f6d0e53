"""Transcription from the two other formats users have (issue 12: "weights from all three
formats"): the trained CTranslate2 models rewritten by converted.py as a Hugging Face directory
and a whisper.cpp ggml file must transcribe as faster-whisper does on the CTranslate2 original;
the vocabulary a ggml file leaves implicit (its special tokens) and the suppressed tokens it
does not list must be faster-whisper's; malformed ones are refused clearly."""
import json
import struct

import pytest

import qattn
from converted import named_weights, vocabulary, write_ggml, write_hf
from test_transcribe import clips, compare_segments, faster_whisper  # noqa: F401 (fixture)
from trained import MODELS, model_dir
from whisper_files import (ggml_file_bytes, ggml_name, random_decoder, random_weights,
                           write_hf as write_random_hf)

peers = pytest.mark.peers
CLIPS = {"tiny.en": ["long"], "base": ["german"]}


@pytest.fixture(scope="module", params=MODELS)
def converted(request, tmp_path_factory):
    """(name, CTranslate2 dir, Hugging Face dir, ggml file). tiny.en's tokenizer.json lacks the
    timestamp tokens, as older revisions of openai's repositories have it."""
    name, root = request.param, tmp_path_factory.mktemp("converted")
    d = model_dir(name)
    return (name, d, write_hf(d, root / "hf", drop_timestamps=name == "tiny.en"),
            write_ggml(d, root / "model.ggml.bin"))


@peers
def test_formats_transcribe_as_faster_whisper(converted, clips):  # noqa: F811
    """f32 from the Hugging Face directory and from the ggml file: faster-whisper float32's
    transcript on the CTranslate2 original, token for token; int8 from them: the same text as
    int8 from the CTranslate2 directory (the same weights, so the same quantization)."""
    name, d, hf, ggml = converted
    fw = faster_whisper(d, "float32")
    int8_ct2 = qattn.Whisper(d, precision="int8", threads=2)
    for path in (hf, ggml):
        f32 = qattn.Whisper(path, precision="f32", threads=2)
        int8 = qattn.Whisper(path, precision="int8", threads=2)
        for clip in CLIPS[name]:
            audio = clips[clip][2]
            ours, info = f32.transcribe(audio)
            ours = list(ours)  # a generator: compare_segments reads it more than once
            theirs, their_info = fw.transcribe(audio)
            assert compare_segments(ours, list(theirs)) <= 0.1, (path, clip)
            assert info.language == their_info.language
            assert [s.text for s in int8.transcribe(audio)[0]] == \
                   [s.text for s in int8_ct2.transcribe(audio)[0]]


@peers
def test_suppressed_tokens_are_faster_whispers(converted, tmp_path):
    """faster-whisper's get_suppressed_tokens(tokenizer, [-1]) (its non-speech symbols found
    with the tokenizer, and the specials), from each format: the lists CTranslate2's
    config.json and Hugging Face's generation_config.json carry, and the one computed from the
    vocabulary where no file lists them (ggml; a Hugging Face directory without
    generation_config.json). At the first step: " " and <|endoftext|>."""
    import tokenizers
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens
    name, d, hf, ggml = converted
    multilingual = name != "tiny.en"
    tok = Tokenizer(tokenizers.Tokenizer.from_file(d + "/tokenizer.json"), multilingual,
                    task="transcribe", language="en")
    expected = tuple(get_suppressed_tokens(tok, [-1]))
    bare = tmp_path / "no-generation-config"
    bare.mkdir()
    for f in ("config.json", "model.safetensors", "tokenizer.json"):
        (bare / f).symlink_to(hf / f)
    for path in (d, hf, ggml, bare):
        model = qattn.Whisper(path, precision="int8", threads=2)
        assert model.suppressed_tokens() == expected, path
        assert model.suppressed_tokens(at_begin=True) == (220, tok.eot), path


def test_ggml_vocabulary_is_the_models(converted):
    """A ggml file holds the text tokens' bytes only; the special tokens follow whisper.cpp's
    layout. Every id names what CTranslate2's vocabulary names (its text decodes to the same
    bytes; the specials by name, <|nocaptions|> being <|nospeech|> in some files; the language
    tokens in openai's order, which base's vocabulary shares)."""
    name, d, _, ggml = converted
    tokens = vocabulary(d)
    ours, theirs = qattn.Vocabulary(ggml), qattn.Vocabulary(d)
    assert len(ours) == len(tokens)
    eot = tokens.index("<|endoftext|>")
    assert all(ours.decode([i]) == theirs.decode([i]) for i in range(eot))
    sot, translate = tokens.index("<|startoftranscript|>"), tokens.index("<|translate|>")
    for i in range(eot, len(tokens)):
        if name == "tiny.en" and sot < i < translate:
            continue  # unused by English-only models; tiny.en's file names Hebrew <|iw|>, openai <|he|>
        want = "<|nocaptions|>" if tokens[i] == "<|nospeech|>" else tokens[i]
        assert ours.id(want) == i, (i, want)


def test_hugging_face_vocabulary_from_tokenizer_json(converted):
    """tokenizer.json's model.vocab and added tokens number the vocabulary (base's runs to
    <|30.00|>; tiny.en's, without timestamps, to <|notimestamps|>, the rest added at load)."""
    name, d, hf, _ = converted
    v, tokens = qattn.Vocabulary(hf), vocabulary(d)
    n = tokens.index("<|notimestamps|>") + 1 if name == "tiny.en" else len(tokens)
    assert len(v) == n
    for i in (0, 220, 50000, tokens.index("<|endoftext|>"), n - 1):
        assert v.id(tokens[i]) == i


def test_decoderless_and_malformed_files(tmp_path):
    """An encoder-only Hugging Face file, a ggml file whose vocabulary is no Whisper layout, a
    tokenizer.json with a gap in its ids: one clear error each."""
    enc = write_random_hf(tmp_path / "encoder-only", "tiny", random_weights("tiny", seed=3))
    (enc / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0, "<|endoftext|>": 1}}}))
    with pytest.raises(qattn.QattnError, match="no (usable )?Whisper decoder"):
        qattn.Whisper(enc, precision="f32")
    gap = tmp_path / "gap"
    gap.mkdir()
    (gap / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0, "<|endoftext|>": 2}}}))
    with pytest.raises(qattn.QattnError, match="no token has id 1"):
        qattn.Vocabulary(gap)
    twice = tmp_path / "twice"
    twice.mkdir()
    (twice / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0, "<|endoftext|>": 1}},
                                                      "added_tokens": [{"id": 0, "content": "b"}]}))
    with pytest.raises(qattn.QattnError, match="id 0 names two tokens"):
        qattn.Vocabulary(twice)


def test_ggml_vocabulary_layouts_refused(converted, tmp_path):
    """A ggml file of too few text tokens, or of an id count no Whisper vocabulary has."""
    _, _, _, ggml = converted
    blob = bytearray(open(ggml, "rb").read())
    n_mels, n_fft = struct.unpack_from("<ii", blob, 48)
    at = 56 + 4 * n_mels * n_fft  # the vocabulary's count
    for field, value in ((4, 50000), (at, 100)):  # hparams n_vocab; the text tokens' count
        bad = bytearray(blob)
        struct.pack_into("<i", bad, field, value)
        p = tmp_path / f"bad{field}.bin"
        p.write_bytes(bytes(bad) if field == 4 else bytes(bad[:at + 4]))
        with pytest.raises(qattn.QattnError, match="not a layout of Whisper's vocabularies|truncated|shape"):
            qattn.Vocabulary(p)


@pytest.mark.parametrize("case", ["widths", "vocabulary"])
def test_inconsistent_models_refused(tmp_path, case):
    """A ggml file whose decoder is narrower than its encoder (the decoder would read past the
    encoder's rows), or whose embedding has fewer rows than its vocabulary has ids: refused at
    load, naming both sizes."""
    encoder = {ggml_name(k): v for k, v in random_weights("micro", seed=4).items()}  # d 64
    d, rows = (16, 51864) if case == "widths" else (64, 51000)
    decoder = named_weights(random_decoder(d=d, ffn=4 * d, vocab=rows, ctx=4), 1)
    hparams = (51864, 4, 64, 4, 1, 4, d, 1 if d == 16 else 4, 1, 8)
    p = tmp_path / "model.bin"
    p.write_bytes(ggml_file_bytes(hparams, {**encoder, **decoder}, True,
                                  [b"t%d" % i for i in range(50256)], 8))
    want = "encoder's width is 64, the decoder's 16" if case == "widths" else \
        "vocabulary has 51864 tokens, the decoder 51000"
    with pytest.raises(qattn.QattnError, match=want):
        qattn.Whisper(p, precision="f32")


@peers
def test_word_timestamps_from_every_format(converted, clips):  # noqa: F811
    """The alignment heads from each format: CTranslate2's config.json, Hugging Face's
    generation_config.json, and for a ggml file (which does not say) whisper.cpp's table for
    its shape. Words from the three equal (the same weights; f16 in the two conversions),
    while other heads move them."""
    name, d, hf, ggml = converted
    if name != "tiny.en":
        pytest.skip("one model is enough for the heads' source")
    audio = clips[CLIPS[name][0]][2]

    def words(path, **options):
        m = qattn.Whisper(path, precision="f32", threads=2)
        return [(w.word, w.start, w.end) for s in m.transcribe(audio, word_timestamps=True, **options)[0]
                for w in s.words]

    ct2 = words(d)
    assert len(ct2) > 20
    for path in (hf, ggml):
        other = words(path)
        assert [w[0] for w in other] == [w[0] for w in ct2], path
        assert max(max(abs(a[1] - b[1]), abs(a[2] - b[2])) for a, b in zip(other, ct2)) <= 0.02, path
    assert words(d, alignment_heads="0:0,0:1") != ct2


def test_int8_embedding_storage(tmp_path):
    """The int8 decoder keeps the token embedding in 16 bits when the file's values are
    16-bit floats exactly (binary16 for float16 and float32 files, bfloat16 for bfloat16 ones)
    and as floats otherwise: the same values stored each way give the same logits. tiny.en's
    weights rounded to each 16-bit type and written as that type and as float32; in each
    float32 file one value of an embedding row no token below reads is made one the 16-bit type
    cannot hold, so that file keeps floats (that row's logit column is left out)."""
    import numpy as np
    import torch
    from trained import read_ct2
    from whisper_files import safetensors_bytes
    d = model_dir("tiny.en")
    weights = named_weights(read_ct2(d + "/model.bin"), 0)
    embed = "model.decoder.embed_tokens.weight"
    planted = weights[embed].shape[0] - 1  # <|endoftext|>'s neighbour: not among the tokens
    tokens = [50257, 50362, 440, 1049, 318, 257, 1332, 13]  # <|startoftranscript|><|notimestamps|> ...
    features = np.random.default_rng(3).standard_normal((1500, 384)).astype(np.float32) * 0.5
    for kind, rounded in (("F16", lambda a: a.astype(np.float16).astype(np.float32)),
                          ("BF16", lambda a: torch.from_numpy(a).to(torch.bfloat16).float().numpy())):
        values = {k: rounded(np.ascontiguousarray(v, np.float32)) for k, v in weights.items()}
        logits = {}
        for stored in (kind, "F32"):
            out = write_hf(d, tmp_path / f"{kind}-{stored}")
            if stored == "F32":  # below binary16's subnormals; a 9th fraction bit for bfloat16
                values[embed][planted, 5] = 2.0 ** -30 if kind == "F16" else 1.0 + 2.0 ** -9
            (out / "model.safetensors").write_bytes(safetensors_bytes(values, stored))
            logits[stored] = qattn.Decoder(out, precision="int8", threads=2).logits(features, tokens)
        keep = np.arange(logits["F32"].shape[1]) != planted
        assert np.array_equal(logits[kind][:, keep], logits["F32"][:, keep]), kind
