/* UTF-8 as Python reads it (utf8.h). */
#include <string.h>

#include "text/utf8.h"

/* The continuation range allowed after lead byte b at position k (1-based) of its sequence
 * (Unicode 15, table 3-7: well-formed byte sequences), and the sequence's length (0: not a
 * lead byte). */
static int sequence_length(unsigned char b)
{
    return b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3
                                                       : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
}

static int continues(unsigned char lead, int k, unsigned char c)
{
    unsigned char lo = 0x80, hi = 0xBF;
    if (k == 1)
        lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80,
        hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    return c >= lo && c <= hi;
}

size_t qattn_utf8_decode(const char *text, size_t n, uint32_t *out)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        const int len = sequence_length(s[i]);
        if (len == 0) {
            out[count++] = QATTN_REPLACEMENT_CHARACTER, i++;
            continue;
        }
        uint32_t c = len == 1 ? s[i] : s[i] & (0x7Fu >> len);
        int k = 1;
        while (k < len && i + k < n && continues(s[i], k, s[i + k]))
            c = c << 6 | (s[i + k] & 0x3Fu), k++;
        out[count++] = k == len ? c : QATTN_REPLACEMENT_CHARACTER; /* the maximal subpart */
        i += (size_t)k;
    }
    return count;
}

size_t qattn_utf8_encode(const uint32_t *cp, size_t n, char *text)
{
    unsigned char *out = (unsigned char *)text;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const uint32_t c = cp[i];
        if (c < 0x80) {
            out[len++] = (unsigned char)c;
        } else if (c < 0x800) {
            out[len++] = (unsigned char)(0xC0 | c >> 6);
            out[len++] = (unsigned char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[len++] = (unsigned char)(0xE0 | c >> 12);
            out[len++] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
            out[len++] = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            out[len++] = (unsigned char)(0xF0 | c >> 18);
            out[len++] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
            out[len++] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
            out[len++] = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    return len;
}

int qattn_unicode_is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The code point of the well-formed or not sequence of len bytes at s (U+FFFD if not). */
static uint32_t code_point(const unsigned char *s, size_t len)
{
    uint32_t c[4];
    return qattn_utf8_decode((const char *)s, len, c) == 1 ? c[0] : QATTN_REPLACEMENT_CHARACTER;
}

void qattn_utf8_strip(const char *text, size_t *a, size_t *b)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, j = strlen(text);
    while (i < j) {
        size_t len = s[i] < 0x80 ? 1 : s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
        if (len > j - i || !qattn_unicode_is_space(code_point(s + i, len)))
            break;
        i += len;
    }
    while (j > i) {
        size_t k = j - 1;
        while (k > i && (s[k] & 0xC0) == 0x80 && j - k < 4)
            k--;
        if (!qattn_unicode_is_space(code_point(s + k, j - k)))
            break;
        j = k;
    }
    *a = i, *b = j;
}
