/*
 * qattn: integer-only attention (int8 in, int32 accumulation, integer softmax, int8 out).
 *
 * The whole public C API. Every function returns a qattn_status (0 on success) unless it
 * says otherwise; on failure qattn_last_error() returns a one-line message naming what was
 * wrong, and the arguments were checked before anything was allocated or written: a call
 * that fails on its arguments writes nothing. A call that fails later (out of memory) may
 * have written part of its outputs, never past their documented size; where a function
 * guarantees more, it says so.
 *
 * The quantization contract (docs/quantization.md has the derivation and the proofs):
 *   - real = scale * int8, symmetric, float scales, per head where a scale is per head;
 *   - float -> int8: x / scale as an IEEE float32 division, rounded to nearest with ties to
 *     even, then saturated to [-128, 127] (one rule everywhere in the library);
 *   - integer rescaling inside the kernel: round to nearest, ties away from zero
 *     (on magnitudes), then saturate;
 *   - scores: s_q * s_k / sqrt(D) * (q . k), the factor folded with log2(e) into one
 *     fixed-point multiplier; softmax in base 2 relative to the row maximum;
 *   - unnormalized exponentials e in [0, 65535] (Q16, row maximum = 65535), the division
 *     by the row sum done once per output row, after the product with V;
 *   - int32 accumulation per 64-key tile, int64 across tiles; at most QATTN_MAX_KEYS keys.
 *
 * Thread safety: every function is reentrant; qattn_last_error() is per thread.
 *
 * Growing without breaking: every params and info struct starts with `struct_size`, the
 * struct's size as the caller was compiled with it. A params struct comes from its _default
 * function (which sets it); an info struct's caller sets it (info.struct_size = sizeof info)
 * before the call fills it. The library reads and writes only the first struct_size bytes,
 * so a program built against an older qattn.h keeps working when fields are added at the
 * end (the fields it does not know take their defaults); struct_size 0 (a struct never
 * initialised) or larger than this library's struct is QATTN_ERR_ARG. (For the library's
 * maintainers: a new field starts at or after the struct's previous sizeof, never in its
 * trailing padding, which an older caller leaves undefined.)
 */
#ifndef QATTN_H
#define QATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QATTN_VERSION_MAJOR 0
#define QATTN_VERSION_MINOR 2
#define QATTN_VERSION_PATCH 0
#define QATTN_VERSION_STRING "0.2.0"

/* Marks the public API: the shared library is built with hidden visibility and exports these
 * names only (all of them start with qattn_). */
#if defined(QATTN_BUILDING_LIBRARY) && defined(__GNUC__)
#define QATTN_API __attribute__((visibility("default")))
#else
#define QATTN_API
#endif

/* Head dimension: a multiple of 16 in [QATTN_MIN_HEAD_DIM, QATTN_MAX_HEAD_DIM]. */
#define QATTN_MIN_HEAD_DIM 16
#define QATTN_MAX_HEAD_DIM 256
/* Largest key length: keeps the int64 running accumulators exact (docs/quantization.md). */
#define QATTN_MAX_KEYS (1 << 22)
/* Largest query length and head count accepted (sizes are also checked for overflow). */
#define QATTN_MAX_QUERIES (1 << 24)
#define QATTN_MAX_HEADS 4096
/* Largest ratio scale_v / scale_out: beyond it every non-zero output saturates. */
#define QATTN_MAX_OUTPUT_GAIN 16777216.0 /* 2^24 */

typedef enum qattn_status {
    QATTN_OK = 0,
    QATTN_ERR_NULL = 1,          /* a required pointer is NULL */
    QATTN_ERR_SIZE = 2,          /* a size is zero, negative, too large, or overflows */
    QATTN_ERR_HEAD_DIM = 3,      /* head_dim is not a multiple of 16 in [16, 256] */
    QATTN_ERR_TOO_MANY_KEYS = 4, /* len_k exceeds QATTN_MAX_KEYS */
    QATTN_ERR_SCALE = 5,         /* a scale is not finite, not positive, or out of range */
    QATTN_ERR_KV_LEN = 6,        /* a valid key length is outside [1, len_k] */
    QATTN_ERR_NOMEM = 7,         /* memory allocation failed */
    QATTN_ERR_VALUE = 8,         /* an input value is NaN or infinite */
    QATTN_ERR_ISA = 9,           /* a requested instruction-set tier is unknown or unsupported */
    QATTN_ERR_IO = 10,           /* a file could not be opened, read or mapped */
    QATTN_ERR_MODEL = 11,        /* a model file is malformed, truncated or unsupported */
    QATTN_ERR_ARG = 12,          /* an argument is outside its documented domain: an unknown
                                    enum value (precision), a negative thread count, an
                                    unsupported mel band count */
    QATTN_CANCELLED = 13,        /* the work was cancelled (qattn_session_cancel) before it
                                    was done: not a success, not a fault */
    QATTN_ERR_NOT_FOUND = 14,    /* a file or directory does not exist */
    /* Not errors: a transcription session's answers besides QATTN_OK (qattn_session_next) */
    QATTN_DONE = 100,            /* every segment has been given: the audio is finished */
    QATTN_AGAIN = 101            /* no segment yet: feed more audio, or finish it */
} qattn_status;

