#include "shoal/http/chunked.h"

#include "lex.h"

/* A chunk-size line with its extensions, and a whole trailer section, may not exceed this:
 * neither counts towards body_bytes, so without a bound a client could stream them forever. */
#define CHUNK_LINE_MAX 4096
/* 16 hex digits hold any uint64_t; more could only overflow. */
#define CHUNK_SIZE_DIGITS_MAX 16

enum chunked_state {
	CH_SIZE = 0, /* what shoal_http_chunked_init sets */
	CH_EXT_BWS,
	CH_EXT_NAME_START,
	CH_EXT_NAME,
	CH_EXT_NAME_END,
	CH_EXT_VALUE_START,
	CH_EXT_TOKEN,
	CH_EXT_QUOTED,
	CH_EXT_QUOTED_PAIR,
	CH_EXT_ITEM_END, /* after the size, a closing quote: BWS, ';' or CR may follow */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_LAST_LF,
	CH_DONE,
};

void shoal_http_chunked_init(struct shoal_http_chunked *dec)
{
	dec->state = CH_SIZE;
	dec->remaining = 0;
	dec->line_len = 0;
}

static int ext_item_end(unsigned char c)
{
	if (lex_is_ows(c))
		return CH_EXT_BWS;
	if (c == ';')
		return CH_EXT_NAME_START;
	return c == '\r' ? CH_SIZE_LF : -1;
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), RFC 9112 7.1.1 */
static int ext_step(int state, unsigned char c)
{
	switch (state) {
	case CH_EXT_BWS:
		return lex_is_ows(c) ? CH_EXT_BWS : c == ';' ? CH_EXT_NAME_START : -1;
	case CH_EXT_NAME_START:
		return lex_is_ows(c) ? CH_EXT_NAME_START : lex_is_tchar(c) ? CH_EXT_NAME : -1;
	case CH_EXT_NAME:
		if (lex_is_tchar(c))
			return CH_EXT_NAME;
		if (c == '=')
			return CH_EXT_VALUE_START;
		return lex_is_ows(c) ? CH_EXT_NAME_END : ext_item_end(c);
	case CH_EXT_NAME_END:
		if (c == '=')
			return CH_EXT_VALUE_START;
		return lex_is_ows(c) ? CH_EXT_NAME_END : c == ';' ? CH_EXT_NAME_START : -1;
	case CH_EXT_VALUE_START:
		if (c == '"')
			return CH_EXT_QUOTED;
		return lex_is_ows(c) ? CH_EXT_VALUE_START : lex_is_tchar(c) ? CH_EXT_TOKEN : -1;
	case CH_EXT_TOKEN:
		return lex_is_tchar(c) ? CH_EXT_TOKEN : ext_item_end(c);
	case CH_EXT_QUOTED:
		if (c == '"')
			return CH_EXT_ITEM_END;
		if (c == '\\')
			return CH_EXT_QUOTED_PAIR;
		return lex_is_field_char(c) ? CH_EXT_QUOTED : -1;
	case CH_EXT_QUOTED_PAIR:
		return lex_is_field_char(c) ? CH_EXT_QUOTED : -1;
	default:
		return ext_item_end(c);
	}
}

static int size_line_step(struct shoal_http_chunked *dec, unsigned char c)
{
	int hex = lex_hex_value(c);

	if (++dec->line_len > CHUNK_LINE_MAX)
		return -1;
	if (dec->state == CH_SIZE && hex >= 0) {
		if (dec->line_len > CHUNK_SIZE_DIGITS_MAX)
			return -1;
		dec->remaining = dec->remaining * 16 + (uint64_t)hex;
		return 0;
	}
	if (dec->state == CH_SIZE_LF) {
		if (c != '\n')
			return -1;
		dec->state = dec->remaining > 0 ? CH_DATA : CH_TRAILER_START;
		dec->line_len = 0;
		return 0;
	}
	if (dec->state == CH_SIZE && dec->line_len == 1)
		return -1;
	dec->state = ext_step(dec->state, c);
	return dec->state < 0 ? -1 : 0;
}

/* The trailer section is counted as a whole in line_len: its fields are thrown away, so
 * only its total size matters. */
static int trailer_step(struct shoal_http_chunked *dec, unsigned char c)
{
	if (++dec->line_len > CHUNK_LINE_MAX)
		return -1;
	switch (dec->state) {
	case CH_TRAILER_START:
		dec->state = c == '\r' ? CH_LAST_LF : lex_is_tchar(c) ? CH_TRAILER_NAME : -1;
		break;
	case CH_TRAILER_NAME:
		dec->state = lex_is_tchar(c) ? CH_TRAILER_NAME : c == ':' ? CH_TRAILER_VALUE : -1;
		break;
	case CH_TRAILER_VALUE:
		if (c == '\r')
			dec->state = CH_TRAILER_LF;
		else
			dec->state = lex_is_field_char(c) ? CH_TRAILER_VALUE : -1;
		break;
	case CH_TRAILER_LF:
		dec->state = c == '\n' ? CH_TRAILER_START : -1;
		break;
	default:
		dec->state = c == '\n' ? CH_DONE : -1;
		break;
	}
	return dec->state < 0 ? -1 : 0;
}

static int byte_step(struct shoal_http_chunked *dec, unsigned char c)
{
	if (dec->state == CH_DATA_CR)
		dec->state = c == '\r' ? CH_DATA_LF : -1;
	else if (dec->state == CH_DATA_LF)
		dec->state = c == '\n' ? CH_SIZE : -1;
	else if (dec->state >= CH_TRAILER_START)
		return trailer_step(dec, c);
	else
		return size_line_step(dec, c);
	return dec->state < 0 ? -1 : 0;
}

int shoal_http_chunked_next(struct shoal_http_chunked *dec, const char *buf, size_t len,
			    size_t *consumed, size_t *data_off, size_t *data_len)
{
	size_t i = 0;

	*data_off = 0;
	*data_len = 0;
	/* A malformed body leaves state negative, so that it stays malformed. */
	if (dec->state < 0) {
		*consumed = 0;
		return -1;
	}
	while (i < len && dec->state != CH_DONE) {
		if (dec->state == CH_DATA) {
			size_t n = len - i < dec->remaining ? len - i : (size_t)dec->remaining;

			*data_off = i;
			*data_len = n;
			i += n;
			dec->remaining -= n;
			if (dec->remaining == 0)
				dec->state = CH_DATA_CR;
			break;
		}
		if (byte_step(dec, (unsigned char)buf[i++]) < 0) {
			dec->state = -1;
			*consumed = i;
			return -1;
		}
	}
	*consumed = i;
	return dec->state == CH_DONE ? 1 : 0;
}

int shoal_http_chunked_skip(struct shoal_http_chunked *dec, const char *buf, size_t len,
			    size_t *consumed, uint64_t *body_bytes)
{
	size_t done = 0, used, off, n;
	int rc;

	/* Each call stops after one run of data, so a body of many chunks takes several. */
	do {
		rc = shoal_http_chunked_next(dec, buf + done, len - done, &used, &off, &n);
		done += used;
		*body_bytes += n;
	} while (rc == 0 && done < len);
	*consumed = done;
	return rc;
}

size_t shoal_http_chunked_size_line(char out[static 20], uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t digits = 1, w;

	for (uint64_t rest = n >> 4; rest > 0; rest >>= 4)
		digits++;
	for (w = digits; w > 0; n >>= 4)
		out[--w] = hex[n & 0xf];
	out[digits] = '\r';
	out[digits + 1] = '\n';
	return digits + 2;
}
