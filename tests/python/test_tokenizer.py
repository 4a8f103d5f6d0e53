"""Text -> token ids with a model's tokenizer.json (the prompt, prefix and hotwords text of
transcription): against Hugging Face `tokenizers` (PyPI, faster-whisper's tokenizer; marked
`peers`) on both trained models' files, which store their merges in the two forms the format
has; round trips through the vocabulary; small tokenizer.json files written here for the
rules and the errors."""
import json
import random

import pytest

import qattn
from trained import MODELS, model_dir
from whisper_files import gpt2_byte_chars

# text meant to reach every branch: contractions, digits, punctuation runs, whitespace runs
# before words and at the end, letters of several scripts, emoji (4-byte UTF-8), NEL and other
# Unicode spaces, added tokens written in the text, and long words
FIXED = ["Hello world", " Hello world", "I'll don't you're we've I'M it's 'S'T",
         "  multiple   spaces\t\ttabs\n\nnew lines  ", "Numbers 12345 3.14159 1,000,000 2024-11-22",
         "Grüße aus Köln, Straße", "日本語のテキスト、中文文本", "emoji 😀🎉 👍🏽",
         "<|en|> special <|endoftext|><|notimestamps|> <|0.00|><|30.00|>", "trailing space ", "",
         "a", "x" * 300, "<<<|||>>> <| en |>", "\x85 nel \u00a0 nbsp \u2028 ls \u3000 ideo",
         "Ελληνικά κείμενο", "مرحبا بالعالم", "supercalifragilisticexpialidocious",
         "¿Qué? ¡Sí! «guillemets» — dash … ellipsis", "café cafe\u0301", "tab\tbefore"]
POOL = (list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789") + [" "] * 8 +
        list(".,;:!?'\"-()[]{}<>|/\\@#$%^&*_+=~`") + ["\t", "\n", "\r", "\x0b", "\x85", "\u00a0", "\u3000"] +
        list("äöüßéèñçøåæœ") + list("你好世界日本語") + list("привет") + ["😀", "🎉", "👍🏽"] +
        ["'s", "'ll", "'re", "<|en|>", "<|endoftext|>", "<|", "|>"])


def random_texts(n, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(0, 40))) for _ in range(n)]