/* Instruction-set tiers, lowest first. Every tier gives bit-identical results. */
typedef enum qattn_isa {
    QATTN_ISA_AUTO = 0,       /* the best tier the CPU and OS allow, or QATTN_ISA's */
    QATTN_ISA_SCALAR = 1,     /* the portable reference */
    QATTN_ISA_AVX2 = 2,
    QATTN_ISA_AVX512VNNI = 3, /* AVX-512 F/BW/VL + VNNI */
    QATTN_ISA_AMX = 4         /* AMX-TILE + AMX-INT8 (with the AVX-512 VNNI tier): GEMMs and
                                 attention products on tiles (Linux, GCC >= 11 builds) */
} qattn_isa;

/* "scalar", "avx2", "avx512vnni", "amx"; "auto" for QATTN_ISA_AUTO; NULL if unknown. */
QATTN_API const char *qattn_isa_name(qattn_isa isa);

/* Non-zero if this build implements the tier and this CPU and OS can run it. */
QATTN_API int qattn_isa_supported(qattn_isa isa);

/*
 * The tier calls with isa = QATTN_ISA_AUTO use: the best supported one, or the one named
 * by the environment variable QATTN_ISA (scalar|avx2|avx512vnni|amx), read once per
 * process. Fails with QATTN_ERR_ISA if QATTN_ISA names an unknown or unsupported tier.
 */
QATTN_API qattn_status qattn_isa_active(qattn_isa *isa);

/* One line per fact about the CPU, the OS and the choice, for `qattn info`. Writes at most
 * size bytes (NUL-terminated) and returns the full length, like snprintf. */
QATTN_API size_t qattn_cpu_report(char *buf, size_t size);

/* A static description of a status code. Never NULL. */
QATTN_API const char *qattn_status_string(qattn_status status);

/* The message of the last failed call on this thread ("" if none). Valid until the next
 * qattn call on the same thread. */
QATTN_API const char *qattn_last_error(void);

/* The library version, "MAJOR.MINOR.PATCH". */
QATTN_API const char *qattn_version(void);

/*
 * Quantize n floats: out[i] = saturate(round_half_even(x[i] / scale)), the quotient a float32
 * division (numpy: np.clip(np.rint(x / np.float32(scale)), -128, 127) on float32 x).
 * NaN inputs quantize to 0; +-inf saturate. scale must be finite and > 0.
 */
QATTN_API qattn_status qattn_quantize_f32(const float *x, size_t n, float scale, int8_t *out);

/*
 * Multi-head attention on int8 tensors, all contiguous, row-major:
 *   q: [heads, len_q, head_dim], k and v: [heads, len_k, head_dim], out: [heads, len_q, head_dim].
 * out[h] ~ softmax(Q K^T / sqrt(head_dim)) V / scale_out[h], with Q = scale_q[h] * q[h] etc.
 */
enum { QATTN_CAUSAL_NONE = 0, QATTN_CAUSAL_TOP_LEFT = 1, QATTN_CAUSAL_BOTTOM_RIGHT = 2 };

typedef struct qattn_attention_desc {
    size_t struct_size; /* sizeof(qattn_attention_desc), set by qattn_attention_desc_default */
    int32_t heads;    /* >= 1 */
    int32_t len_q;    /* >= 1 */
    int32_t len_k;    /* in [1, QATTN_MAX_KEYS] */
    int32_t head_dim; /* multiple of 16 in [16, 256] */
    /* Per-head scales, `heads` entries each, finite and > 0. */
    const float *scale_q;
    const float *scale_k;
    const float *scale_v;
    const float *scale_out;
    /* QATTN_CAUSAL_NONE (0), QATTN_CAUSAL_TOP_LEFT (1: query i attends to keys j <= i, as
     * PyTorch's is_causal) or QATTN_CAUSAL_BOTTOM_RIGHT (2: query i attends to keys
     * j <= i + valid - len_q, valid = kv_len[h] or len_k: the queries are the last len_q
     * positions of the keys, as a decoder's new tokens after its cache; needs
     * len_q <= valid). Another value is QATTN_ERR_ARG. */
    int32_t causal;
    /* NULL, or `heads` entries in [1, len_k]: keys at or past kv_len[h] are padding and
     * ignored for head h. */
    const int32_t *kv_len;
    /* Worker threads; 0 = one per online CPU. Results do not depend on it. */
    int32_t threads;
    /* QATTN_ISA_AUTO, or a tier to force (it must be supported). */
    int32_t isa;
} qattn_attention_desc;

/* A desc with struct_size set and every other field zero / NULL: fill in sizes, scales and
 * pointers. */
QATTN_API qattn_attention_desc qattn_attention_desc_default(void);

/* Runs the kernel of the chosen tier (bit-identical on every tier). out must not overlap
 * the inputs. */
QATTN_API qattn_status qattn_attention_s8(const qattn_attention_desc *desc, const int8_t *q,
                                const int8_t *k, const int8_t *v, int8_t *out);

/*
 * Float convenience: per-head max-abs quantization of Q, K, V (scale = max|x| / 127, round to
 * nearest even; an all-zero head gets scale 1), the integer kernel with scale_out = scale_v
 * (never saturates: an output row is a convex combination of V rows), and dequantization.
 * Shapes as qattn_attention_s8 (scales in desc are ignored and may be NULL). Non-finite
 * inputs are an error.
 */
QATTN_API qattn_status qattn_attention_f32(const qattn_attention_desc *desc, const float *q,
                                 const float *k, const float *v, float *out);

/* ---------------------------------------------------------------------------------------
 * The Whisper encoder.
 * ------------------------------------------------------------------------------------- */

