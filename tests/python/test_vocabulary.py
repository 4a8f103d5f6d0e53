"""Vocabulary files as CTranslate2 writes them (docs/whisper-facts.md, "Vocabulary, tokenizer, ids to text"), small ones written
here: the .txt form (empty lines are tokens; CRLF only stripped when every line has it), the
.json form (preferred when both exist), lookups by name, ids -> text through GPT-2's byte-level
form, and the errors."""
import json

import pytest

import qattn

# byte-level forms: "Ġ" = U+0120 = a space, "Ċ" = U+010A = "\n"; "ä" (C3 A4) split as "Ã" (C3)
# and "¤" (A4); U+4F60 "你" (E4 BD A0) written as its three byte characters
TOKENS = ["!", "a", "\u0120the", "\u010a", "\u00c3", "\u00a4", "\u00e4\u00bd\u0142", "",
          "<|endoftext|>", "<|startoftranscript|>", "<|0.00|>"]
BANG, A, THE, NL, C3, A4, NI, EMPTY, EOT, SOT, TS0 = range(len(TOKENS))


@pytest.mark.parametrize("form", ["txt", "crlf", "json"])
def test_forms(tmp_path, form):
    d = tmp_path / form
    d.mkdir()
    if form == "json":
        (d / "vocabulary.json").write_text(json.dumps(TOKENS, indent=2))  # ensure_ascii: \\u escapes
        (d / "vocabulary.txt").write_text("ignored\n")
    else:
        sep = "\r\n" if form == "crlf" else "\n"
        (d / "vocabulary.txt").write_bytes((sep.join(TOKENS) + sep).encode())
    v = qattn.Vocabulary(d)
    assert len(v) == len(TOKENS)
    assert (v.id("<|endoftext|>"), v.id("<|0.00|>"), v.id("\u0120the"), v.id("")) == (EOT, TS0, THE, EMPTY)
    assert v.id("nope") == -1
    assert v.decode([A, THE, BANG, NL]) == "a the!\n"
    assert v.decode([C3, A4]) == "ä"            # a character split across tokens
    assert v.decode([NI, A]) == "你a"
    assert v.decode([C3, A]) == "\ufffda"       # an incomplete one: U+FFFD
    assert v.decode([A, EOT, SOT, TS0, A]) == "aa"  # specials are not text
    assert v.decode([]) == ""


def test_a_cr_in_some_lines_is_kept(tmp_path):
    d = tmp_path / "v"
    d.mkdir()
    (d / "vocabulary.txt").write_bytes(b"x\r\n<|endoftext|>\n")
    assert qattn.Vocabulary(d).id("x\r") == 0


def test_errors(tmp_path):
    with pytest.raises(qattn.QattnError, match="no vocabulary"):
        qattn.Vocabulary(tmp_path)
    d = tmp_path / "noeot"
    d.mkdir()
    (d / "vocabulary.txt").write_text("a\nb\n")
    with pytest.raises(qattn.QattnError, match="endoftext"):
        qattn.Vocabulary(d)
    d = tmp_path / "badjson"
    d.mkdir()
    (d / "vocabulary.json").write_text('["a", 3, "<|endoftext|>"]')
    with pytest.raises(qattn.QattnError, match="entry 1 is not a string"):
        qattn.Vocabulary(d)
    (d / "vocabulary.json").write_text('{"a": 1}')
    with pytest.raises(qattn.QattnError, match="JSON array"):
        qattn.Vocabulary(d)
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "vocabulary.txt").write_text("\n".join(TOKENS) + "\n")
    v = qattn.Vocabulary(ok)
    with pytest.raises(qattn.QattnError, match="outside"):
        v.decode([len(TOKENS)])
    with pytest.raises(qattn.QattnError, match="outside"):
        v.decode([-1])
