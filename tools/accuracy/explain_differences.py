"""Why qattn f32 and faster-whisper float32 transcribe a recording differently: for each given
file, both engines transcribe it (faster-whisper's defaults, language en, the same 16 kHz
samples with --same-input), and at the first window whose tokens differ the tool says which
of three causes it is:

- "fallback": either engine decoded that window at a temperature above 0; the two sample
  from different random generators, so their texts are not expected to agree (the tool then
  transcribes again without fallback and says whether the searches at temperature 0 agree);
- "near tie": at temperature 0, qattn's tokens for the window are among the hypotheses of
  CTranslate2's own beam (generate(..., num_hypotheses=beam_size, return_scores=True) on the
  same prompt and encoder output faster-whisper used), and the two scores (CTranslate2's:
  sum of log-probabilities / length) are printed: when they are close, float rounding
  between the two implementations picks either;
- "not in the beam": qattn's hypothesis is not among CTranslate2's final hypotheses (a tie
  earlier in the search, where a hypothesis was pruned; or a real difference to look into).

usage: PYTHONPATH=python <test venv>/bin/python tools/accuracy/explain_differences.py MODEL
       FILE... [--same-input] [--threads T]"""
import argparse
import json



def fw_windows(model, samples, options):
    """faster-whisper's segments of samples, and per call of its decoding (one per window, in
    order) the prompt, the temperature kept and CTranslate2's n-best list at temperature 0."""
    calls = []
    real = model.generate_with_fallback

    def recording(encoder_output, prompt, tokenizer, opts):
        result = real(encoder_output, prompt, tokenizer, opts)
        nbest = model.model.generate(
            encoder_output, [prompt], beam_size=opts.beam_size, patience=opts.patience,
            num_hypotheses=opts.beam_size, length_penalty=opts.length_penalty,
            max_length=model.max_length, return_scores=True, suppress_blank=opts.suppress_blank,
            suppress_tokens=opts.suppress_tokens,
            max_initial_timestamp_index=int(round(opts.max_initial_timestamp / model.time_precision)))[0]
        calls.append({"prompt": list(prompt), "temperature": result[3],
                      "nbest": [(list(ids), float(s)) for ids, s in zip(nbest.sequences_ids, nbest.scores)]})
        return result

    model.generate_with_fallback = recording
    try:
        segments = list(model.transcribe(samples, **options)[0])
    finally:
        del model.generate_with_fallback  # the class's method again
    return segments, calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--same-input", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import qattn
    from faster_whisper import WhisperModel, decode_audio
    from qattn import wer
    options = dict(wer.OPTIONS)
    fw = WhisperModel(a.model, device="cpu", compute_type="float32", cpu_threads=a.threads)
    ours = qattn.Whisper(a.model, precision="f32", threads=a.threads)
    for path in a.files:
        samples = decode_audio(path) if a.same_input else None
        fw_segments, calls = fw_windows(fw, samples if samples is not None else path, options)
        q_segments = list(ours.transcribe(samples if samples is not None else path, **options)[0])
        out = explain(path, fw_segments, calls, q_segments)
        if out["cause"] == "fallback":
            # was the search at temperature 0 the same? (then only the sampling differs)
            greedy = dict(options, temperature=0.0)
            src = samples if samples is not None else path
            fw_text = "".join(s.text for s in fw.transcribe(src, **greedy)[0])
            q_text = "".join(s.text for s in ours.transcribe(src, **greedy)[0])
            out["same_at_temperature_0"] = fw_text == q_text
        print(json.dumps(out))


def window_tokens(segments):
    """{seek: the tokens of the window's segments, in order}."""
    out = {}
    for s in segments:
        out.setdefault(s.seek, []).extend(s.tokens)
    return out


def explain(path, fw_segments, calls, q_segments):
    fw_w, q_w = window_tokens(fw_segments), window_tokens(q_segments)
    fw_t = {s.seek: s.temperature for s in fw_segments}
    q_t = {s.seek: s.temperature for s in q_segments}
    seeks = sorted(set(fw_w) | set(q_w))
    first = next((k for k in seeks if fw_w.get(k) != q_w.get(k)), None)
    if first is None:
        return {"file": path, "cause": "same tokens"}
    # the call of this window: one call per window in seek order, when no window was skipped
    # as silence (then the calls and the windows with segments are as many)
    index = sorted(fw_w).index(first) if first in fw_w and len(calls) == len(fw_w) else None
    call = calls[index] if index is not None else None
    out = {"file": path, "seek": first, "fw_temperature": fw_t.get(first), "qattn_temperature": q_t.get(first)}
    if (fw_t.get(first) or 0) > 0 or (q_t.get(first) or 0) > 0:
        out["cause"] = "fallback"
    elif call is None:
        out["cause"] = "windows differ (seek or a skipped window)"
    else:
        mine = q_w.get(first, [])
        hit = next((s for ids, s in call["nbest"] if list(ids[:len(mine)]) == mine), None)
        out["fw_score"] = call["nbest"][0][1]
        out["qattn_score_in_ct2_beam"] = hit
        out["cause"] = "near tie" if hit is not None else "not in the beam"
        out["nbest_scores"] = [round(s, 5) for _, s in call["nbest"]]
    return out


if __name__ == "__main__":
    main()