/* Every model loads in int8 unless f32 is asked for (QATTN_PRECISION_INT8 is 0). */
typedef enum qattn_precision {
    QATTN_PRECISION_INT8 = 0, /* INT8 GEMMs and the integer attention kernel; LayerNorm, GELU
                                 and residuals in float */
    QATTN_PRECISION_F32 = 1   /* float reference: OpenBLAS sgemm, float softmax */
} qattn_precision;

typedef struct qattn_encoder qattn_encoder;

/* How a model (encoder, decoder, or both) loads and runs. */
typedef struct qattn_encoder_params {
    size_t struct_size;
    qattn_precision precision;
    int32_t threads; /* 0: one per online CPU. f32's matrix products run on OpenBLAS, whose
                        threads qattn leaves alone (process-wide state a host program may own):
                        set OPENBLAS_NUM_THREADS, or call openblas_set_num_threads yourself */
    int32_t isa;     /* QATTN_ISA_AUTO or a tier to force */
} qattn_encoder_params;

/* int8, one thread per online CPU, the best tier; struct_size set. */
QATTN_API qattn_encoder_params qattn_encoder_default_params(void);

typedef struct qattn_encoder_info {
    size_t struct_size; /* the caller's sizeof(qattn_encoder_info) */
    int32_t n_mels, n_ctx, n_state, n_heads, n_layers;
} qattn_encoder_info;

/*
 * Loads an encoder from `path`: a Hugging Face Whisper directory (config.json and
 * model.safetensors or model.safetensors.index.json with its shards), a .safetensors file
 * with config.json beside it, or a whisper.cpp ggml-*.bin file (f32/f16). Tensors may be F32,
 * F16 or BF16; decoder tensors are ignored. Malformed files fail with QATTN_ERR_MODEL and a
 * message; nothing is kept on failure. The weights are immutable after loading: any number of
 * threads may run the encoder at once. Free it with qattn_encoder_free.
 */
QATTN_API qattn_status qattn_encoder_load(const char *path, const qattn_encoder_params *params,
                                qattn_encoder **encoder);

QATTN_API qattn_status qattn_encoder_get_info(const qattn_encoder *encoder, qattn_encoder_info *info);

/*
 * Encodes `batch` windows: mel is [batch][n_mels][2 * n_ctx] (log-mel as Whisper computes it,
 * 3000 frames per 30 s window), out is [batch][n_ctx][n_state]. Reentrant. The working
 * memory of a call (about 35 MB for base, 85 MB for large-v3) is kept by the encoder for its
 * next call and freed with it; calls at the same time in other threads allocate their own.
 * Non-finite mel values are an error.
 */
QATTN_API qattn_status qattn_encoder_run(const qattn_encoder *encoder, const float *mel, int32_t batch,
                               float *out);

QATTN_API void qattn_encoder_free(qattn_encoder *encoder);

/* ---------------------------------------------------------------------------------------
 * The Whisper decoder (the text side), float reference first: logits for a token sequence.
 * ------------------------------------------------------------------------------------- */

typedef struct qattn_decoder qattn_decoder;

typedef struct qattn_decoder_info {
    size_t struct_size; /* the caller's sizeof(qattn_decoder_info) */
    int32_t n_vocab, n_text_ctx, n_state, n_heads, n_layers;
} qattn_decoder_info;

/*
 * Loads the decoder of the model at `path` (any of the encoder's formats: CTranslate2,
 * Hugging Face with decoder_attention_heads in its config.json, whisper.cpp ggml f32/f16).
 * params: as the encoder's; NULL = qattn_encoder_default_params() (int8). int8: every linear
 * layer and the logits are INT8 GEMMs (weights per output row, activations per token at 16
 * bits), self- and cross-attention run on
 * the integer attention kernel (Q, K, V per head, the caches quantized as if all at once);
 * LayerNorm, GELU and the search stay in float.
 * Free it with qattn_decoder_free. Immutable after loading: any number of threads may use it.
 */
QATTN_API qattn_status qattn_decoder_load(const char *path, const qattn_encoder_params *params,
                                          qattn_decoder **decoder);
QATTN_API qattn_status qattn_decoder_get_info(const qattn_decoder *decoder, qattn_decoder_info *info);

/*
 * The decoder's logits for `n_tokens` tokens (positions 0 .. n_tokens - 1, each seeing the
 * tokens up to itself) given the encoder output `features` ([n_audio][n_state], e.g. one
 * window of qattn_encoder_run): logits is [n_tokens][n_vocab]. Tokens outside the vocabulary
 * are QATTN_ERR_ARG; more than n_text_ctx tokens QATTN_ERR_SIZE; non-finite features
 * QATTN_ERR_VALUE.
 */
QATTN_API qattn_status qattn_decoder_logits(const qattn_decoder *decoder, const float *features,
                                            int32_t n_audio, const int32_t *tokens,
                                            int32_t n_tokens, float *logits);
QATTN_API void qattn_decoder_free(qattn_decoder *decoder);

/*
 * Token by token, as decoding runs it: qattn_decoder_begin computes the cross-attention keys
 * and values of one window's encoder output once; each qattn_decoder_step appends n_tokens
 * tokens (the prompt at once, then one at a time), attending to every token so far (a key/value
 * cache), and writes the logits of the last one ([n_vocab]). The logits are those of
 * qattn_decoder_logits on the whole sequence, up to float rounding. A state belongs to one
 * thread at a time; free it with qattn_decoder_state_free.
 */