@pytest.mark.peers
@pytest.mark.parametrize("name", MODELS)
def test_ids_equal_hugging_face_tokenizers(name):
    """Every text gives the ids `tokenizers` gives (add_special_tokens=False, as faster-whisper's
    Tokenizer.encode), on fixed texts and 400 random ones."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        pytest.fail("tokenizers is not importable: run the suite with the test venv's python")
    d = model_dir(name)
    theirs, ours = Tokenizer.from_file(f"{d}/tokenizer.json"), qattn.Tokenizer(d)
    for text in FIXED + random_texts(400, seed=12):
        assert ours.encode(text) == theirs.encode(text, add_special_tokens=False).ids, repr(text)


@pytest.mark.parametrize("name", MODELS)
def test_text_round_trips_through_the_vocabulary(name):
    """decode(encode(text)) is the text for any text without added tokens (byte-level BPE
    loses nothing); an added token written in the text is its own id."""
    d = model_dir(name)
    tokenizer, vocabulary = qattn.Tokenizer(d), qattn.Vocabulary(d)
    for text in random_texts(300, seed=5) + FIXED:
        plain = text.replace("<|", "< |")
        if "<|" not in plain:
            assert vocabulary.decode(tokenizer.encode(plain)) == plain, repr(plain)
    eot = vocabulary.id("<|endoftext|>")
    assert tokenizer.encode("<|endoftext|>") == [eot]
    assert tokenizer.encode(" hi<|endoftext|>hi")[1] == eot
    assert len(tokenizer.encode(" the")) == 1  # a merged word is one token


def write_tokenizer(d, vocab, merges, added=(), **top):
    d.mkdir(exist_ok=True)
    doc = {"version": "1.0", "added_tokens": [{"id": i, "content": c} for c, i in added],
           "normalizer": None,
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
           "model": {"type": "BPE", "dropout": None, "vocab": vocab, "merges": merges}}
    doc.update(top)
    (d / "tokenizer.json").write_text(json.dumps(doc))
    return d


def small_vocab(*extra):
    chars = gpt2_byte_chars()
    vocab = {chars[b]: b for b in range(256)}
    for i, token in enumerate(extra):
        vocab[token] = 256 + i
    return vocab


def test_merge_rank_decides_not_length(tmp_path):
    """The lowest-ranked pair merges first: with "b c" ranked before "a b", "abc" is a + bc;
    ranked the other way, ab + c. Both merge forms ("a b" strings and [a, b] pairs) read."""
    vocab = small_vocab("ab", "bc")
    first = qattn.Tokenizer(write_tokenizer(tmp_path / "bc_first", vocab, ["b c", "a b"]))
    assert first.encode("abc") == [ord("a"), vocab["bc"]]
    second = qattn.Tokenizer(write_tokenizer(tmp_path / "ab_first", vocab, [["a", "b"], ["b", "c"]]))
    assert second.encode("abc") == [vocab["ab"], ord("c")]
    # a repeated symbol: leftmost first, "aaa" -> aa + a
    vocab = small_vocab("aa")
    assert qattn.Tokenizer(write_tokenizer(tmp_path / "aa", vocab, ["a a"])).encode("aaa") == [vocab["aa"], ord("a")]
    # the pattern splits before merging: "a b" never merges across the space
    vocab = small_vocab("ab")
    t = qattn.Tokenizer(write_tokenizer(tmp_path / "split", vocab, ["a b"]))
    assert t.encode("a b") == [ord("a"), ord(" "), ord("b")]  # ids here are the byte values
    assert t.encode("x" * 100000 + "ab")[-1] == vocab["ab"]  # a long word stays fast


def test_added_tokens_longest_first(tmp_path):
    vocab = small_vocab()
    t = qattn.Tokenizer(write_tokenizer(tmp_path / "added", vocab, [],
                                        added=[("<|a|>", 300), ("<|a|><|b|>", 301)]))
    assert t.encode("x<|a|><|b|>y<|a|>") == [ord("x"), 301, ord("y"), 300]


def test_bad_files_and_text_fail_clearly(tmp_path):
    with pytest.raises(qattn.QattnError, match="tokenizer.json"):
        qattn.Tokenizer(tmp_path)  # none there
    vocab = small_vocab("ab")
    cases = [({"normalizer": {"type": "NFC"}}, "normalizer"),
             ({"pre_tokenizer": {"type": "Whitespace"}}, "pre-tokenizer"),
             ({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True}}, "add_prefix_space"),
             ({"model": {"type": "WordPiece", "vocab": vocab, "merges": []}}, "BPE"),
             ({"model": {"type": "BPE", "vocab": vocab, "merges": ["a q"]}}, "not in the vocabulary"),
             ({"model": {"type": "BPE", "vocab": vocab, "merges": ["a b c"]}}, "not a pair"),
             ({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}, "byte 0x"),
             ({"model": {"type": "BPE", "vocab": dict(vocab, z=-1), "merges": []}}, "id"),
             ({"model": {"type": "BPE", "vocab": vocab}}, "merges")]
    for i, (top, message) in enumerate(cases):
        with pytest.raises(qattn.QattnError, match=message):
            qattn.Tokenizer(write_tokenizer(tmp_path / f"bad{i}", vocab, ["a b"], **top))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "tokenizer.json").write_text("[1, 2")
    with pytest.raises(qattn.QattnError, match="JSON"):
        qattn.Tokenizer(tmp_path / "junk")
    t = qattn.Tokenizer(write_tokenizer(tmp_path / "ok", vocab, ["a b"]))
    with pytest.raises(qattn.QattnError, match="UTF-8"):
        t.encode(b"ok \xff\xfe bytes")
    with pytest.raises(qattn.QattnError, match="UTF-8"):
        t.encode(b"cut \xe4\xbd")
