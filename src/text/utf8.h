/* UTF-8 as Python reads it: code points with bad bytes replaced (bytes.decode(errors=
 * "replace")), str.isspace and str.strip. */
#ifndef QATTN_TEXT_UTF8_H
#define QATTN_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define QATTN_REPLACEMENT_CHARACTER 0xFFFDu

/* The code points of n bytes into out (room for n): each maximal ill-formed subpart becomes
 * one U+FFFD, as Python's decoder does. Returns their count. */
size_t qattn_utf8_decode(const char *s, size_t n, uint32_t *out);
/* The UTF-8 of n code points into out (room for 4 n); returns the bytes written. */
size_t qattn_utf8_encode(const uint32_t *cp, size_t n, char *out);
/* Python's str.isspace() of one code point. */
int qattn_unicode_is_space(uint32_t c);
/* [*a, *b) of the NUL-terminated text without the whitespace around it (str.strip()). */
void qattn_utf8_strip(const char *text, size_t *a, size_t *b);

#endif