typedef struct qattn_decoder_state qattn_decoder_state;
QATTN_API qattn_status qattn_decoder_begin(const qattn_decoder *decoder, const float *features,
                                           int32_t n_audio, qattn_decoder_state **state);
QATTN_API qattn_status qattn_decoder_step(qattn_decoder_state *state, const int32_t *tokens,
                                          int32_t n_tokens, float *logits);
QATTN_API void qattn_decoder_state_free(qattn_decoder_state *state);

/*
 * A model's vocabulary (`path`: a CTranslate2 directory's vocabulary.json or vocabulary.txt, a
 * Hugging Face directory's tokenizer.json, or those beside a model file; a whisper.cpp ggml
 * file's tokens, its special tokens in whisper.cpp's layout) and
 * token ids -> UTF-8 text. qattn_vocabulary_id looks a token up by its name as the file writes
 * it ("<|endoftext|>", "<|en|>", "Ġthe"); -1 if absent. qattn_vocabulary_decode keeps the text
 * tokens (ids below <|endoftext|>), joins their bytes (Whisper's byte-level BPE) and decodes them
 * as UTF-8, so a character split across tokens comes out whole and an invalid sequence becomes
 * U+FFFD (as faster-whisper's and openai-whisper's decoders do). It writes at most size - 1
 * bytes of whole characters and a NUL, and sets *length to the full length (like snprintf).
 */
typedef struct qattn_vocabulary qattn_vocabulary;
QATTN_API qattn_status qattn_vocabulary_load(const char *path, qattn_vocabulary **vocabulary);
QATTN_API int32_t qattn_vocabulary_size(const qattn_vocabulary *vocabulary);
QATTN_API int32_t qattn_vocabulary_id(const qattn_vocabulary *vocabulary, const char *token);
QATTN_API qattn_status qattn_vocabulary_decode(const qattn_vocabulary *vocabulary, const int32_t *ids,
                                               int32_t n, char *text, size_t size, size_t *length);
QATTN_API void qattn_vocabulary_free(qattn_vocabulary *vocabulary);

/*
 * Text -> token ids with a model directory's tokenizer.json (Whisper's byte-level BPE), as
 * faster-whisper's Tokenizer.encode does it (Hugging Face tokenizers, add_special_tokens=False):
 * added tokens written verbatim ("<|en|>", "<|0.00|>") become their ids, the rest is split by
 * GPT-2's pattern and merged by rank. qattn_tokenizer_encode writes at most `capacity` ids and
 * sets *n_ids to the full count (capacity 0 sizes the array, like snprintf). The text must be
 * valid UTF-8 (QATTN_ERR_ARG otherwise) of at most 16 MiB. A tokenizer.json this does not
 * implement exactly (a normalizer, another pre-tokenizer or model) is QATTN_ERR_MODEL.
 */
typedef struct qattn_tokenizer qattn_tokenizer;
QATTN_API qattn_status qattn_tokenizer_load(const char *model_dir, qattn_tokenizer **tokenizer);
QATTN_API qattn_status qattn_tokenizer_encode(const qattn_tokenizer *tokenizer, const char *text,
                                              int32_t *ids, int32_t capacity, int32_t *n_ids);
QATTN_API void qattn_tokenizer_free(qattn_tokenizer *tokenizer);

/* ---------------------------------------------------------------------------------------
 * Voice activity detection: Silero VAD v6 (the graph of faster-whisper 1.2.1's
 * silero_vad_v6.onnx, MIT), computed here, its weights read from the ONNX file; and
 * faster-whisper's get_speech_timestamps over its probabilities (docs/transcribe.md, "VAD").
 * ------------------------------------------------------------------------------------- */

#define QATTN_VAD_CHUNK 512  /* samples at 16 kHz per probability (32 ms) */
#define QATTN_VAD_CONTEXT 64 /* samples of the previous chunk each one sees */

typedef struct qattn_vad qattn_vad;

/* Loads the VAD model at path (an ONNX file of Silero VAD v6's graph), or with path NULL the
 * one that ships with qattn: QATTN_VAD_MODEL if set, else the installed
 * share/qattn/silero_vad_v6.onnx, else this source tree's models/. Immutable once loaded. */
QATTN_API qattn_status qattn_vad_load(const char *path, qattn_vad **vad);
QATTN_API void qattn_vad_free(qattn_vad *vad);

/* The probabilities of n samples as faster-whisper computes them (vad.py SileroVADModel):
 * the audio padded with zeros to the next multiple of 512 (a whole chunk of them when it is
 * one already), chunk by chunk with the LSTM's state carried, each chunk seeing the previous
 * one's last 64 samples (zeros before the first); and, as faster-whisper's in-place write
 * through a numpy view does, the last chunk's last 64 samples zeroed. probs holds
 * qattn_vad_probability_count(n) = n / 512 + 1 floats. */
QATTN_API size_t qattn_vad_probability_count(size_t samples);
QATTN_API qattn_status qattn_vad_probabilities(const qattn_vad *vad, const float *samples,
                                               size_t n, float *probs);

/* The same network over audio that arrives in pieces: each feed writes the probability of
 * every 512-sample chunk it completes (at most (buffered + n) / 512; *n_probs how many),
 * the state and the context carried from chunk to chunk. The same values as
 * qattn_vad_probabilities for every chunk but the last (which that pads and zeroes). */
