/* utf8.h - private: decoding UTF-8 for the document writers, which must
 * write valid UTF-8 whatever bytes a task name or a file name holds. */
#ifndef AT_UTF8_H
#define AT_UTF8_H

#include <stdint.h>

/* Length (1..4) of the well-formed UTF-8 sequence starting at s, with its
 * code point in *cp; 0 when the bytes at s start none (a stray
 * continuation byte, an overlong form, a surrogate, a value above
 * U+10FFFF, or a sequence cut short, e.g. by the terminating NUL). */
int at__utf8_next(const unsigned char *s, uint32_t *cp);

#endif
