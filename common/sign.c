/*
 * sign.c - Standard Webhooks and codeQ signatures (see sign.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sign.h"

#define WHSEC_PREFIX "whsec_"

int
sign_base64_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	if (outlen < 4 * ((len + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}

int
sign_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t outlen)
{
	size_t pad = 0;
	int n;

	/* EVP_DecodeBlock wants whole quanta and counts the padding as
	 * zero bytes: check the shape first, then take the padding off. */
	if (len == 0 || len % 4 != 0 || outlen < len / 4 * 3)
		return -1;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -1;
	return n - (int)pad;
}

void
sign_key_clear(struct sign_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int
sign_key_parse(const char *secret, struct sign_key *k, char *err,
    size_t errlen)
{
	const char *s = secret, *e;
	size_t len, plen = strlen(WHSEC_PREFIX);
	int n;

	memset(k, 0, sizeof(*k));
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	len = (size_t)(e - s);
	if (len == 0) {
		snprintf(err, errlen, "secret is empty");
		return -1;
	}
	if (len >= sizeof(k->secret)) {
		snprintf(err, errlen, "secret is longer than %zu bytes",
		    sizeof(k->secret) - 1);
		return -1;
	}
	memcpy(k->secret, s, len);
	k->secret[len] = '\0';
	k->secret_len = len;
	if (len > plen && strncmp(s, WHSEC_PREFIX, plen) == 0) {
		n = sign_base64_decode(s + plen, len - plen, k->key,
		    sizeof(k->key));
		if (n <= 0) {
			sign_key_clear(k);
			snprintf(err, errlen, "secret: whsec_ part is not "
			    "valid base64");
			return -1;
		}
		k->key_len = (size_t)n;
	} else {
		memcpy(k->key, s, len);
		k->key_len = len;
	}
	return 0;
}

int
sign_key_from_file(const char *path, struct sign_key *k, char *err,
    size_t errlen)
{
	char buf[SIGN_SECRET_MAX + 2];
	FILE *f;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: empty secret file", path);
		return -1;
	}
	fclose(f);
	rc = sign_key_parse(buf, k, err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
sign_key_from_env(const char *name, struct sign_key *k, char *err,
    size_t errlen)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		snprintf(err, errlen, "environment variable %s is not set",
		    name);
		return -1;
	}
	return sign_key_parse(v, k, err, errlen);
}

/* HMAC-SHA256 over the concatenation of up to three parts separated by
 * dots; the parts are joined in one buffer for the one-shot HMAC(). */
static int
hmac3(const unsigned char *key, size_t klen, const char *a, size_t alen,
    const char *b, size_t blen, const char *c, size_t clen,
    unsigned char mac[32])
{
	size_t n = alen + 1 + blen + (c ? 1 + clen : 0), off = 0;
	unsigned int mlen = 0;
	unsigned char *buf;

	if ((buf = malloc(n ? n : 1)) == NULL)
		return -1;
	memcpy(buf, a, alen);
	off = alen;
	buf[off++] = '.';
	memcpy(buf + off, b, blen);
	off += blen;
	if (c) {
		buf[off++] = '.';
		memcpy(buf + off, c, clen);
		off += clen;
	}
	if (HMAC(EVP_sha256(), key, (int)klen, buf, off, mac, &mlen) == NULL
	    || mlen != 32) {
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

int
sign_standard(const struct sign_key *k, const char *id, int64_t ts,
    const char *body, size_t len, char out[SIGN_STD_MAX])
{
	unsigned char mac[32];
	char tsbuf[24];

	snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
	if (hmac3(k->key, k->key_len, id, strlen(id), tsbuf, strlen(tsbuf),
	    body, len, mac) < 0)
		return -1;
	memcpy(out, "v1,", 3);
	return sign_base64_encode(mac, sizeof(mac), out + 3, SIGN_STD_MAX - 3);
}

int
sign_codeq(const struct sign_key *k, int64_t ts, const char *body,
    size_t len, char out[SIGN_HEX_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[32];
	char tsbuf[24];
	size_t i;

	snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
	if (hmac3((const unsigned char *)k->secret, k->secret_len, tsbuf,
	    strlen(tsbuf), body, len, NULL, 0, mac) < 0)
		return -1;
	for (i = 0; i < sizeof(mac); i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	return 0;
}