typedef struct qattn_vad_stream qattn_vad_stream;
QATTN_API qattn_status qattn_vad_stream_create(const qattn_vad *vad, qattn_vad_stream **stream);
QATTN_API qattn_status qattn_vad_stream_feed(qattn_vad_stream *stream, const float *samples,
                                             size_t n, float *probs, size_t capacity,
                                             size_t *n_probs);
QATTN_API void qattn_vad_stream_free(qattn_vad_stream *stream);

/* faster-whisper's VadOptions, with its defaults (qattn_vad_default_options). */
typedef struct qattn_vad_options {
    size_t struct_size;
    double threshold;               /* 0.5: speech at or above it */
    double neg_threshold;           /* NAN: max(threshold - 0.15, 0.01); silence below it */
    int32_t min_speech_duration_ms; /* 0: shorter spans are dropped */
    double max_speech_duration_s;   /* INFINITY: longer spans are split */
    int32_t min_silence_duration_ms; /* 2000: the silence that ends a span */
    int32_t speech_pad_ms;          /* 400: added on each side */
} qattn_vad_options;
QATTN_API qattn_vad_options qattn_vad_default_options(void);

typedef struct qattn_speech_span {
    int64_t start, end; /* samples at 16 kHz, end exclusive */
} qattn_speech_span;

/* The speech spans of n_samples samples whose probabilities are probs (n_probs of them,
 * qattn_vad_probabilities'), as faster-whisper's get_speech_timestamps finds them; options
 * NULL = the defaults. Writes at most capacity spans and sets *n_spans to the full count
 * (at most 2 n_probs + 1; capacity 0 sizes the array, like snprintf). */
QATTN_API qattn_status qattn_vad_speech_spans(const float *probs, size_t n_probs, size_t n_samples,
                                              const qattn_vad_options *options,
                                              qattn_speech_span *spans, size_t capacity,
                                              size_t *n_spans);

/* ---------------------------------------------------------------------------------------
 * Speech to text: a whole Whisper model (encoder, decoder, vocabulary) and transcription as
 * faster-whisper does it (docs/whisper-facts.md, "Decoding"; docs/transcribe.md).
 * ------------------------------------------------------------------------------------- */

typedef struct qattn_whisper qattn_whisper;

/*
 * Loads the model at `path`, in any of the encoder's formats with its decoder and vocabulary:
 * a CTranslate2 directory (model.bin, config.json, vocabulary.*), a Hugging Face directory or
 * .safetensors file (config.json, tokenizer.json and generation_config.json beside it), or a
 * whisper.cpp ggml file (f32/f16; its vocabulary inside, special tokens in whisper.cpp's layout).
 * params: precision and threads of both halves (int8: the encoder's INT8 path and the
 * decoder's INT8 GEMMs; f32: float throughout); NULL = qattn_encoder_default_params().
 * Immutable once loaded: threads may transcribe with one model at the same time.
 */
QATTN_API qattn_status qattn_whisper_load(const char *path, const qattn_encoder_params *params,
                                          qattn_whisper **whisper);
QATTN_API void qattn_whisper_free(qattn_whisper *whisper);
QATTN_API int qattn_whisper_is_multilingual(const qattn_whisper *whisper);
/* The tokens the decoding suppresses: at_begin 0, at every step (the non-speech symbols and
 * the special tokens, faster-whisper's get_suppressed_tokens for suppress_tokens=[-1]);
 * at_begin 1, those the first step suppresses besides (a blank and <|endoftext|>). Returns
 * the count and points *ids at them (owned by the model, unordered, possibly repeated); 0 and
 * NULL for a NULL model. */
QATTN_API int32_t qattn_whisper_suppressed_tokens(const qattn_whisper *whisper, int at_begin,
                                                  const int32_t **ids);

typedef enum qattn_task { QATTN_TASK_TRANSCRIBE = 0, QATTN_TASK_TRANSLATE = 1 } qattn_task;

/* A word of a segment (word_timestamps). Fixed: a later field would come as another array,
 * so callers may index segment->words. */
typedef struct qattn_word {
    double start, end;       /* seconds */
    const char *word;        /* UTF-8 with its leading space, punctuation merged in */
    float probability;       /* the mean of its tokens' probabilities */
} qattn_word;

typedef struct qattn_segment {
    size_t struct_size;      /* sizeof(qattn_segment) of the library that made it */
    int32_t id;              /* 1, 2, ... */
    int32_t seek;            /* the window's first frame (10 ms each) */
    double start, end;       /* seconds */
    const char *text;        /* UTF-8 as decoded (a leading space before the first word) */
    const int32_t *tokens;   /* the segment's tokens, timestamps included */
    int32_t n_tokens;
    float temperature, avg_logprob, compression_ratio, no_speech_prob; /* of its window */
    const qattn_word *words; /* word_timestamps: its words (none: NULL and 0) */
    int32_t n_words;
    char language[16];       /* its window's language code ("en"; multilingual: detected on it) */
} qattn_segment;

/* Called with each segment as soon as its window is decoded; nonzero stops the transcription
 * (qattn_whisper_transcribe then returns QATTN_CANCELLED with the segments so far). */
typedef int (*qattn_segment_callback)(const qattn_segment *segment, void *user);
/* Called after each window with the seconds of audio done and in all. */
typedef void (*qattn_progress_callback)(double done, double total, void *user);

