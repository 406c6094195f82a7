/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The detach key. The spec ("C-\", "C-]", "M-d", "F12") is parsed by
 * libtermkey, turned into the bytes a terminal sends for it, and checked by
 * decoding those bytes with libtermkey again. Matching input against the
 * bytes is a pure function: only bytes that could begin the key are held
 * back, everything else passes through at once.
 */

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <termkey.h>
#include <curses.h>
#include <term.h>

#include "lispd.h"

static int
key_utf8(uint8_t *out, long cp)
{
	if (cp < 0x80) {
		out[0] = cp;
		return (1);
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3f);
		return (2);
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return (3);
	}
	out[0] = 0xf0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return (4);
}

/* The bytes a terminal sends for a key, or -1 if we cannot say. */
static int
key_encode(const TermKeyKey *k, uint8_t *out, size_t size)
{
	size_t	 n = 0;
	char	 cap[8];
	char	*s;
	long	 cp;

	if (k->modifiers & TERMKEY_KEYMOD_ALT)
		out[n++] = 0x1b;
	switch (k->type) {
	case TERMKEY_TYPE_UNICODE:
		cp = k->code.codepoint;
		if (k->modifiers & TERMKEY_KEYMOD_CTRL) {
			if (cp >= 'a' && cp <= 'z')
				cp -= 'a' - 'A';
			if (cp == '?')
				out[n++] = 0x7f;
			else if (cp == ' ')
				out[n++] = 0;
			else if (cp >= '@' && cp <= '_')
				out[n++] = cp & 0x1f;
			else
				return (-1);
		} else if (k->modifiers & TERMKEY_KEYMOD_SHIFT)
			return (-1);
		else
			n += key_utf8(out + n, cp);
		return ((int)n);
	case TERMKEY_TYPE_KEYSYM:
		if (k->modifiers & ~TERMKEY_KEYMOD_ALT)
			return (-1);
		switch (k->code.sym) {
		case TERMKEY_SYM_ESCAPE:
			out[n++] = 0x1b;
			return ((int)n);
		case TERMKEY_SYM_TAB:
			out[n++] = '\t';
			return ((int)n);
		default:
			return (-1);
		}
	case TERMKEY_TYPE_FUNCTION:
		if (k->modifiers != 0 || k->code.number < 1 ||
		    k->code.number > 63)
			return (-1);
		snprintf(cap, sizeof cap, "kf%d", k->code.number);
		s = tigetstr(cap);
		if (s == NULL || s == (char *)-1 || strlen(s) > size - n)
			return (-1);
		memcpy(out + n, s, strlen(s));
		return ((int)(n + strlen(s)));
	default:
		return (-1);
	}
}

/*
 * Parse spec for the terminal type term. Returns 0, or -1 if libtermkey
 * does not parse it or it is not a key we can recognise in the byte stream.
 */
int
key_parse(struct key *key, const char *spec, const char *term)
{
	TermKey		*tk;
	TermKeyKey	 want, got;
	const char	*end;
	uint8_t		 seq[KEY_MAXLEN];
	int		 n, err, ok = -1;

	memset(key, 0, sizeof *key);
	if (term == NULL || *term == '\0')
		term = "xterm";
	if (setupterm((char *)term, -1, &err) != OK)
		setupterm((char *)"xterm", -1, &err);
	if ((tk = termkey_new_abstract(term, TERMKEY_FLAG_NOTERMIOS)) == NULL &&
	    (tk = termkey_new_abstract("xterm", TERMKEY_FLAG_NOTERMIOS)) == NULL)
		return (-1);

	/*
	 * The whole spec must parse. Compare pointers, never dereference:
	 * libtermkey returns a pointer past the string for "C-".
	 */
	end = termkey_strpkey(tk, spec, &want, TERMKEY_FORMAT_ALTISMETA);
	if (end != spec + strlen(spec))
		end = termkey_strpkey(tk, spec, &want, 0);
	if (end != spec + strlen(spec))
		goto out;
	if ((n = key_encode(&want, seq, sizeof seq)) <= 0)
		goto out;

	/* What libtermkey decodes the bytes as must be the key asked for. */
	termkey_push_bytes(tk, (const char *)seq, n);
	if (termkey_getkey_force(tk, &got) != TERMKEY_RES_KEY ||
	    termkey_keycmp(tk, &want, &got) != 0)
		goto out;
	ok = key_set(key, seq, n);
out:
	termkey_destroy(tk);
	return (ok);
}

int
key_set(struct key *key, const uint8_t *seq, size_t len)
{
	if (len == 0 || len > KEY_MAXLEN)
		return (-1);
	memcpy(key->seq, seq, len);
	key->len = len;
	key->nheld = 0;
	return (0);
}

/*
 * Scan input for the key. Bytes to pass on are appended to out (which has
 * room for len + KEY_MAXLEN bytes) and counted in *outlen. Returns the
 * number of input bytes consumed up to and including the key if it was
 * found, else 0 (everything consumed; a prefix of the key may be held).
 */
int
key_scan(struct key *key, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen)
{
	size_t	i;

	*outlen = 0;
	for (i = 0; i < len; i++) {
		key->held[key->nheld++] = in[i];
		for (;;) {
			if (memcmp(key->held, key->seq, key->nheld) == 0) {
				if (key->nheld == key->len) {
					key->nheld = 0;
					return ((int)(i + 1));
				}
				break;
			}
			/* Not a prefix: let the first byte go, retry the rest. */
			out[(*outlen)++] = key->held[0];
			memmove(key->held, key->held + 1, --key->nheld);
			if (key->nheld == 0)
				break;
		}
	}
	return (0);
}

/* Release held bytes (the rest of the key did not come in time). */
size_t
key_flush(struct key *key, uint8_t *out)
{
	size_t	n = key->nheld;

	memcpy(out, key->held, n);
	key->nheld = 0;
	return (n);
}