typedef struct qattn_transcribe_params {
    size_t struct_size;          /* set by qattn_transcribe_default_params */
    const char *language;        /* "en", "de", ...; NULL or "auto": detected (multilingual) */
    qattn_task task;
    int32_t beam_size;           /* 5; 1 = greedy */
    int32_t best_of;             /* 5: samples drawn at temperatures above 0 */
    float patience;              /* 1 */
    float length_penalty;        /* 1: score = sum of log-probabilities / length^penalty */
    float temperature;           /* 0: the first temperature */
    float temperature_increment; /* 0.2: the fallback's step up to 1.0; 0 = no fallback */
    float compression_ratio_threshold; /* 2.4 (<= 0: not checked) */
    float log_prob_threshold;    /* -1 (NAN: not checked) */
    float no_speech_threshold;   /* 0.6 (NAN: not checked) */
    int32_t condition_on_previous_text; /* 1: the previous windows' text is the prompt */
    float prompt_reset_on_temperature;  /* 0.5 */
    int32_t suppress_blank;      /* 1 */
    int32_t without_timestamps;  /* 0 */
    float max_initial_timestamp; /* 1.0 s */
    int32_t max_new_tokens;      /* 0: as many as the context allows (224) */
    uint64_t seed;               /* of the sampling at temperatures above 0 */
    qattn_segment_callback on_segment;
    void *on_segment_user;
    qattn_progress_callback on_progress;
    void *on_progress_user;
    /* Text (UTF-8) through the model's tokenizer.json, each stripped of surrounding whitespace
     * and given one leading space, as faster-whisper does; NULL: none. A text option on a
     * model directory without tokenizer.json is QATTN_ERR_ARG. */
    const char *initial_prompt;  /* the previous text of the first window (until a reset) */
    const char *prefix;          /* forced as the first window's first words (returned too) */
    const char *hotwords;        /* put before the previous text of every window ("" = none;
                                  * ignored on the first window when there is a prefix) */
    /* faster-whisper's vad_filter: 1 transcribes only the speech the VAD finds (the spans
     * joined, as faster-whisper's collect_chunks joins them), segment times mapped back to the
     * audio's (its restore_speech_timestamps, rounded to 10 ms); the whole audio is kept until
     * finish, when the VAD runs, so a session decodes nothing before it. */
    int32_t vad_filter;           /* 0 */
    qattn_vad_options vad_parameters; /* qattn_vad_default_options() */
    const qattn_vad *vad;         /* NULL: the model that ships with qattn, loaded per session */
    /* faster-whisper's word_timestamps: each segment's words with their start, end and
     * probability (the alignment heads' cross-attention over the window's text, median
     * filter and dynamic time warping, as openai whisper's timing.py; words and punctuation
     * merged as faster-whisper; docs/transcribe.md), the segments' times and the next
     * window's start moved to the words as faster-whisper moves them. */
    int32_t word_timestamps;      /* 0 */
    const char *prepend_punctuations; /* NULL: "\"'“¿([{-" */
    const char *append_punctuations;  /* NULL: "\"'.。,，!！?？:：”)]}、" */
    /* The decoder heads the words follow: NULL takes the model's (its config.json or
     * generation_config.json; a ggml file's size; else every head of the last half of the
     * layers); a model name ("tiny.en" .. "large-v3-turbo": large-v1 and large-v2 share a
     * ggml shape, v2's heads are the default) or "layer:head,layer:head,...". */
    const char *alignment_heads;
    /* faster-whisper's hallucination_silence_threshold, with word_timestamps: a segment whose
     * words look invented (improbable, under 0.133 s or over 2 s) that sits in more than this
     * many seconds of silence is dropped with the rest of its window, and decoding goes on
     * after it (NAN: off, the default). */
    float hallucination_silence_threshold;
    /* faster-whisper's clip_timestamps: the parts of the audio to transcribe, in seconds,
     * start, end, start, end, ... (an odd count: the last clip runs to the end of the audio;
     * each time rounded to a 10 ms frame as faster-whisper rounds it). Each clip is decoded
     * window by window from its start, no window crossing its end; clips may overlap or go
     * back. NULL or 0: all of the audio. With clips, vad_filter is ignored (faster-whisper
     * ignores it) and the language is detected from the first clip's start. Copied by
     * qattn_session_create. */
    const double *clip_timestamps;
    int32_t n_clip_timestamps;
    /* CTranslate2's decoding options as faster-whisper passes them (docs/transcribe.md): */
    float repetition_penalty;        /* 1: off; above 1 makes the tokens already in the
                                      * window's sequence less likely */
    int32_t no_repeat_ngram_size;    /* 0: off; n: no n tokens in a row twice in a window */
    /* faster-whisper's multilingual: the language detected again on every window, its
     * segments in it (qattn_segment.language); multilingual models only (else ignored). */
    int32_t multilingual;            /* 0 */
    /* The language detection (language NULL or "auto", a multilingual model), as
     * faster-whisper's detect_language: the 30 s windows from the start (of the first clip),
     * at most language_detection_segments of them, stop at the first whose likeliest language
     * is more probable than language_detection_threshold; when none is, the language most
     * windows chose (its highest probability). */
    int32_t language_detection_segments; /* 1 */
    float language_detection_threshold;  /* 0.5 */
    /* Batched transcription, as faster-whisper's BatchedInferencePipeline: the speech the VAD
     * finds (vad_filter; the pipeline's VAD defaults are min_silence_duration_ms 160 and
     * max_speech_duration_s 30) packed in order into chunks of at most 30 s (the silence
     * between spans left out); else each clip of clip_timestamps a chunk (the VAD not run;
     * an odd count's last clip to the audio's end), else the whole audio one chunk (a chunk
     * past 30 s decoded window after window; faster-whisper's pipeline keeps its first 30 s);
     * each chunk's log-mel computed on its own, and
     * batch_size chunks encoded and decoded side by side, each with the same prompt
     * (initial_prompt and hotwords; no previous text, no prefix). Unlike faster-whisper's
     * pipeline, every chunk keeps the temperature fallback and the no-speech skip of the
     * sequential path, and with timestamps a chunk's unfinished last segment is decoded again
     * from its last timestamp (a group of batch_size chunks is decoded until each is done,
     * then given in order). The language is detected on the chunks' log-mel joined.
     * word_timestamps as the pipeline's: each window's words aligned on its own encoder
     * output. Not with hallucination_silence_threshold (QATTN_ERR_ARG).
     * 0: sequential windows (default). */
    int32_t batch_size;
} qattn_transcribe_params;

/* faster-whisper's defaults (WhisperModel.transcribe), as commented above. */
QATTN_API qattn_transcribe_params qattn_transcribe_default_params(void);

typedef struct qattn_transcript qattn_transcript;

#define QATTN_MAX_LANGUAGES 128 /* Whisper's models have 99 or 100 */

typedef struct qattn_language_probability {
    char language[16];            /* the code, e.g. "de" */
    float probability;
} qattn_language_probability;

typedef struct qattn_transcript_info {
    size_t struct_size;           /* the caller's sizeof(qattn_transcript_info) */
    char language[16];            /* the code, e.g. "en" */
    float language_probability;   /* 1 when given or English-only */
    double duration;              /* seconds of audio */
    int32_t n_segments;
    double duration_after_vad;    /* seconds of it transcribed: duration without vad_filter */
    /* a detected language: every language's probability on the window that decided, likeliest
     * first (faster-whisper's all_language_probs); none (0) when given or English-only */
    int32_t n_language_probs;
    qattn_language_probability all_language_probs[QATTN_MAX_LANGUAGES];
} qattn_transcript_info;

/*
 * A transcription session: the one way audio becomes segments (qattn_whisper_transcribe is
 * a session fed everything at once). Pull-based: the caller's loop is the scheduler, so a
 * generator, a server's stream and cancellation need no threads of their own.
 *
 *   qattn_session_create(model, params, &s)   params: NULL = the defaults; an impossible
 *                                             option fails here (QATTN_ERR_ARG)
 *   qattn_session_feed(s, samples, n)         16 kHz mono, pieces of any size, as it comes
 *   qattn_session_finish(s)                   no more audio: the last window may be decoded
 *   qattn_session_next(s, &segment)           decodes as little as it must to give the next
 *                                             segment: QATTN_OK with it, QATTN_AGAIN when it
 *                                             needs more audio first (before finish),
 *                                             QATTN_DONE when all of it has been given
 *   qattn_session_cancel(s)                   from any thread: a next that is running stops
 *                                             within one decoder step or one encoder stage
 *                                             and returns QATTN_CANCELLED, as does every
 *                                             later call (a feed or finish already running
 *                                             completes: they only compute the log-mel)
 *   qattn_session_free(s)
 *
 * A session owns its memory (audio not yet decoded, the log-mel of the windows to come, the
 * decoder's state); many sessions may run on one model at once, each in its own thread. A
 * session is used by one thread at a time, but for qattn_session_cancel.
 *
 * Whisper's log-mel clamps every value at the loudest of the whole audio minus 8 (log10
 * units). After finish the session knows the whole audio, so feeding everything, finishing
 * and then pulling gives exactly qattn_whisper_transcribe's segments. Before finish a window
 * is decoded once its own 30 s of audio are fed (all its frames final: a full window in the
 * finished audio too), with the clamp at the loudest value fed so far: the same result
 * whenever the loudest part of the audio has already been fed, nearly the same otherwise
 * (only values more than 8 below the final maximum change).
 *
 * The segment a next gives is valid until the session's next call (copy what you keep).
 * Language detection (multilingual models without a language) runs on the first window, so
 * qattn_session_get_info's language is known once a next has given a segment, AGAIN after
 * 30 s, or DONE.
 */
typedef struct qattn_session qattn_session;
QATTN_API qattn_status qattn_session_create(const qattn_whisper *whisper,
                                            const qattn_transcribe_params *params,
                                            qattn_session **session);
/* Fails (QATTN_ERR_ARG) after finish; non-finite samples are QATTN_ERR_VALUE (none kept). */
QATTN_API qattn_status qattn_session_feed(qattn_session *session, const float *samples,
                                          size_t n_samples);
QATTN_API qattn_status qattn_session_finish(qattn_session *session);
QATTN_API qattn_status qattn_session_next(qattn_session *session, const qattn_segment **segment);
/* The language (detected or given), its probability, the duration fed so far, and the
 * segments given so far. */
QATTN_API qattn_status qattn_session_get_info(const qattn_session *session,
                                              qattn_transcript_info *info);
/* Safe to call from another thread while a next or collect runs: the decoding stops within
 * one decoder step and they return QATTN_CANCELLED. */
QATTN_API void qattn_session_cancel(qattn_session *session);
QATTN_API void qattn_session_free(qattn_session *session);
/* Pulls the rest of the session's segments (after finish) into a new transcript with the
 * session's info, as qattn_whisper_transcribe does: QATTN_OK when all are decoded; when
 * on_segment asked to stop, QATTN_CANCELLED with *transcript holding the segments so far;
 * else (qattn_session_cancel, an error) the status and *transcript NULL. */
QATTN_API qattn_status qattn_session_collect(qattn_session *session, qattn_transcript **transcript);

/*
 * Transcribes 16 kHz mono samples (qattn_audio_load) of any length: 30 s windows seeking on
 * the last timestamp, the previous text as prompt, temperature fallback, segments as
 * faster-whisper makes them (empty ones dropped); a session fed everything at once.
 * params: NULL = the defaults. An unknown language, a language or translation asked of an
 * English-only model, or an impossible option is QATTN_ERR_ARG; *transcript is then NULL.
 * When on_segment returns nonzero, the call returns QATTN_CANCELLED and *transcript holds the
 * segments so far (free it then too). Free the transcript with qattn_transcript_free.
 */
QATTN_API qattn_status qattn_whisper_transcribe(const qattn_whisper *whisper, const float *samples,
                                                size_t n_samples,
                                                const qattn_transcribe_params *params,
                                                qattn_transcript **transcript);
QATTN_API qattn_status qattn_transcript_get_info(const qattn_transcript *transcript,
                                                 qattn_transcript_info *info);
/* Segment i (0-based) or NULL; valid until the transcript is freed. */
QATTN_API const qattn_segment *qattn_transcript_segment(const qattn_transcript *transcript,
                                                        int32_t i);
QATTN_API void qattn_transcript_free(qattn_transcript *transcript);

/* ---------------------------------------------------------------------------------------
 * Audio in: decoding, resampling, Whisper's log-mel spectrogram.
 * ------------------------------------------------------------------------------------- */

#define QATTN_SAMPLE_RATE 16000
#define QATTN_MEL_HOP 160          /* samples per mel frame */
#define QATTN_WINDOW_SAMPLES 480000 /* one 30 s window */
#define QATTN_WINDOW_FRAMES 3000

/*
 * Decodes an audio file (anything libsndfile reads: WAV, FLAC, Ogg/Vorbis, Opus, MP3, ...),
 * averages its channels to mono and resamples it to 16 kHz (libsoxr, high quality).
 * *samples is the caller's, to free with qattn_audio_free. Unreadable, unsupported or
 * truncated files fail with QATTN_ERR_IO and a message naming the file and the reason.
 */
QATTN_API qattn_status qattn_audio_load(const char *path, float **samples, size_t *count);
/* The same from a file's bytes in memory (an upload): size bytes at data. max_seconds > 0
 * refuses longer audio (QATTN_ERR_SIZE, before decoding it); 0: the library's limit (4 h).
 * Empty, unreadable or truncated bytes fail with QATTN_ERR_IO and a message. */
QATTN_API qattn_status qattn_audio_load_memory(const void *data, size_t size, double max_seconds,
                                               float **samples, size_t *count);
QATTN_API void qattn_audio_free(float *samples);

/* Frames of the log-mel spectrogram of `samples` samples: samples / 160. */
QATTN_API size_t qattn_log_mel_frames(size_t samples);

/*
 * Whisper's log-mel spectrogram of 16 kHz mono audio (n_fft 400, hop 160, periodic Hann,
 * reflect padding, Slaney mel filters, log10 clamped at 1e-10, floored at max - 8, then
 * (x + 4) / 4), into out[n_mels][qattn_log_mel_frames(samples)]. Needs more than 200
 * samples. threads: 0 = one per CPU.
 */
QATTN_API qattn_status qattn_log_mel(const float *audio, size_t samples, int32_t n_mels, int32_t threads,
                           float *out);

/*
 * Whisper's windowing of audio of any length (openai/whisper transcribe.py), in two steps:
 *
 * 1. qattn_log_mel_padded: the log-mel spectrogram of the audio followed by 30 s of silence,
 *    out[n_mels][qattn_log_mel_padded_frames(samples)]; its first qattn_log_mel_frames(samples)
 *    frames hold the audio (the silence makes the last of them see zeros, not a reflection).
 *    Any number of samples, 0 included.
 * 2. qattn_encoder_windows: `count` consecutive windows of the encoder's input from a log-mel
 *    of any length: window i is frames [start + i W, start + (i + 1) W) of mel
 *    ([n_mels][stride] floats, of which the first `frames` hold audio), each frame at or past
 *    `frames` set to 0 (Whisper's pad_or_trim). W is the model's window length, 2 n_ctx
 *    (3000 for every released Whisper), so out is [count][n_mels][W], ready for
 *    qattn_encoder_run. n_mels must be the model's (QATTN_ERR_ARG otherwise).
 * qattn_encoder_window_count(enc, frames) = ceil(frames / W): the windows that hold audio.
 */
QATTN_API size_t qattn_log_mel_padded_frames(size_t samples);
QATTN_API qattn_status qattn_log_mel_padded(const float *audio, size_t samples, int32_t n_mels,
                                            int32_t threads, float *out);
QATTN_API size_t qattn_encoder_window_count(const qattn_encoder *encoder, size_t frames);
QATTN_API qattn_status qattn_encoder_windows(const qattn_encoder *encoder, const float *mel,
                                             int32_t n_mels, size_t frames, size_t stride,
                                             size_t start, int32_t count, float *out);

/* The mel filter bank, filters[n_mels][201], as librosa.filters.mel(sr=16000, n_fft=400,
 * n_mels) computes it (what Whisper ships in mel_filters.npz). */
QATTN_API qattn_status qattn_mel_filters(int32_t n_mels, float *filters);

#ifdef __cplusplus
}
#endif

#endif /* QATTN_H */
